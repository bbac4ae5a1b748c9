"""CSRF protection without flask-wtf: a per-session token that every unsafe request must echo."""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, current_app, request, session

FIELD = "csrf_token"
EXEMPT = "example_app.csrf_exempt"   # app.extensions key: endpoints that skip the check


def csrf_token() -> str:
    token = session.get(FIELD)
    if not isinstance(token, str):
        token = session[FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS") or request.endpoint in current_app.extensions.get(EXEMPT, ()):
        return
    if (request.endpoint or "").startswith("billingos."):   # billingos's pages check their own tokens
        return
    if request.path.startswith("/api/") and request.headers.get("Authorization"):
        return      # the product's API then authenticates by that token alone, never by the cookie
    expected = session.get(FIELD)
    sent = request.headers.get("X-CSRF-Token") or request.form.get(FIELD)
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(expected, sent):
        abort(400, "The form's security token is missing or stale. Reload the page and try again.")


def init_csrf(app: Flask, *, exempt: set[str] | None = None) -> None:
    """``exempt``: endpoints that authenticate their POSTs another way (billingos's webhook route)."""
    app.extensions[EXEMPT] = frozenset(exempt or ())
    app.before_request(check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
