"""``mount_pages``: the one place both adapters build their ``Pages`` from their options."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .. import validation
from ..config import EMULATOR_API_KEY
from ..errors import ConfigurationError
from .core import Pages, Route
from .safety import safe_return_url

if TYPE_CHECKING:
    from ..billing import Billing

__all__ = ["PORTAL_MODES", "mount_pages"]

PORTAL_MODES = ("pages", "stripe", "off")


def mount_pages(billing: Billing, *, prefix: str, render: Callable[[str, dict[str, Any]], str],
                secret_key: str | bytes | None = None, portal_mode: str = "pages", login_url: str | None = None,
                allowed_origins: Iterable[str] = (), return_url: str | None = None,
                publishable_key: str | None = None, extra_routes: Iterable[Route] = ()) -> Pages:
    """The ``Pages`` of one adapter mount: the portal's routes (per ``portal_mode``) plus ``extra_routes``.

    ``secret_key`` signs CSRF tokens; without one it is derived from the Stripe API key (a secret every
    worker shares), or, on the emulator (whose key is public), drawn at random for this mount.
    ``login_url``: where a visitor nobody logged in goes (with ``?next=``), else a 401 page.
    ``return_url``: the "back to the app" link (a path or an allow-listed origin). ``publishable_key``
    (``pk_...``): for Stripe Elements on the "add a card" page with real Stripe."""
    validation.choice(portal_mode, "portal_mode", PORTAL_MODES)
    origins = tuple(_origin(o) for o in allowed_origins)
    for name, value in (("login_url", login_url), ("return_url", return_url)):
        if value is not None and safe_return_url(value, origins) is None:
            raise ConfigurationError(f"{name} must be a path on this site or a URL on allowed_origins, got "
                                     f"{validation.echo(value)}.")
    if publishable_key is not None and not (isinstance(publishable_key, str)
                                            and publishable_key.startswith(("pk_test_", "pk_live_"))):
        raise ConfigurationError("publishable_key must be a Stripe publishable key (pk_test_... or pk_live_...).")
    if secret_key is None and billing.config.api_key == EMULATOR_API_KEY:
        # The emulator's key is public: a token signed with it could be forged by anyone. A random key per
        # mount is safe; tokens then last as long as the process, which is what a demo or a test needs.
        secret_key = secrets.token_hex(32)
    elif secret_key is None:
        secret_key = hmac.new(billing.config.api_key.encode(), b"billingos.pages.csrf",
                              hashlib.sha256).hexdigest()
    elif not isinstance(secret_key, str | bytes) or not secret_key:
        raise ConfigurationError("secret_key must be a non-empty string (use your app's secret key).")
    from .admin import admin_routes
    from .portal import portal_routes
    routes = [*portal_routes(portal_mode), *admin_routes(), *extra_routes]
    return Pages(billing, routes=routes, prefix=prefix, secret_key=secret_key, render=render, login_url=login_url,
                 allowed_origins=origins,
                 options={"portal_mode": portal_mode, "return_url": return_url, "home_url": f"{prefix}/portal/",
                          "publishable_key": publishable_key})


def _origin(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")) or value.count("/") != 2:
        raise ConfigurationError(f"allowed_origins must hold origins like 'https://app.example.com', got "
                                 f"{validation.echo(value)}.")
    return value.rstrip("/")
