"""What a page function returns: render a template, redirect, or send a file. Errors are raised as the
usual typed ``BillingError`` (``NotFoundError`` → the styled 404 page) or ``LoginRequired``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AdminRequired", "File", "LoginRequired", "Redirect", "Render", "Result"]


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
    """A download: ``body`` bytes (or an iterable of chunks, streamed) of ``content_type``, saved by the
    browser as ``filename``."""

    body: bytes | Iterable[bytes]
    content_type: str
    filename: str


Result = Render | Redirect | File


class LoginRequired(Exception):
    """Nobody is logged in: the dispatcher answers the host's login redirect or a 401 page."""


class AdminRequired(Exception):
    """No admin: 403 for a logged-in customer, else the host's login redirect or a 401 page."""

    def __init__(self, *, logged_in: bool = False) -> None:
        super().__init__("admins only")
        self.logged_in = logged_in
