"""billingos's public surface, found by introspection, and what each public parameter is.

Every public method of every service on ``Billing`` (and of ``Billing`` itself and ``billing.testing``) is
listed by ``public_functions``. Each parameter is classified here by name (or by function and name); a
parameter with no class makes ``test_every_public_parameter_has_bad_input_cases`` fail, so a new public
parameter cannot slip past the sweep. A function left out of the sweep is in ``NOT_SWEPT`` with the reason.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from . import kinds as k
from .kinds import Kind

#: Attributes of ``Billing`` that are not services (no host-facing methods of their own to sweep).
NOT_SERVICES = {
    "config": "the BillingConfig (pydantic; checked at construction)",
    "clock": "the injected clock",
    "emulator": "the Stripe stand-in: its API is Stripe's, tested in tests/emulator",
    "events": "the domain event bus: wiring between services (hosts use billingos.signals)",
    "tasks": "the task runner: wiring, reached through Billing.register_tasks",
    "engine": "the SQLAlchemy engine",
}

#: Public methods that take no host input (a Mirror, a Job, a handler) or exist for wiring. Besides these, a
#: method whose first parameter is a required ``session`` runs inside a transaction its caller (a peer service,
#: a mirror) owns: wiring too, see ``in_transaction``.
NOT_SWEPT = {
    "customers.mirrors": "wiring: the facade registers these",
    "customers.reconciler": "wiring: the facade registers this",
    "invoices.mirrors": "wiring: the facade registers these",
    "customers.add_importer": "registers an importer callable (wiring for customers.link)",
    "subscriptions.import_customer": "customers.link's importer, given a customer id it validated",
    "invoices.import_customer": "customers.link's importer, given a customer id it validated",
    "payment_methods.import_customer": "customers.link's importer, given a customer id it validated",
    "payment_methods.reconciler": "wiring: the facade registers this",
    "invoices.reconciler": "wiring: the facade registers this",
    "subscriptions.prepare": "the subscription mirror's prepare hook, given what Stripe returned",
    "subscriptions.mirrors": "wiring: the facade registers these",
    "subscriptions.reconciler": "wiring: the facade registers this",
    "catalog.mirrors": "wiring: the facade registers these",
    "entitlements.mirrors": "wiring: the facade registers these",
    "entitlements.close": "no parameters; Billing.close() calls it",
    "webhooks.mirror": "registers a Mirror object (wiring; hosts add their own kinds)",
    "reconcile.add": "registers a Reconciler object (wiring)",
    "reconcile.refresh": "takes a Mirror object (reconcile's own step)",
    "jobs.define": "declares a queue with its handler (wiring at construction)",
    "jobs.failed": "records a failure of claimed Job objects",
    "Billing.close": "no parameters",
    "api.handle": "takes the ApiRequest an adapter builds; bad HTTP input (headers, query, body, paths, methods) "
                  "is swept through both adapters in tests/api",
    "api.actor": "builds an Actor from an authenticated key and its ApiRequest (wiring for the audit log)",
    "api_keys.authenticate": "a credential check: every refusal is one UnauthenticatedError (401) that never names "
                             "the part that was wrong; swept in tests/api_keys and through HTTP in tests/api",
}


@dataclass(frozen=True)
class Param:
    """A parameter's kind and the world attribute (or literal, with ``literal=True``) that is valid for it."""

    kind: Kind
    valid: Any = None
    literal: bool = False


def _p(kind: Kind, valid: Any, literal: bool = False) -> Param:
    return Param(kind, valid, literal)


def _lit(kind: Kind, valid: Any) -> Param:
    return Param(kind, valid, True)


# --- kinds -----------------------------------------------------------------------------------------
OWNER = Kind("owner id", k.strings)
TEXT = Kind("text", k.strings)
EMAIL = Kind("email", lambda v: [*k.strings(v), ("no domain", "a@b"), ("two ats", "a@@b.co"),
                                 ("space inside", "a b@c.co")])
CURSOR = Kind("cursor", lambda v: [*k.strings(v), ("not a cursor", "zzzz"), ("foreign cursor", "YzpA")])


LONG_PATH = "/" + "d" * 100_000


def _id(prefix: str) -> Kind:
    return Kind(f"{prefix}_ id", lambda v: k.ids(prefix, v))


def _enum() -> Kind:
    return Kind("enum member", k.enums)


def _int(minimum: int) -> Kind:
    return Kind(f"integer >= {minimum}", lambda v: k.integers(minimum=minimum))


