"""What a page function returns: render a template, redirect, or send a file. Errors are raised as the
usual typed ``BillingError`` (``NotFoundError`` → the styled 404 page) or ``LoginRequired``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["File", "LoginRequired", "Redirect", "Render", "Result"]


@dataclass(frozen=True)
class Render:
    """Render ``template`` (a name under ``billingos/``) with ``data``, answering ``status``."""

    template: str
    data: dict[str, Any] = field(default_factory=dict)
    status: int = 200


@dataclass(frozen=True)
class Redirect:
    """A redirect (303 after a POST, so the browser follows with a GET)."""

    url: str
    status: int = 303


@dataclass(frozen=True)
class File:
    """A download: ``body`` bytes of ``content_type``, saved by the browser as ``filename``."""

    body: bytes
    content_type: str
    filename: str


Result = Render | Redirect | File


class LoginRequired(Exception):
    """Nobody is logged in: the dispatcher answers the host's login redirect or a 401 page."""
