"""The hosted pages' entry point: routing, per-object form tokens, and calls into the emulator's API.

Pages act like Stripe's own front end: what they change goes through the emulator's API
(``Hosted.api``), so validation, events and webhooks are exactly those of an API call. The little they
do that no API call does (completing a Checkout Session) runs in ``Hosted.run``, under the emulator's
lock, with the same persistence and webhook delivery as a request.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..errors import StripeError
from ..settings import API_VERSION
from . import html

if TYPE_CHECKING:
    from ..app import Emulator

T = TypeVar("T")
HOSTED_API_KEY = "sk_test_billingos_hosted_pages"
DEFAULT_BASE_URL = "http://127.0.0.1:12111"      # the loopback server's default port
MAX_FIELDS = 100
MAX_BODY = 64 * 1024
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

SECURITY_HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


class BadInput(ValueError):
    """A form or query value the pages refuse to read (control characters, lone surrogates, too many)."""


@dataclass
class PageRequest:
    method: str
    path: str
    args: dict[str, str]
    query: dict[str, str]
    form: dict[str, str]


@dataclass
class PageResponse:
    status: int
    body: str = ""
    location: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


Page = Callable[["Hosted", PageRequest], PageResponse]


class Hosted:
    """Serves the stand-in pages. ``base_url`` is where they are reachable (absolute, or a path such as
    ``/billing/stripe`` when the host mounts them); objects' ``url`` fields are built from it."""

    def __init__(self, em: Emulator, *, base_url: str | None = None,
                 routes: list[tuple[str, str, Page]] | None = None) -> None:
        self.em = em
        self.base_url = base_url
        self.allowed_return_origins: set[str] = set()   # extra origins Elements may send customers back to
        self._key = secrets.token_bytes(32)
        self._submit = threading.Lock()                  # one page submission at a time: no double completion
        self._routes = [(m, re.compile(pattern), fn) for m, pattern, fn in routes or []]

    # --- addresses ------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return (self.base_url or DEFAULT_BASE_URL).rstrip("/") + path

    def elements_url(self, intent: Mapping[str, Any], return_url: str | None = None) -> str:
        """Where to send a customer to confirm a SetupIntent or PaymentIntent (what Stripe.js's
        ``confirmSetup`` / ``confirmPayment`` would do on your page)."""
        kind = {"setup_intent": "setup_intents", "payment_intent": "payment_intents"}[str(intent["object"])]
        query = {"client_secret": str(intent["client_secret"])}
        if return_url:
            query["return_url"] = return_url
        return self.url(f"/{kind}/{intent['id']}/confirm?{urlencode(query)}")

    def return_url_ok(self, url: str) -> bool:
        """Where the Elements stand-in may send a customer back to: a local path, a loopback origin, the
        pages' own origin, or one of ``allowed_return_origins`` (never an arbitrary site)."""
        if not url or _BAD_CHARS.search(url) or any(c.isspace() for c in url) or "\\" in url:
            return False
        if url.startswith("/"):
            return not url.startswith("//")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        base = urlsplit(self.base_url or "")
        if base.scheme and origin == f"{base.scheme}://{base.netloc}".lower():
            return True
        return parts.hostname in _LOOPBACK or origin in {o.lower().rstrip("/") for o in self.allowed_return_origins}

    # --- tokens ---------------------------------------------------------------------------------
    def token(self, oid: str) -> str:
        """The per-object token every state-changing form carries (valid while this emulator runs)."""
        return hmac.new(self._key, f"hosted-form:{oid}".encode(), hashlib.sha256).hexdigest()[:40]

    def token_ok(self, oid: str, value: str | None) -> bool:
        return isinstance(value, str) and hmac.compare_digest(self.token(oid), value)

    # --- the entry points -------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str | Mapping[str, Any] = "",
               form: str | bytes | Mapping[str, Any] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One page exchange: ``path`` relative to the mount point (``/checkout/cs_test_...``), the raw query
        string (or a mapping), and for POST the urlencoded body (or an already parsed mapping).
        Returns (status, headers, UTF-8 HTML body)."""
        method = method.upper()
        try:
            req_query, req_form = _fields(query), _fields(form) if method == "POST" else {}
            resp = self._dispatch(method, path, req_query, req_form)
        except BadInput as e:
            resp = PageResponse(400, html.message_page("Bad request", str(e)))
        headers = {"content-type": "text/html; charset=utf-8", **SECURITY_HEADERS, **resp.headers}
        if resp.location is not None:
            headers["location"] = resp.location
        return resp.status, headers, resp.body.encode("utf-8")

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """The same pages as a WSGI application (mount it under any prefix)."""
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_BODY + 1)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else b""
        if len(body) > MAX_BODY:
            status, headers, data = 413, {"content-type": "text/plain"}, b"Request body too large"
        else:
            status, headers, data = self.handle(environ.get("REQUEST_METHOD", "GET"),
                                                environ.get("PATH_INFO") or "/",
                                                environ.get("QUERY_STRING", ""), body)
        start_response(f"{status} {_REASONS.get(status, 'OK')}",
                       [*headers.items(), ("content-length", str(len(data)))])
        return [data]

    def _dispatch(self, method: str, path: str, query: dict[str, str], form: dict[str, str]) -> PageResponse:
        allowed: list[str] = []
        for m, rx, page in self.routes():
            hit = rx.fullmatch(path)
            if hit is None:
                continue
            if m != method:
                allowed.append(m)
                continue
            return page(self, PageRequest(method, path, hit.groupdict(), query, form))
        if allowed:
            return PageResponse(405, html.message_page("Method not allowed", "This page does not take that request."),
                                headers={"allow": ", ".join(sorted(set(allowed)))})
        return not_found()

    def routes(self) -> list[tuple[str, re.Pattern[str], Page]]:
        return self._routes

    # --- talking to the emulator ------------------------------------------------------------------
    def api(self, method: str, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A request to the emulator's own API, as Stripe's pages make; errors raise ``StripeError``."""
        encoded = encode(params or {})
        headers = {"authorization": f"Bearer {HOSTED_API_KEY}", "stripe-version": API_VERSION}
        if method.upper() == "GET":
            status, _, text = self.em.handle(method, path, encoded, "", headers)
        else:
            status, _, text = self.em.handle(method, path, "", encoded, headers)
        payload = json.loads(text)
        if status >= 400:
            err = payload.get("error") or {}
            raise StripeError(err.get("message") or "The request failed.", status=status,
                              type=err.get("type") or "api_error", param=err.get("param"), code=err.get("code"),
                              decline_code=err.get("decline_code"))
        return payload

    def find(self, oid: str | None) -> dict[str, Any]:
        """A copy of a stored object ({} when there is none), read under the lock."""
        with self.em.lock:
            return copy.deepcopy(self.em.store.find(oid or "") or {})

    def read(self, fn: Callable[[], T]) -> T:
        with self.em.lock:
            return fn()

    def run(self, fn: Callable[[], T]) -> T:
        """A change no API call makes, applied like a request: under the lock, saved, webhooks delivered."""
        em = self.em
        with em.lock:
            result = fn()
            if em.state_path:
                em._save()
        for hook in list(em.hooks.after_request):
            hook()
        return result

    def submitting(self) -> threading.Lock:
        return self._submit