NEGATIVE = Kind("negative integer", lambda v: [("positive", 1), ("zero", 0), ("NaN", k.NAN), ("-infinity", -k.INF),
                                               ("huge negative", -k.HUGE_INT), ("fractional", -2.5),
                                               ("string", "-1"), ("bool", True)])
BOOL = Kind("bool", lambda v: k.booleans())
DATETIME = Kind("aware datetime", lambda v: k.datetimes())
DATE = Kind("date or aware datetime", lambda v: k.dates())
TIMEDELTA = Kind("timedelta", lambda v: k.timedeltas())
SECONDS = Kind("seconds", lambda v: k.seconds())
METADATA = Kind("metadata", lambda v: k.metadata())
PROPERTIES = Kind("JSON object", lambda v: k.json_objects())
CALLABLE = Kind("callable", lambda v: k.callables())
SESSION = Kind("Session", lambda v: k.sessions())
PATH = Kind("path", lambda v: k.paths())
CATALOG = Kind("catalog", lambda v: k.catalogs())
BODY = Kind("raw body", lambda v: k.bodies(), names_param=False)
HEADERS = Kind("headers", lambda v: k.header_maps(), names_param=False)
HUEY = Kind("huey", lambda v: k.hueys())
REVISION = Kind("alembic revision", lambda v: k.revisions())
OPTIONS = Kind("**options", lambda v: k.option_maps())
PERCENTS = Kind("percentages", lambda v: k.percent_lists())
EVENT_DICT = Kind("event dict", lambda v: k.event_dicts())
URL = Kind("url", lambda v: [*k.strings(v), ("not a URL", "not a url"), ("javascript", "javascript:alert(1)"),
                             ("ftp", "ftp://example.com/hook")])
RETURN_URL = Kind("return URL", lambda v: [*k.strings(v), ("javascript", "javascript:alert(1)"),
                                          ("protocol-relative", "//evil.example/x"), ("backslash", "/\\evil.example"),
                                          ("https:host", "https:evil.example")])
EVENT_TYPE = Kind("event type", lambda v: [*k.strings(v), ("space inside", "invoice paid")])
PRICE_REF = Kind("price", lambda v: [*k.strings(v), ("unknown lookup key", "nope_monthly"),
                                     ("unknown price id", "price_nope"), ("space inside", "pro monthly")])
ITEMS = Kind("items", lambda v: k.item_lists(v))
USAGE_EVENTS = Kind("usage events", lambda v: k.usage_events(*v))
PAIRS = Kind("(owner, meter) pairs", lambda v: k.pairs(*v))


def _objects(prefix: str, obj: str) -> Kind:
    return Kind(f"Stripe {obj}", lambda v: k.stripe_objects(prefix, obj))


def _id_list(prefix: str) -> Kind:
    return Kind(f"list of {prefix}_ ids", lambda v: k.id_lists(prefix))


SCOPES = Kind("scopes", lambda v: [("string", "usage:write"), ("empty list", []), ("unknown scope", ["admin"]),
                                   ("trailing newline", ["usage:write\n"]), ("bytes", b"usage:write"), ("int", 5),
                                   ("None inside", [None]), ("dict", {"admin": 1}), ("NaN", k.NAN),
                                   ("100k characters", [k.LONG])])
ACTOR = Kind("Actor", lambda v: [("string", "alice"), ("dict", {"kind": "admin"}), ("int", 5), ("bool", True)])
API_KEY_ID = Kind("API key id", lambda v: [*k.strings(v), ("unknown shape", "key_xyz"), ("secret instead",
                                                                                       "bos_test_" + "0" * 12)])

