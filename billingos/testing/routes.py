"""Where the test kit sends the emulator's webhooks: the host app's own webhook route.

``receiver_for(via)`` turns what a test has at hand into a ``fn(body, headers) -> status`` the emulator
delivers to: a Flask app or its test client, a FastAPI/Starlette app or its ``TestClient`` (any httpx
client), or such a function itself. ``route_path(via)`` finds the path the adapter mounted
(``billingos.webhooks``), so a custom ``BILLINGOS_URL_PREFIX`` or router prefix needs no repeating.

Framework objects are recognised by their shape, so billingos's core imports neither framework.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ..errors import InvalidInputError

__all__ = ["DEFAULT_PATH", "ROUTE_NAME", "TEST_HOST", "receiver_for", "route_path"]

ROUTE_NAME = "billingos.webhooks"      # the endpoint name both adapters give their webhook route
DEFAULT_PATH = "/billing/webhooks"     # both adapters' default mount
TEST_HOST = "http://testserver"        # the host test clients pretend to be; no socket is opened

Receiver = Callable[[bytes, dict[str, str]], int]
_EXPECTED = ("via must be a Flask or FastAPI (Starlette) app, its test client, or a function "
             "(body: bytes, headers: dict) -> HTTP status")


def _is_flask_app(via: Any) -> bool:
    return hasattr(via, "url_map") and callable(getattr(via, "test_client", None))


def _is_werkzeug_client(via: Any) -> bool:
    return hasattr(via, "application") and callable(getattr(via, "open", None))


def _is_httpx_client(via: Any) -> bool:
    return callable(getattr(via, "build_request", None)) and callable(getattr(via, "post", None))


def _is_asgi_app(via: Any) -> bool:
    return hasattr(via, "routes") and hasattr(via, "router") and callable(via)


def _app_of(via: Any) -> Any:
    """The app behind a test client (Flask's ``.application``, Starlette's ``TestClient.app``)."""
    if _is_werkzeug_client(via):
        return via.application
    if _is_httpx_client(via):
        return getattr(via, "app", None)
    return via


def route_path(via: Any) -> str | None:
    """The path of the adapter's webhook route in ``via``'s app, or None when it cannot be read."""
    app = _app_of(via)
    try:
        if _is_flask_app(app):
            return str(app.url_map.bind("testserver").build(ROUTE_NAME, method="POST"))
        if _is_asgi_app(app):
            return str(app.url_path_for(ROUTE_NAME))    # Starlette's reverse routing sees included routers
    except Exception:   # the adapter is not mounted (or under another name): the caller's default applies
        return None
    return None


def receiver_for(via: Any) -> Callable[[str], Receiver]:
    """Given ``via``, a function that binds a route path and returns the emulator's receiver."""
    if isinstance(via, str | bytes | int | float | dict | list | tuple) or via is None:
        raise InvalidInputError(f"{_EXPECTED}, got {type(via).__name__}.", param="via")
    if _is_flask_app(via):
        return _werkzeug(via.test_client())
    if _is_werkzeug_client(via):
        return _werkzeug(via)
    if _is_httpx_client(via):
        return _httpx(via)
    if _is_asgi_app(via):
        from starlette.testclient import TestClient  # the fastapi extra; only reached with an ASGI app
        return _httpx(TestClient(via))
    if callable(via) and _takes_two(via):
        return lambda _path: via
    raise InvalidInputError(f"{_EXPECTED}, got {type(via).__name__}.", param="via")


def _werkzeug(client: Any) -> Callable[[str], Receiver]:
    def bind(path: str) -> Receiver:
        def post(body: bytes, headers: dict[str, str]) -> int:
            return int(client.post(path, data=body, headers=headers, follow_redirects=False).status_code)
        return post
    return bind


def _httpx(client: Any) -> Callable[[str], Receiver]:
    def bind(path: str) -> Receiver:
        def post(body: bytes, headers: dict[str, str]) -> int:
            # Stripe never follows a redirect: a 3xx is a failed delivery, so it must show as one here.
            return int(client.post(path, content=body, headers=headers, follow_redirects=False).status_code)
        return post
    return bind


def _takes_two(fn: Any) -> bool:
    try:
        inspect.signature(fn).bind(b"", {})
    except (TypeError, ValueError):
        return False
    return True


def path_of(url: str) -> str:
    """The path (and query) a delivery to ``url`` is posted to."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