def not_found() -> PageResponse:
    return PageResponse(404, html.message_page("Page not found",
                                               "This page does not exist, or the link has expired."))


def encode(params: Mapping[str, Any]) -> str:
    """Stripe's form encoding (``a[b][0]=c``) for the pages' own API calls."""
    pairs: list[tuple[str, str]] = []

    def walk(value: Any, key: str) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, f"{key}[{k}]")
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]")
        elif isinstance(value, bool):
            pairs.append((key, "true" if value else "false"))
        elif value is not None:
            pairs.append((key, str(value)))

    for k, v in params.items():
        walk(v, k)
    return urlencode(pairs)


def _fields(raw: str | bytes | Mapping[str, Any] | None) -> dict[str, str]:
    """A flat str -> str view of a query string, a urlencoded body or a framework's parsed form."""
    if raw is None:
        return {}
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput("The form is not valid UTF-8.") from None
    items: list[tuple[Any, Any]]
    if isinstance(raw, str):
        if len(raw) > MAX_BODY:
            raise BadInput("The form is too large.")
        try:
            items = list(parse_qsl(raw, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict"))
        except UnicodeDecodeError:
            raise BadInput("The form is not valid UTF-8.") from None
        except ValueError:
            raise BadInput("The form has too many fields.") from None
    else:
        items = list(raw.items())
    if len(items) > MAX_FIELDS:
        raise BadInput("The form has too many fields.")
    out: dict[str, str] = {}
    for key, value in items:
        if isinstance(value, list | tuple):
            value = value[0] if value else ""
        if not isinstance(key, str) or not isinstance(value, str):
            raise BadInput("The form has a value that is not text.")
        if _BAD_CHARS.search(key) or _BAD_CHARS.search(value):
            raise BadInput("The form contains characters that cannot be used (control characters or "
                           "unpaired surrogates).")
        out.setdefault(key, value)
    return out


_REASONS = {200: "OK", 303: "See Other", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 409: "Conflict", 410: "Gone", 413: "Payload Too Large"}