# --- classification --------------------------------------------------------------------------------
#: By parameter name. The valid value is a ``World`` attribute unless marked literal.
BY_NAME: dict[str, Param] = {
    "owner_id": _p(OWNER, "owner"),
    "email": _lit(EMAIL, "a@b.co"),
    "name": _lit(TEXT, "Acme"),
    "metadata": _lit(METADATA, {}),
    "payment_method": _p(_id("pm"), "payment_method"),
    "default_payment_method": _p(_id("pm"), "payment_method"),
    "test_clock": _lit(_id("clock"), "clock_1A2b3C"),
    "stripe_id": _p(_id("cus"), "customer_id"),
    "customer_id": _p(_id("cus"), "customer_id"),
    "stripe_customer_id": _p(_id("cus"), "customer_id"),
    "limit": _lit(_int(1), 10),
    "after": _p(CURSOR, "cursor"),
    "search": _lit(TEXT, "acme"),
    "include_deleted": _lit(BOOL, False),
    "at_period_end": _lit(BOOL, True),
    "prorate": _lit(BOOL, False),
    "invoice_now": _lit(BOOL, False),
    "active_only": _lit(BOOL, False),
    "dry_run": _lit(BOOL, True),
    "archive_removed": _lit(BOOL, False),
    "rollover": _lit(BOOL, False),
    "enqueue": _lit(BOOL, False),
    "active": _lit(BOOL, True),
    "subscription": _p(_id("sub"), "sub"),
    "subscription_id": _p(_id("sub"), "sub"),
    "invoice_id": _p(_id("in"), "invoice"),
    "payment_method_id": _p(_id("pm"), "payment_method"),
    "event_id": _p(_id("evt"), "event_id"),
    "customer": _p(OWNER, "owner"),
    "price": _lit(PRICE_REF, "pro_monthly"),
    "quantity": _lit(_int(1), 2),
    "items": _lit(ITEMS, "pro_monthly"),
    "trial_days": _lit(_int(1), 7),
    "trial_end": _p(DATETIME, "future"),
    "billing_cycle_anchor": _p(DATETIME, "future"),
    "resumes_at": _p(DATETIME, "future"),
    "expires_at": _p(DATETIME, "future"),
    "proration_date": _p(DATETIME, "now"),
    "at": _p(DATETIME, "now"),
    "timestamp": _p(DATETIME, "now"),
    "coupon": _lit(TEXT, "SAVE10"),
    "promotion_code": _lit(_id("promo"), "promo_1A2b3C"),
    "payment_behavior": _lit(_enum(), "allow_incomplete"),
    "behavior": _lit(_enum(), "void"),
    "proration": _lit(_enum(), "prorate"),
    "policy": _lit(_enum(), "open"),
    "default_policy": _lit(_enum(), "open"),
    "reset": _lit(_enum(), "month"),
    "aggregation": _lit(_enum(), "max"),
    "mode": _lit(_enum(), "immediate"),
    "queue": _lit(_enum(), "webhooks"),
    "source": _lit(_enum(), "webhook"),
    "idempotency_key": _lit(TEXT, "sweep-key-1"),
    "original_key": _p(TEXT, "usage_key"),
    "key": _lit(TEXT, "api_calls"),
    "meter": _lit(TEXT, "api_calls"),
    "event_name": _lit(TEXT, "api_calls"),
    "amount": _lit(_int(1), 1),
    "value": _lit(_int(0), 1),
    "reservation": _p(_id("rsv"), "reservation"),
    "timeout": _p(TIMEDELTA, "hour"),
    "grace": _p(TIMEDELTA, "hour"),
    "grace_period": _p(TIMEDELTA, "hour"),
    "lookback": _p(TIMEDELTA, "hour"),
    "delta": _p(TIMEDELTA, "hour"),
    "reason": _lit(TEXT, "sales deal"),
    "event_type": _lit(EVENT_TYPE, "invoice.paid"),
    "fn": _p(CALLABLE, "handler"),
    "progress": _p(CALLABLE, "handler"),
    "body": _p(BODY, "body"),
    "headers": _p(HEADERS, "headers"),
    "session": _p(SESSION, None),
    "properties": _lit(PROPERTIES, {}),
    "events": _p(USAGE_EVENTS, "owner_and_meter"),
    "catalog": _p(CATALOG, "catalog"),
    "path": _p(PATH, "catalog_path"),
    "product": _lit(TEXT, "pro"),
    "product_key": _lit(TEXT, "pro"),
    "lookup_key_or_id": _lit(PRICE_REF, "pro_monthly"),
    "thresholds": _lit(PERCENTS, (80, 100)),
    "months_ahead": _lit(_int(0), 1),
    "unique_by": _lit(TEXT, "user"),
    "local_ttl": _lit(SECONDS, 1.0),
    "redis_retry_after": _lit(SECONDS, 1.0),
    "redis_ttl": _lit(_int(1), 60),
    "redis_namespace": _lit(TEXT, "billingos"),
    "huey": _p(HUEY, None),
    "revision": _lit(REVISION, "head"),
    "product_ids": _lit(_id_list("prod"), []),
    "pairs": _p(PAIRS, "owner_and_meter"),
    "options": _lit(OPTIONS, {}),
    "kw": _lit(OPTIONS, {}),
    "url": _lit(URL, "http://127.0.0.1/hook"),
    "max_rounds": _lit(_int(1), 10),
    "keys": _lit(Kind("list of keys", lambda v: k.key_lists()), []),
    "result": _lit(TEXT, "processed"),
    "status": _lit(_enum(), "dead"),
    # billing.analytics (branch analytics): classified ahead, so it is swept the day it lands
    "start": _p(DATE, "month_ago"),
    "end": _p(DATE, "today"),
    "days": _lit(SECONDS, 30),
    "kind": _lit(_enum(), "movements"),
    "metric": _lit(_enum(), "mrr"),
    "interval": _lit(_enum(), "month"),
    "changes": _lit(OPTIONS, {}),
    # the portal's services (branch portal): classified ahead, so they are swept the day they land
    "return_url": _lit(RETURN_URL, "https://app.example/account"),
    "starting_after": _p(_id("in"), "invoice"),
    "make_default": _lit(BOOL, True),
    "setup_intent": _lit(_id("seti"), "seti_1A2b3C"),
    "feedback": _lit(_enum(), "too_expensive"),
    "comment": _lit(TEXT, "Too pricey for us"),
    "code": _lit(TEXT, "SAVE10"),
    # branch hardening: reconcile's removal guard, the test kit's delivery hook
    "force": _lit(BOOL, False),
    "max_removal": _lit(Kind("share from 0 to 1", lambda v: [("negative", -0.1), ("over 1", 1.5), ("NaN", k.NAN),
                                                            ("infinity", k.INF), ("string", "0.1"), ("bool", True)]),
                        0.1),
    "via": _p(CALLABLE, "handler"),
    # branch dunning: billing.dunning and billing.notifications
    "template": _lit(_enum(), "payment_recovered"),
    "to": _lit(EMAIL, "a@b.co"),
    "kinds": _lit(Kind("list of reconcile kinds", lambda v: [("string", "payment_methods"), ("unknown", ["cards"]),
                                                            *k.key_lists()]), ["payment_methods"]),
    "disabled": _lit(Kind("list of template names", lambda v: [("string", "payment_failed"), ("unknown", ["nope"]),
                                                               ("int", [1]), ("dict", {"a": 1}), ("NUL", ["a\x00"])]),
                     []),
    "template_dir": _lit(Kind("directory", lambda v: [("missing", "/nonexistent/billingos/emails"),
                                                      ("a file", "/etc/hostname"), ("empty", ""), ("NUL", "/tmp\x00"),
                                                      ("int", 5), ("bytes", b"/tmp"), ("100k", LONG_PATH)]), "/tmp"),
    # branch api: API keys and the audit log
    "scopes": _lit(SCOPES, ["usage:write"]),
    "actor": _lit(ACTOR, None),
    "key_id": _p(API_KEY_ID, "api_key"),
    "actor_kind": _lit(_enum(), "admin"),
    # billing.insights (branch churn)
    "insight_id": _p(_int(1), "insight"),
    "by": _lit(TEXT, "ann@shop.example"),
    "owner_ids": _lit(Kind("list of owner ids", lambda v: k.key_lists()), ["org_sweep"]),
    # the admin dashboard (branch admin): billing.admin reads, billing.refunds
    "started_by": _lit(TEXT, "ops@example.com"),
    "settle": _lit(_enum(), "refund"),
    "memo": _lit(TEXT, "goodwill"),
    "plan": _lit(_id("prod"), "prod_1A2b3C"),
}

