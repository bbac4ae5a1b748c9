"""The Flask extension object. Routes and templates stay thin: every decision lives in billingos."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Blueprint, Flask, Response, current_app, render_template, request
from werkzeug.local import LocalProxy

from billingos import Billing, BillingError
from billingos.api import MAX_BODY as MAX_API_BODY
from billingos.api import OPERATIONS, ApiRequest, client_js, openapi_document
from billingos.pages import MAX_FORM, TEMPLATES_DIR, Incoming, Outgoing, Pages, mount_pages, static_file
from billingos.webhooks import MAX_BODY as MAX_WEBHOOK_BODY
from billingos.webhooks import declared_length

from ._problem import feature_not_available, problem_response, unauthenticated

__all__ = ["CONFIG_DEFAULTS", "BillingOS", "current_billing", "current_owner_id"]

#: Every ``BILLINGOS_*`` key the extension reads, with its default (see docs/configuration.md).
#: They are only used when no ``billing=`` is passed to ``BillingOS``.
CONFIG_DEFAULTS: dict[str, Any] = {
    "BILLINGOS_DATABASE_URL": None,         # None: fall back to SQLALCHEMY_DATABASE_URI
    "BILLINGOS_STRIPE_API_KEY": None,       # None: the emulator's test key
    "BILLINGOS_STRIPE_EMULATOR": False,
    "BILLINGOS_EMULATOR_STATE_PATH": None,
    "BILLINGOS_STRIPE_API_BASE": None,
    "BILLINGOS_WEBHOOK_SECRETS": (),        # a list, or one comma-separated string (handy from env vars)
    "BILLINGOS_WEBHOOK_TOLERANCE": 300,
    "BILLINGOS_REDIS_URL": None,
    "BILLINGOS_DEFAULT_CURRENCY": "usd",
    "BILLINGOS_URL_PREFIX": "/billing",
    "BILLINGOS_PORTAL_MODE": "pages",      # "pages" (billingos's portal), "stripe" (Stripe's hosted portal), "off"
    "BILLINGOS_SECRET_KEY": None,          # signs CSRF tokens; None: the app's SECRET_KEY
    "BILLINGOS_LOGIN_URL": None,           # where the portal sends visitors nobody logged in (?next=...)
    "BILLINGOS_ALLOWED_ORIGINS": (),       # origins a return_url / next may point at, besides this site
    "BILLINGOS_RETURN_URL": None,          # the portal's "back to the app" link
    "BILLINGOS_PUBLISHABLE_KEY": None,     # pk_...: Stripe Elements on the portal's "add a card" page
}

OwnerLoader = Callable[[], Any]
F = TypeVar("F", bound=OwnerLoader)


class BillingOS:
    """``BillingOS(app=None, *, billing=None)``; one instance may serve several apps via ``init_app``.

    With ``billing=`` every app shares that ``Billing``; without it each app builds its own from
    its ``BILLINGOS_*`` config keys.
    """

    def __init__(self, app: Flask | None = None, *, billing: Billing | None = None) -> None:
        self._billing = billing
        self._built: weakref.WeakKeyDictionary[Flask, Billing] = weakref.WeakKeyDictionary()
        self._pages: weakref.WeakKeyDictionary[Flask, Pages] = weakref.WeakKeyDictionary()
        self._customer_loader: OwnerLoader | None = None
        self._admin_loader: OwnerLoader | None = None
        self._feature_denied_handler: Callable[[str, str | None], Any] | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if "billingos" in app.extensions:
            raise RuntimeError("A 'BillingOS' instance has already been registered on this Flask app. "
                               "Import and use that instance instead of creating a second one.")
        for key, default in CONFIG_DEFAULTS.items():
            app.config.setdefault(key, default)
        if self._billing is None:
            self._built[app] = billing_from_config(app.config)
        app.extensions["billingos"] = self
        prefix = app.config["BILLINGOS_URL_PREFIX"]
        billing = self.billing_for(app)
        self._pages[app] = pages = mount_pages(
            billing, prefix=prefix, render=_render, portal_mode=app.config["BILLINGOS_PORTAL_MODE"],
            secret_key=app.config["BILLINGOS_SECRET_KEY"] or app.config.get("SECRET_KEY"),
            login_url=app.config["BILLINGOS_LOGIN_URL"], allowed_origins=app.config["BILLINGOS_ALLOWED_ORIGINS"],
            return_url=app.config["BILLINGOS_RETURN_URL"],
            publishable_key=app.config["BILLINGOS_PUBLISHABLE_KEY"])
        if billing.emulator is not None and billing.emulator.hosted.base_url is None:
            billing.emulator.hosted.base_url = f"{prefix}/stripe"     # the stand-in Stripe pages, mounted below
        app.register_blueprint(self._blueprint(pages), url_prefix=prefix)
        csrf = app.extensions.get("csrf")   # Flask-WTF's CSRFProtect: Stripe cannot send a token
        if csrf is not None and hasattr(csrf, "exempt"):
            csrf.exempt("billingos.webhooks")

    # --- host hooks ---------------------------------------------------------------------------
    def customer_loader(self, fn: F) -> F:
        """Register the function that returns the current request's owner id (or None)."""
        self._customer_loader = fn
        return fn

    def load_owner_id(self) -> str | None:
        if self._customer_loader is None:
            raise RuntimeError("No customer loader: decorate a function with @ext.customer_loader that "
                               "returns the logged-in owner id (or None).")
        return cast("str | None", current_app.ensure_sync(self._customer_loader)())

    def admin_loader(self, fn: F) -> F:
        """Register the function that returns the current request's admin identity, or None for everyone
        who may not see the admin pages (``{prefix}/admin/``). Without one, every admin page is refused."""
        self._admin_loader = fn
        return fn

    def load_admin(self) -> Any:
        if self._admin_loader is None:
            return None
        return current_app.ensure_sync(self._admin_loader)()

    def feature_denied_handler(self, fn: Callable[[str, str | None], Any]) -> Callable[[str, str | None], Any]:
        """Register what a ``@requires_feature`` view answers when access is denied, like flask-login's
        ``unauthorized_handler``: ``fn(feature, owner_id)`` (owner_id None when nobody is logged in)
        returns a response, e.g. a redirect to your pricing page."""
        self._feature_denied_handler = fn
        return fn

    def feature_denied(self, feature: str, owner_id: str | None) -> Any:
        """The response for a denied ``@requires_feature`` view: the registered handler's, or a 401
        problem document (nobody logged in) / 403 problem document (the plan lacks the feature)."""
        if self._feature_denied_handler is not None:
            return current_app.ensure_sync(self._feature_denied_handler)(feature, owner_id)
        if owner_id is None:
            return unauthenticated()
        return feature_not_available(feature)

    @property
    def billing(self) -> Billing:
        """The ``Billing`` for the current app (or the one passed to the constructor)."""
        if self._billing is not None:
            return self._billing
        return self.billing_for(current_app._get_current_object())  # type: ignore[attr-defined]

    def billing_for(self, app: Flask) -> Billing:
        """The ``Billing`` of ``app``, without an app context (e.g. at start-up or in a CLI)."""
        if self._billing is not None:
            return self._billing
        if app not in self._built:
            raise RuntimeError("BillingOS was not initialised on this app: call ext.init_app(app).")
        return self._built[app]

    # --- routes -------------------------------------------------------------------------------
    def _blueprint(self, pages: Pages) -> Blueprint:
        # template_folder: the app's own templates/billingos/*.html come first (Flask's loader order).
        bp = Blueprint("billingos", __name__, template_folder=str(TEMPLATES_DIR))
        bp.add_url_rule("/customer", "customer", self._customer_view, methods=["GET"])
        bp.add_url_rule("/static/<path:path>", "static_file", _static_view, methods=["GET"])
        for route in pages.routes.values():
            path = route.path.replace("{", "<").replace("}", ">")
            bp.add_url_rule(path, route.name.replace(".", "_"), self._page_view, methods=list(route.methods),
                            defaults={"_route": route.name})
        if pages.billing.emulator is not None:
            bp.add_url_rule("/stripe/<path:rest>", "stripe_pages", _hosted_view, methods=["GET", "POST"])
        # POST only, and never a redirect (Stripe counts a 3xx as a failed delivery): the path with or without
        # one trailing slash answers; merge_slashes=False keeps werkzeug from redirecting "//webhooks".
        for path in ("/webhooks", "/webhooks/"):
            bp.add_url_rule(path, "webhooks", self._webhook_view, methods=["POST"], strict_slashes=True,
                            merge_slashes=False)
        # The JSON API: one catch-all route; billing.api routes, authenticates and answers (problems included).
        bp.add_url_rule("/api/v1/openapi.json", "api_openapi", self._openapi_view, methods=["GET"])
        bp.add_url_rule("/api/v1/billingos.js", "api_client_js", _client_js_view, methods=["GET"])
        for op in OPERATIONS:      # one rule per operation, like FastAPI's routes; the catch-all answers the rest
            bp.add_url_rule(f"/api/v1/{op.path}", f"api_{op.id}", self._api_view, methods=[op.method],
                            defaults={"path": op.path})
        bp.add_url_rule("/api/v1/<path:path>", "api", self._api_view,
                        methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        bp.register_error_handler(BillingError, problem_response)
        return bp

    def _api_view(self, path: str) -> Response:
        request_ = ApiRequest(method=request.method, path=path, query=request.args.to_dict(),
                              headers={k.lower(): v for k, v in request.headers.items()},
                              body=request.stream.read(MAX_API_BODY + 1) if request.method != "GET" else b"",
                              client_address=request.remote_addr)
        out = self.billing.api.handle(request_)
        return Response(out.body, status=out.status, headers=out.headers, content_type=out.content_type)

    def _openapi_view(self) -> dict[str, Any]:
        return openapi_document(current_app.config["BILLINGOS_URL_PREFIX"])

    def _webhook_view(self) -> Response | dict[str, Any]:
        # per client address, before the body is read: a 429 (Stripe retries it) is a problem document
        self.billing.rate_limits.check("webhook", request.remote_addr or "unknown")
        declared_length(request.headers.get("Content-Length"))
        receipt = self.billing.webhooks.receive(_read_limited(request.stream), dict(request.headers))
        return receipt.model_dump()

    def _page_view(self, _route: str, **params: str) -> Response:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        admin_page = self._pages[app].routes[_route].admin
        admin = self.load_admin() if admin_page else None
        owner = self.load_owner_id() if not admin_page or self._customer_loader is not None else None
        incoming = Incoming(method=request.method, params=params, query=request.args.to_dict(),
                            body=_body() if request.method == "POST" else b"",
                            cookies=request.cookies, owner_id=owner, secure=request.is_secure,
                            path=request.script_root + request.full_path.rstrip("?"),
                            origin=request.host_url.rstrip("/"), admin=admin, client_address=request.remote_addr,
                            request_id=request.headers.get("X-Request-ID"))
        return _response(self._pages[app].handle(_route, incoming))

    def _customer_view(self) -> Response | dict[str, Any]:
        owner = self.load_owner_id()
        if owner is None:
            return unauthenticated()
        return self.billing.customers.get(owner_id=owner).model_dump(mode="json")


def _client_js_view() -> Response:
    response = Response(client_js(), content_type="text/javascript; charset=utf-8")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def _read_limited(stream: Any) -> bytes:
    """At most the webhook body limit plus one byte, whatever the framing (a chunked body has no length)."""
    chunks, size = [], 0
    while size <= MAX_WEBHOOK_BODY:
        chunk = stream.read(MAX_WEBHOOK_BODY + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _render(template: str, context: dict[str, Any]) -> str:
    return render_template(template, **context)


def _response(out: Outgoing) -> Response:
    response = Response(out.body, status=out.status, headers=out.headers)
    for name, value, options in out.cookies:
        response.set_cookie(name, value, **options)
    return response


def _body() -> bytes:
    """A form body, read up to just past the pages' limit (a larger one is refused, not read whole)."""
    return bytes(request.stream.read(MAX_FORM + 1))


def _static_view(path: str) -> Response:
    found = static_file(path)
    if found is None:
        return Response("Not found", status=404, mimetype="text/plain")
    body, kind = found
    return Response(body, headers={"content-type": kind, "cache-control": "public, max-age=3600"})


def _hosted_view(rest: str) -> Response:
    """The emulator's stand-in Stripe pages (Elements, Checkout, billing portal); they carry their own tokens."""
    status, headers, body = current_billing.emulator.hosted.handle(
        request.method, "/" + rest, request.query_string.decode("latin-1"), _body())
    return Response(body, status=status, headers=headers)


def billing_from_config(config: Any) -> Billing:
    """Build a ``Billing`` from the ``BILLINGOS_*`` keys; ConfigurationError says what is missing."""
    secrets = config["BILLINGOS_WEBHOOK_SECRETS"]
    if isinstance(secrets, str):
        secrets = [s.strip() for s in secrets.split(",") if s.strip()]
    options: dict[str, Any] = {
        "database_url": config["BILLINGOS_DATABASE_URL"] or config.get("SQLALCHEMY_DATABASE_URI"),
        "stripe_emulator": bool(config["BILLINGOS_STRIPE_EMULATOR"]),
        "emulator_state_path": config["BILLINGOS_EMULATOR_STATE_PATH"],
        "stripe_api_base": config["BILLINGOS_STRIPE_API_BASE"],
        "webhook_secrets": list(secrets),
        "webhook_tolerance": config["BILLINGOS_WEBHOOK_TOLERANCE"],
        "redis_url": config["BILLINGOS_REDIS_URL"],
        "default_currency": config["BILLINGOS_DEFAULT_CURRENCY"],
    }
    if config["BILLINGOS_STRIPE_API_KEY"] is not None:
        options["stripe_api_key"] = config["BILLINGOS_STRIPE_API_KEY"]
    return Billing(**options)


def _current_ext() -> BillingOS:
    ext = current_app.extensions.get("billingos")
    if ext is None:
        raise RuntimeError("billingos_flask.BillingOS is not registered on this app.")
    return cast(BillingOS, ext)


def current_owner_id() -> str | None:
    """The owner id the registered customer_loader returns for this request."""
    return _current_ext().load_owner_id()


#: The current app's ``Billing``, like ``flask_login.current_user``.
current_billing: Billing = cast(Billing, LocalProxy(lambda: _current_ext().billing))
