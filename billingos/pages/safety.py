"""CSRF tokens and return URLs: the two checks every page shares, the same for both adapters.

CSRF is the signed double-submit pattern: the browser holds a random id in a ``SameSite=Lax``, HttpOnly
cookie; every form carries that id signed with the host's secret (itsdangerous, timestamped). A POST is
accepted only when the form's token unsigns (not older than ``max_age``) to the cookie's id. A cross-site
form cannot read the cookie nor forge the signature, and Lax keeps the cookie off cross-site POSTs anyway.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..errors import InvalidInputError

__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "Csrf", "safe_return_url"]

CSRF_COOKIE = "billingos_csrf"
CSRF_FIELD = "csrf_token"
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_\-]{32,64}")
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\\]")


class Csrf:
    """Issues and checks tokens with ``secret`` (bytes or str). ``max_age``: seconds a form stays valid."""

    def __init__(self, secret: str | bytes, *, max_age: int = 12 * 3600) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="billingos.csrf")
        self.max_age = max_age

    @staticmethod
    def cookie_id(cookie: str | None) -> str | None:
        """The browser's id if the cookie holds a well-formed one."""
        return cookie if isinstance(cookie, str) and _COOKIE_VALUE.fullmatch(cookie) else None

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(32)

    def token(self, cookie_id: str) -> str:
        return self._signer.dumps(cookie_id)

    def valid(self, cookie: str | None, token: str | None) -> bool:
        cid = self.cookie_id(cookie)
        if cid is None or not isinstance(token, str) or len(token) > 512:
            return False
        try:
            signed = self._signer.loads(token, max_age=self.max_age)
        except BadSignature:
            return False
        return isinstance(signed, str) and hmac.compare_digest(signed, cid)


def safe_return_url(value: str | None, allowed_origins: Iterable[str] = ()) -> str | None:
    """``value`` if it is a path on this site (``/billing/portal``) or a URL on an allow-listed origin
    (``https://app.example.com``), else None. Refuses ``//evil.example``, ``/\\evil.example``,
    ``https:evil.example``, other origins, ``javascript:`` and anything with spaces or control characters."""
    if not isinstance(value, str) or not value or len(value) > 2048 or _UNSAFE.search(value):
        return None
    if value.startswith("/"):
        return value if not value.startswith("//") else None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or not value.lower().startswith(
            f"{parts.scheme}://"):
        return None
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    return value if origin in {o.lower().rstrip("/") for o in allowed_origins} else None


#: How long a change preview's confirm form stays valid.
PREVIEW_MAX_AGE = timedelta(hours=1)


def preview_stamp(value: str | None, now: datetime) -> datetime:
    """The preview's proration date echoed by the confirm form, so the change bills what was shown."""
    if not value or not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise InvalidInputError("This confirmation is incomplete. Review the change again.", param="stamp")
    stamp, current = int(value), int(now.timestamp())
    if not current - PREVIEW_MAX_AGE.total_seconds() <= stamp <= current + 60:
        raise InvalidInputError("This preview is out of date. Review the change again.", param="stamp")
    return datetime.fromtimestamp(stamp, UTC)