#: By ``"service.method"`` and name, where a name means something else in that function.
BY_FUNCTION: dict[tuple[str, str], Param] = {
    ("subscriptions.list", "status"): _lit(_enum(), "active"),
    ("invoices.list", "status"): _lit(_enum(), "paid"),
    ("webhooks.events", "status"): _lit(_enum(), "processed"),
    ("customers.sync", "obj"): _lit(_objects("cus", "customer"), None),
    ("subscriptions.sync", "obj"): _lit(_objects("sub", "subscription"), None),
    ("payment_methods.sync", "obj"): _lit(_objects("pm", "payment_method"), None),
    ("webhooks.store", "event"): _p(EVENT_DICT, "event_dict"),
    ("webhooks.store_many", "events"): _p(Kind("list of event dicts", lambda v: k.event_lists()), "event_list"),
    ("webhooks.receive_many", "deliveries"): _p(Kind("list of deliveries", lambda v: k.delivery_lists()),
                                                "deliveries"),
    ("catalog.product", "key"): _lit(TEXT, "pro"),
    ("rate_limits.check", "scope"): _lit(_enum(), "portal"),
    ("rate_limits.check", "key"): _lit(TEXT, "org_sweep"),
    ("jobs.get", "key"): _p(TEXT, "event_id"),
    ("jobs.state", "key"): _p(TEXT, "event_id"),
    ("jobs.claim", "key"): _p(TEXT, "event_id"),
    ("jobs.run", "key"): _p(TEXT, "event_id"),
    ("entitlements.commit", "amount"): _lit(_int(0), 1),
    ("usage.adjust", "value"): _lit(NEGATIVE, -1),
    ("reconcile.*", "source"): _lit(_enum(), "code"),
    ("usage.set_alert_thresholds", "feature"): _lit(Kind("metered feature", lambda v: [
        *k.strings(v), ("unknown", "nope"), ("meter-looking", "api calls")]), "api_calls"),
    ("usage.set_alert_thresholds", "thresholds"): _lit(Kind("1-100 percentages, at most 5", lambda v: [
        *[c for c in k.percent_lists() if c[0] != "empty"], ("over 100", [101]), ("six", [1, 2, 3, 4, 5, 6]),
        ("float", [50.5]), ("text", ["50"])]), [50, 80]),
    ("entitlements.check", "amount"): _lit(_int(0), 0),
    ("Billing.check", "amount"): _lit(_int(0), 0),
    ("catalog.ensure_products", "product_ids"): _lit(_id_list("prod"), []),
    ("customers.create", "owner_id"): _p(OWNER, "new_owner"),
    ("testing.advance", "delta"): _p(TIMEDELTA, "hour"),
    ("entitlements.grant", "limit"): _lit(_int(0), 100),
    ("customers.list", "limit"): _lit(_int(1), 10),
    ("customers.link_many", "pairs"): _lit(Kind("(owner, customer) pairs", lambda v: k.pairs("org_x", "cus_x")), []),
    ("analytics.*", "at"): _p(DATE, "today"),
    ("analytics.*", "customer"): _p(_id("cus"), "customer_id"),
    ("analytics.set_rate", "currency"): _lit(Kind("currency", lambda v: [*k.strings(v), ("unknown", "xyz"),
                                                                         ("reporting currency", "usd")]), "eur"),
    ("analytics.set_rate", "rate"): _lit(Kind("rate", lambda v: [("zero", 0), ("negative", -1), ("NaN", "NaN"),
                                                                 ("float", 1.1), ("bool", True), ("text", "abc"),
                                                                 ("huge", "1e400"), ("list", ["1.1"])]), "1.1"),
    ("analytics.set_rate", "on"): _p(DATE, "today"),
    ("subscriptions.complete", "data"): _lit(_objects("sub", "subscription"), None),
    ("dunning.list", "status"): _lit(_enum(), "open"),
    ("notifications.*", "context"): _lit(Kind("email context", lambda v: [
        *k.json_objects(), ("missing keys", {"amount": 1}), ("none", None)]),
        {"amount": 3000, "currency": "usd", "invoice_number": "A-1"}),
    ("insights.*", "kind"): _lit(_enum(), "usage_limit"),
    ("insights.*", "state"): _lit(_enum(), "new"),
    ("insights.add_signal", "name"): _lit(TEXT, "logins"),
    ("admin.*", "status"): _lit(_enum(), "active"),
    ("admin.*", "customer"): _p(_id("cus"), "customer_id"),
    ("refunds.*", "reason"): _lit(_enum(), "duplicate"),
}

