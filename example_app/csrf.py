"""CSRF protection for Linkshelf's forms, the same on Flask and FastAPI: billingos's signed tokens
(``billingos.pages.Csrf``: itsdangerous, timestamped), keyed on a random id kept in the app's signed session
cookie instead of a cookie of its own. Every unsafe request must echo a token that unsigns to that id."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from billingos.pages import Csrf

FIELD = "csrf_token"        # the form field; the links API takes the same token as X-CSRF-Token
SESSION_KEY = "csrf_id"
MESSAGE = "The form's security token is missing or stale. Reload the page and try again."


class SessionCsrf:
    """Tokens for one app, signed with its secret key. ``session`` is Flask's or Starlette's session."""

    def __init__(self, secret: str | bytes) -> None:
        self._csrf = Csrf(secret)

    def token(self, session: MutableMapping[str, Any]) -> str:
        """A token for the forms of the page being rendered (gives the session its id on first use)."""
        found = Csrf.cookie_id(session.get(SESSION_KEY))
        if found is None:
            found = session[SESSION_KEY] = Csrf.new_id()
        return self._csrf.token(found)

    def valid(self, session: MutableMapping[str, Any], sent: Any) -> bool:
        return self._csrf.valid(session.get(SESSION_KEY), sent if isinstance(sent, str) else None)
