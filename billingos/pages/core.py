"""The dispatcher both adapters call: one ``Pages`` per mount turns an ``Incoming`` request into an
``Outgoing`` answer (status, headers, body, cookies). Page functions never see a framework.

    pages = Pages(billing, routes=PORTAL_ROUTES, prefix="/billing", secret_key=..., render=render)
    out = pages.handle("portal.overview", Incoming(method="GET", params={}, ...))

The adapter only builds ``Incoming`` from its request and copies ``Outgoing`` into its response.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode

from ..actor import Actor, ActorKind, request_id_from
from ..errors import BillingError, InvalidInputError, NotFoundError, RateLimitedError
from .formatting import Formatter
from .results import AdminRequired, File, LoginRequired, Redirect, Render, Result
from .safety import CSRF_COOKIE, CSRF_FIELD, Csrf, safe_return_url

if TYPE_CHECKING:
    from ..billing import Billing

__all__ = ["Incoming", "Outgoing", "PageContext", "Pages", "Route", "parse_form"]

log = logging.getLogger("billingos.pages")
MAX_FORM = 64 * 1024
MAX_FIELDS = 50
_PARAM = re.compile(r"[A-Za-z0-9_]{1,255}")
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
#: Scripts only from the app itself (pages have no inline script) and Stripe.js, which the "add a card" page
#: loads with real Stripe; styles may be inline (htmx adds its indicator style).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' https://js.stripe.com; "
                           "frame-src https://js.stripe.com https://hooks.stripe.com; "
                           "connect-src 'self' https://api.stripe.com; img-src 'self' data:; "
                           "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; "
                           "frame-ancestors 'none'")
SECURITY_HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff", "x-frame-options": "DENY",
                    "referrer-policy": "same-origin", "content-security-policy": CONTENT_SECURITY_POLICY}


@dataclass(frozen=True)
class Route:
    """``path`` below the prefix with ``{name}`` placeholders; ``page(ctx) -> Render | Redirect | File``."""

    name: str
    path: str
    methods: tuple[str, ...]
    page: Callable[[PageContext], Result]
    admin: bool = False     # admins only: refused before the form is read unless admin_loader gave someone


@dataclass
class Incoming:
    """What an adapter read from its request. ``owner_id``: what the host's customer_loader returned."""

    method: str
    params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    cookies: Mapping[str, str] = field(default_factory=dict)
    owner_id: Any = None
    path: str = "/"                     # the full path asked for (for the login redirect's next)
    secure: bool = False                # https: cookies get Secure
    origin: str = ""                    # "https://app.example.com": for the absolute URLs Stripe wants
    client_address: str | None = None   # the peer's address, for the audit log
    request_id: str | None = None       # the X-Request-ID header as sent (checked by ctx.actor())
    admin: Any = None                   # what the host's admin_loader returned (None: not an admin)


@dataclass
class Outgoing:
    status: int
    headers: dict[str, str]
    body: bytes | Iterable[bytes] = b""    # an iterable is streamed (a large CSV export)
    cookies: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)   # (name, value, options)


class PageContext:
    """What a page function may use: ``billing`` (the services), ``owner_id``, ``form`` / ``query`` / ``params``,
    ``url(name, **params)``, ``csrf_token`` and ``options`` (the mount's settings)."""

    def __init__(self, pages: Pages, incoming: Incoming, form: dict[str, str], csrf_token: str) -> None:
        self.billing = pages.billing
        self.pages = pages
        self.options = pages.options
        self.method = incoming.method
        self.params = dict(incoming.params)
        self.query = dict(incoming.query)
        self.form = form
        self.csrf_token = csrf_token
        self.origin = incoming.origin
        self._owner = incoming.owner_id
        self._client, self._request_id = incoming.client_address, incoming.request_id
        self._admin = incoming.admin

    @property
    def owner_id(self) -> str:
        """The logged-in owner; LoginRequired (the login redirect or a 401 page) when there is none."""
        if self._owner is None:
            raise LoginRequired()
        from .. import validation
        return validation.owner_id(self._owner)

    @property
    def admin(self) -> str:
        """The admin's identity as text (what the host's admin_loader returned); AdminRequired without one."""
        if not admitted(self._admin):
            raise AdminRequired(logged_in=self._owner is not None)
        return admin_label(self._admin)

    def url(self, name: str, /, **params: Any) -> str:
        return self.pages.url(name, **params)

    def actor(self, kind: ActorKind = "owner", id: str | None = None) -> Actor:
        """Who the audit log names for this request's action (the signed-in owner by default), with the
        request id and the client's address."""
        return Actor(kind=kind, id=self.owner_id if id is None and kind == "owner" else id,
                     request_id=request_id_from(self._request_id), client_address=self._client or None)

    def return_url(self, value: str | None, default: str) -> str:
        """``value`` when it is a safe place to send the customer back to, else ``default``."""
        return safe_return_url(value, self.pages.allowed_origins) or default