#: Arguments a call needs besides the swept one (world attributes), by function.
BASE: dict[str, dict[str, Any]] = {
    "subscriptions.create": {"price": "pro_monthly"},
    "subscriptions.change": {"quantity": 2},
    "subscriptions.preview_change": {"quantity": 2},
}
#: Arguments left out when a given parameter is swept (they exclude each other).
DROP: dict[tuple[str, str], tuple[str, ...]] = {
    ("subscriptions.create", "items"): ("price",),
    ("subscriptions.create", "quantity"): (),
    ("customers.get", "stripe_id"): ("owner_id",),
    ("subscriptions.change", "price"): ("quantity",),
    ("subscriptions.preview_change", "price"): ("quantity",),
}

#: Another owner's object, by parameter name: a function that also takes ``owner_id`` must not find it.
FOREIGN: dict[str, str] = {
    "invoice_id": "other_invoice",
    "reservation": "other_reservation",
    "original_key": "other_usage_key",
    "payment_method": "other_payment_method",
    "payment_method_id": "other_payment_method",
    "subscription": "other_sub",
    "subscription_id": "other_sub",
}

#: Functions that answer bad input instead of raising (documented: feature checks never raise).
ANSWERS: dict[str, Callable[[Any], bool]] = {
    "Billing.has_feature": lambda out: out is False,
    "entitlements.has_feature": lambda out: out is False,
    "Billing.check": lambda out: out.allowed is False and out.reason == "invalid_input",
    "entitlements.check": lambda out: out.allowed is False and out.reason == "invalid_input",
}


