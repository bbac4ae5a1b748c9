"""A small Flask SaaS that uses billingos the way a host app would: ``python -m example_app``."""

from .app import create_app

__all__ = ["create_app"]