class Pages:
    """One mount of page routes. ``render(template, context) -> str`` is the adapter's template engine;
    ``options`` are handed to pages as ``ctx.options``."""

    def __init__(self, billing: Billing, *, routes: Iterable[Route], prefix: str, secret_key: str | bytes,
                 render: Callable[[str, dict[str, Any]], str], login_url: str | None = None,
                 allowed_origins: Iterable[str] = (), options: Mapping[str, Any] | None = None,
                 formatter: Formatter | None = None) -> None:
        self.billing = billing
        self.routes = {r.name: r for r in routes}
        self.prefix = prefix.rstrip("/")
        self.csrf = Csrf(secret_key)
        self._render = render
        self.login_url = login_url
        self.allowed_origins = tuple(allowed_origins)
        self.options = dict(options or {})
        self.fmt = formatter or Formatter()

    # --- addresses ------------------------------------------------------------------------------
    def url(self, name: str, /, **params: Any) -> str:
        """The path of route ``name``; unused params become the query string."""
        if name == "static":
            return f"{self.prefix}/static/{quote(str(params['path']))}"
        route = self.routes[name]
        path, rest = route.path, dict(params)
        for key in re.findall(r"{(\w+)}", path):
            path = path.replace("{" + key + "}", quote(str(rest.pop(key)), safe=""))
        query = urlencode({k: v for k, v in rest.items() if v is not None})
        return f"{self.prefix}{path}" + (f"?{query}" if query else "")

    # --- one request ----------------------------------------------------------------------------
    def handle(self, name: str, incoming: Incoming) -> Outgoing:
        cookie_id = self.csrf.cookie_id(incoming.cookies.get(CSRF_COOKIE))
        cookies = []
        if cookie_id is None:
            cookie_id = self.csrf.new_id()
            cookies.append((CSRF_COOKIE, cookie_id, {"httponly": True, "samesite": "Lax", "secure": incoming.secure,
                                                     "path": self.prefix or "/"}))
        token = self.csrf.token(cookie_id)
        out = self._answer(name, incoming, token)
        out.cookies.extend(cookies)
        out.headers = {**SECURITY_HEADERS, **out.headers}
        return out

    def _answer(self, name: str, incoming: Incoming, token: str) -> Outgoing:
        ctx: PageContext | None = None
        try:
            route = self.routes[name]
            if any(not isinstance(v, str) or not _PARAM.fullmatch(v) for v in incoming.params.values()):
                raise NotFoundError("No such page.")
            if route.admin and not admitted(incoming.admin):
                raise AdminRequired(logged_in=incoming.owner_id is not None)
            form = parse_form(incoming.body) if incoming.method == "POST" else {}
            ctx = PageContext(self, incoming, form, token)
            if incoming.method == "POST" and not self.csrf.valid(incoming.cookies.get(CSRF_COOKIE),
                                                                 form.get(CSRF_FIELD)):
                return self._error(ctx, 403, "This form has expired",
                                   "The page was open too long or came from another site. Go back, reload the "
                                   "page and try again.")
            if incoming.method == "POST":
                self._count_post(route, incoming, ctx)
            return self._result(ctx, route.page(ctx))
        except AdminRequired as denied:
            if denied.logged_in or not self.login_url:
                return self._error(None, 403 if denied.logged_in else 401, "Admins only",
                                   "This page is for the billing team. Log in with an admin account.")
            return self._redirect(Redirect(f"{self.login_url}?{urlencode({'next': incoming.path})}", 302))
        except LoginRequired:
            if self.login_url:
                return self._redirect(Redirect(f"{self.login_url}?{urlencode({'next': incoming.path})}", 302))
            return self._error(ctx, 401, "Please log in", "Log in to see your billing.")
        except RateLimitedError as limited:
            return self._limited(ctx, limited)
        except NotFoundError:
            return self._error(ctx, 404, "Page not found", "This page does not exist, or is not yours to see.")
        except BillingError as err:
            return self._error(ctx, err.status if 400 <= err.status < 600 else 400, "Something is not right",
                               str(err))
        except Exception:
            log.exception("billingos page %s failed", name)
            return self._error(ctx, 500, "Something went wrong", "We could not show this page. Please try again "
                               "in a minute.")

    def _count_post(self, route: Route, incoming: Incoming, ctx: PageContext) -> None:
        """A state-changing POST counts against its admin's or owner's rate limit (``billing.rate_limits``)
        once the CSRF token passed; RateLimitedError over it."""
        if route.admin:
            self.billing.rate_limits.check("admin", admin_label(incoming.admin))
        elif incoming.owner_id is not None:     # nobody logged in: the page answers the login redirect
            self.billing.rate_limits.check("portal", ctx.owner_id)

    def _limited(self, ctx: PageContext | None, err: RateLimitedError) -> Outgoing:
        if err.status == 429:
            out = self._error(ctx, 429, "Too many changes", f"You made many changes in a short time. Please wait "
                              f"{err.retry_after} seconds and try again.")
        else:      # the limiter's storage is down and set to refuse ("closed")
            out = self._error(ctx, err.status, "Please try again shortly", "We cannot take changes right now. "
                              f"Please try again in {err.retry_after} seconds.")
        out.headers["retry-after"] = str(err.retry_after)
        return out

    def _result(self, ctx: PageContext, result: Result) -> Outgoing:
        if isinstance(result, Redirect):
            return self._redirect(result)
        if isinstance(result, File):
            disposition = f'attachment; filename="{quote(result.filename)}"'
            return Outgoing(200, {"content-type": result.content_type, "content-disposition": disposition},
                            result.body if isinstance(result.body, bytes) else _guarded(result.body))
        return self.render(ctx, result)

    def render(self, ctx: PageContext | None, result: Render) -> Outgoing:
        data = {"fmt": self.fmt, "url": self.url, "csrf_token": ctx.csrf_token if ctx else "",
                "csrf_field": CSRF_FIELD, "static": lambda path: self.url("static", path=path),
                "options": self.options, "home_url": self.options.get("home_url") or f"{self.prefix}/",
                **result.data}
        html = self._render(f"billingos/{result.template}", data)
        return Outgoing(result.status, {"content-type": "text/html; charset=utf-8"}, html.encode("utf-8"))

    def _redirect(self, result: Redirect) -> Outgoing:
        return Outgoing(result.status, {"location": result.url})

    def _error(self, ctx: PageContext | None, status: int, title: str, message: str) -> Outgoing:
        try:
            return self.render(ctx, Render("error.html", {"title": title, "message": message, "status": status},
                                           status))
        except Exception:   # a broken host template must not hide the error itself
            log.exception("billingos error page failed")
            return Outgoing(status, {"content-type": "text/plain; charset=utf-8"}, f"{title}\n{message}".encode())


def admitted(identity: Any) -> bool:
    """An admin_loader's answer lets someone in unless it is None, False or an empty string."""
    return identity is not None and identity is not False and identity != ""


def admin_label(identity: Any) -> str:
    """The admin identity shown on pages: text, printable, at most 120 characters."""
    text = identity if isinstance(identity, str) else str(getattr(identity, "email", None) or identity)
    return _BAD_CHARS.sub("", text)[:120] or "admin"


def _guarded(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """A streamed body: a failure after the headers went out can only end the stream, so it is logged."""
    try:
        yield from chunks
    except Exception:
        log.exception("billingos streamed download failed")


def parse_form(body: bytes) -> dict[str, str]:
    """A urlencoded body as str -> str (first value wins); InvalidInputError when it is not one."""
    if len(body) > MAX_FORM:
        raise InvalidInputError("The form is too large.", param="form")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS,
                          errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidInputError("The form could not be read (not UTF-8, or too many fields).", param="form") \
            from None
    out: dict[str, str] = {}
    for key, value in pairs:
        if _BAD_CHARS.search(key) or _BAD_CHARS.search(value):
            raise InvalidInputError("The form contains characters that cannot be used.", param="form")
        out.setdefault(key, value)
    return out