@dataclass(frozen=True)
class Function:
    qualname: str                   # "customers.create", "Billing.check", "testing.advance"
    fn: Callable[..., Any]
    signature: inspect.Signature

    @property
    def params(self) -> list[inspect.Parameter]:
        return [p for p in self.signature.parameters.values() if p.kind is not inspect.Parameter.VAR_POSITIONAL]


def services(billing: Any) -> Iterator[tuple[str, Any]]:
    """``(name, service)`` for every service attribute of ``billing`` (and its test kit)."""
    for name, value in sorted(vars(billing).items()):
        if name.startswith("_") or name in NOT_SERVICES:
            continue
        if type(value).__module__.startswith("billingos."):
            yield name, value
    if billing.emulator is not None:
        yield "testing", billing.testing


def public_functions(billing: Any) -> list[Function]:
    out = []
    owners = [("Billing", billing), *services(billing)]
    for owner, obj in owners:
        for name in dir(type(obj)):
            if name.startswith("_"):
                continue
            static = inspect.getattr_static(type(obj), name)
            if isinstance(static, property):
                continue
            fn = getattr(obj, name)
            if not callable(fn):
                continue
            if owner == "Billing" and not inspect.ismethod(fn):
                continue                # a service (billing.reconcile) is swept as a service
            out.append(Function(f"{owner}.{name}", fn, inspect.signature(fn)))
    return out


def in_transaction(fn: Function) -> bool:
    """``apply(session, obj)``, ``enqueue(session, ...)``: wiring that runs in its caller's transaction."""
    first = next(iter(fn.signature.parameters.values()), None)
    return first is not None and first.name == "session" and first.default is inspect.Parameter.empty


def swept(fn: Function) -> bool:
    return fn.qualname not in NOT_SWEPT and not in_transaction(fn) and bool(fn.params)


#: An optional parameter with an unknown name is classified by its annotation (its valid value is only the seed
#: of near misses such as ``"x\n"``; a required one needs a world value, so it stays unclassified).
BY_ANNOTATION: dict[str, Param] = {
    "bool": _lit(BOOL, True), "bool | None": _lit(BOOL, True),
    "datetime": _p(DATETIME, "now"), "datetime | None": _p(DATETIME, "now"),
    "date | None": _p(DATE, "today"), "datetime | date | None": _p(DATE, "today"),
    "timedelta": _p(TIMEDELTA, "hour"), "timedelta | None": _p(TIMEDELTA, "hour"),
    "int": _lit(Kind("integer", lambda v: k.any_integers()), 1),
    "int | None": _lit(Kind("integer", lambda v: k.any_integers()), 1),
    "float": _lit(Kind("number", lambda v: k.any_numbers()), 1.0),
    "float | None": _lit(Kind("number", lambda v: k.any_numbers()), 1.0),
    "str": _lit(TEXT, "x"), "str | None": _lit(TEXT, "x"),
}


def classify(fn: Function, param: inspect.Parameter) -> Param | None:
    service = fn.qualname.split(".")[0]
    found = (BY_FUNCTION.get((fn.qualname, param.name)) or BY_FUNCTION.get((f"{service}.*", param.name))
             or BY_NAME.get(param.name))
    if found is None and param.default is not inspect.Parameter.empty:
        found = BY_ANNOTATION.get(str(param.annotation).strip("'\""))
    return found


def required(param: inspect.Parameter) -> bool:
    """None is bad unless it is the default, the annotation allows it, or the default is a sentinel."""
    sentinel = type(param.default) is object
    optional = "None" in str(param.annotation)
    return param.kind is not inspect.Parameter.VAR_KEYWORD and param.default is not None and not sentinel \
        and not optional
