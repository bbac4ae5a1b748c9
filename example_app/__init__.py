"""Linkshelf, billingos's example app: a small SaaS (short links and notes with a JSON API) on Flask
(``python -m example_app``) and FastAPI (``example_app.fastapi_app``), sharing ``example_app.domain``."""

from .app import create_app

__all__ = ["create_app"]
