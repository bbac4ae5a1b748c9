"""What the product's pages need from a web framework, without one: the request as a ``Visit``, the page
table's ``Page``, ``dispatch`` (CSRF, login, errors), flash messages kept in the session, and the one Jinja
environment that renders ``example_app/templates`` for both apps.

A page function takes a ``Visit`` and returns billingos's page results (``Render``, ``Redirect``, ``File``);
``example_app.views`` (Flask) and ``example_app.fastapi_app`` only build the ``Visit`` from their request
and turn the result into their response. The page functions themselves are ``example_app.pages``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from billingos import Billing, BillingError
from billingos.pages import File, Redirect, Render, environment

from .csrf import FIELD, MESSAGE, SessionCsrf
from .domain import Linkshelf, ProductError
from .models import User
from .plans import money

__all__ = ["MAX_FORM", "PATHS", "File", "Page", "Redirect", "Render", "Visit", "dispatch", "error", "make_environment",
           "read_form", "render", "url"]

TEMPLATES = Path(__file__).with_name("templates")
MAX_FORM = 64 * 1024            # the product's forms are small; a bigger body is refused with a 413 page
MAX_FIELDS = 20
FLASHES = "flashes"             # session key: messages shown on the next page rendered
USER = "user_id"                # session key: the logged-in Linkshelf user's row id

#: Every product page's path, by name; templates and redirects use ``url(name)``.
PATHS = {"home": "/", "pricing": "/pricing", "signup": "/signup", "login": "/login", "logout": "/logout",
         "demo_login": "/demo-login/{who}", "links": "/app", "add_link": "/app/links",
         "delete_link": "/app/links/{link_id}/delete", "export": "/app/export.csv", "follow": "/s/{slug}",
         "developers": "/app/developers", "new_token": "/app/developers/token",
         "new_billing_key": "/app/developers/billing-key", "demo": "/demo/", "demo_advance": "/demo/advance",
         "demo_failing_card": "/demo/failing-card"}


def url(name: str, /, **params: Any) -> str:
    """The path of page ``name``; params that are not in the path become its query string."""
    path, rest = PATHS[name], dict(params)
    for key in re.findall(r"{(\w+)}", path):
        path = path.replace("{" + key + "}", quote(str(rest.pop(key)), safe=""))
    query = urlencode({k: v for k, v in rest.items() if v is not None})
    return path + (f"?{query}" if query else "")


@dataclass
class Visit:
    """One request, as the pages see it. ``session`` is the framework's signed-cookie session (a mapping);
    ``form`` the urlencoded body (``read_form``), ``params`` the path's placeholders."""

    shelf: Linkshelf
    session: MutableMapping[str, Any]
    csrf: SessionCsrf
    method: str = "GET"
    path: str = "/"
    params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)
    host_url: str = "/"                      # "http://127.0.0.1:5000/": for the short links shown
    instance: Path | None = None             # the instance dir (what the first start seeded)

    @cached_property
    def user(self) -> User | None:
        return self.shelf.user(self.session.get(USER))

    @property
    def billing(self) -> Billing:
        return self.shelf.billing

    @property
    def demo(self) -> bool:
        """Stripe is the emulator: the demo logins, the demo password and the Demo tools exist."""
        return self.billing.emulator is not None

    def log_in(self, user: User) -> None:
        self.session.clear()        # a fresh session (and CSRF id) on login: no session fixation
        self.session[USER] = user.id
        self.__dict__["user"] = user

    def log_out(self) -> None:
        self.session.clear()
        self.__dict__["user"] = None

    def flash(self, message: str, category: str = "notice") -> None:
        # reassigned, not appended: Flask's session notices only assignments
        self.session[FLASHES] = [*self.session.get(FLASHES, []), [category, message]][-5:]


@dataclass(frozen=True)
class Page:
    """One route of the page table: ``view(visit)``; ``login``: visitors must be logged in; ``demo``: only
    while Stripe is the emulator; ``feature``: gated with the adapter's ``requires_feature``."""

    name: str
    methods: tuple[str, ...]
    view: Callable[[Visit], Render | Redirect | File]
    login: bool = False
    demo: bool = False
    feature: str | None = None

    @property
    def path(self) -> str:
        return PATHS[self.name]


def dispatch(page: Page, visit: Visit) -> Render | Redirect | File:
    """The checks every page shares, then the page: the CSRF token on POSTs, the login, and refusals
    (``ProductError``, ``BillingError``) as an error page with their status."""
    if visit.method == "POST" and not visit.csrf.valid(visit.session, visit.form.get(FIELD)):
        return error(400, MESSAGE, "This form has expired")
    if page.login and visit.user is None:
        return Redirect(url("login"), 302)
    try:
        return page.view(visit)
    except ProductError as err:
        return error(err.status, err.message)
    except BillingError as err:
        return error(err.status if 400 <= err.status < 600 else 400, err.message)


def error(status: int, message: str, title: str | None = None) -> Render:
    titles = {400: "That did not work", 401: "Please log in", 403: "Not on your plan", 404: "Page not found",
              413: "Too large", 429: "Slow down"}
    return Render("error.html", {"title": title or titles.get(status, "Something is not right"),
                                 "message": message, "status": status}, status)


def read_form(body: bytes) -> dict[str, str]:
    """A urlencoded body as str -> str (the first value wins). The fields' contents are the domain's to
    judge (it names the field that is wrong); only the size and the encoding are checked here."""
    if len(body) > MAX_FORM:
        raise ProductError(f"The form is too large (at most {MAX_FORM // 1024} KB).", status=413)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS,
                          errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise ProductError("The form could not be read (not UTF-8, or too many fields).") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


def make_environment() -> Any:
    """The Jinja environment of the product's pages: example_app/templates first (its ``billingos/``
    theme too), then billingos's own templates; autoescaping on."""
    env = environment(TEMPLATES)
    env.filters["money"] = money
    env.filters["date"] = _date
    env.globals["url"] = url
    return env


def render(env: Any, visit: Visit, page: Render) -> str:
    """``page`` as HTML, with what base.html needs: the user, the flashes (shown once), a CSRF token."""
    flashes = visit.session.pop(FLASHES, None) or []
    data = {"user": visit.user, "flashes": [tuple(f) for f in flashes if isinstance(f, list) and len(f) == 2],
            "csrf_token": visit.csrf.token(visit.session), "demo_mode": visit.demo, "host_url": visit.host_url,
            **page.data}
    return str(env.get_template(page.template).render(data))


def _date(value: datetime | None) -> str:
    return "—" if value is None else f"{value:%d %b %Y}"
