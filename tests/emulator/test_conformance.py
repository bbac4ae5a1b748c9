"""Conformance: every object the emulator stores or answers has Stripe's shape.

Generic on purpose: a scenario makes as many object types as the emulator can, then every object in
``emulator.store.objects`` and every 2xx response body (lists, search results, deleted stubs, expansions)
is checked, whatever its type:

* keys: a superset of the keys of Stripe's own example of that type (``fixtures3.json``), recursively;
* enums: every string value whose SDK annotation is a ``Literal[...]`` is one of those literals.

New resource modules are covered as soon as the scenario below can make their objects (steps whose
routes do not exist yet are skipped).
"""

from __future__ import annotations

import json
import os
import typing
from pathlib import Path
from typing import Any

import pytest
import stripe
from stripe._object_classes import OBJECT_CLASSES
from stripe._stripe_object import StripeObject

from billingos.emulator import Emulator

_CANDIDATES = [os.environ.get("BILLINGOS_STRIPE_FIXTURES"),
               str(Path(__file__).parents[1] / "fixtures" / "stripe" / "fixtures3.json"),
               "/work/shared/stripe/fixtures3.json"]
FIXTURE_FILE = next((Path(p) for p in _CANDIDATES if p and Path(p).exists()), None)

# Fields Stripe leaves out when they are empty (optional, not nullable), which fixtures3.json shows filled.
_OPTIONAL = json.loads((Path(__file__).parent / "stripe_optional_fields.json").read_text())["optional"]
OMITTED = {kind: set(_OPTIONAL.get(OBJECT_CLASSES[kind][1], [])) for kind in OBJECT_CLASSES}

# Stripe types the emulator may return that have no example in fixtures3.json: enums are still checked.
KNOWN_WITHOUT_FIXTURE = {"list", "search_result", "billing.meter_event_session", "invoice_payment",
                         "entitlements.active_entitlement_summary"}


# --- the scenario ----------------------------------------------------------------------------------
def _route(em: Emulator, method: str, path: str) -> bool:
    return em.router.match(method, path) is not None


def _catalog(client) -> dict[str, Any]:
    prod = client.v1.products.create(params={"name": "Pro", "marketing_features": [{"name": "Fast"}],
                                             "package_dimensions": {"height": 1, "length": 2, "weight": 3,
                                                                    "width": 4},
                                             "default_price_data": {"currency": "usd", "unit_amount": 2000,
                                                                    "recurring": {"interval": "month"}}})
    client.v1.products.update(prod.id, params={"description": "The pro plan"})
    tiered = client.v1.prices.create(params={
        "product": prod.id, "currency": "usd", "billing_scheme": "tiered", "tiers_mode": "graduated",
        "tiers": [{"up_to": 10, "unit_amount": 100, "flat_amount": 500}, {"up_to": "inf", "unit_amount": 90}],
        "recurring": {"interval": "month"}, "lookup_key": "pro_tiered", "expand": ["tiers"]})
    client.v1.prices.create(params={"product_data": {"name": "Seats"}, "currency": "eur", "unit_amount": 700,
                                    "transform_quantity": {"divide_by": 5, "round": "up"},
                                    "currency_options": {"usd": {"unit_amount": 800}},
                                    "expand": ["currency_options"]})
    client.v1.prices.create(params={"product": prod.id, "currency": "usd",
                                    "custom_unit_amount": {"enabled": True, "minimum": 100}})
    client.v1.prices.update(tiered.id, params={"nickname": "Tiered"})
    client.v1.prices.list(params={"expand": ["data.tiers"]})
    client.v1.prices.search(params={"query": "active:'true'"})
    client.v1.products.search(params={"query": "name:'Pro'"})
    gone = client.v1.products.create(params={"name": "Gone"})
    client.v1.products.delete(gone.id)
    feature = client.v1.entitlements.features.create(params={"name": "Export", "lookup_key": "export"})
    pf = client.v1.products.features.create(prod.id, params={"entitlement_feature": feature.id})
    other = client.v1.entitlements.features.create(params={"name": "SSO", "lookup_key": "sso"})
    tmp = client.v1.products.features.create(prod.id, params={"entitlement_feature": other.id})
    client.v1.products.features.delete(prod.id, tmp.id)
    client.v1.products.features.list(prod.id)
    client.v1.entitlements.features.list()
    return {"product": prod, "price": tiered, "product_feature": pf}


def _customers(client, em: Emulator) -> Any:
    cus = client.v1.customers.create(params={"email": "a@b.co", "name": "Acme",
                                             "address": {"country": "US", "postal_code": "94107"}})
    client.v1.customers.update(cus.id, params={"metadata": {"plan": "pro"}})
    gone = client.v1.customers.create(params={"email": "gone@b.co"})
    client.v1.customers.delete(gone.id)
    client.v1.customers.retrieve(gone.id)
    client.v1.customers.list()
    client.v1.customers.search(params={"query": "email:'a@b.co'"})
    client.v1.entitlements.active_entitlements.list(params={"customer": cus.id})
    return cus


def _optional_steps(client, em: Emulator, cus: Any, catalog: dict[str, Any]) -> None:
    """Resources other modules add; each runs once its route exists."""
    if _route(em, "POST", "/v1/payment_methods"):
        payer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
        pms = client.v1.payment_methods.list(params={"customer": payer.id}).data
        client.v1.customers.update(payer.id, params={
            "invoice_settings": {"default_payment_method": pms[0].id}})
    if _route(em, "POST", "/v1/billing/meters"):
        client.v1.billing.meters.create(params={"display_name": "Calls", "event_name": "calls",
                                                "default_aggregation": {"formula": "sum"}})
    if _route(em, "POST", "/v1/webhook_endpoints"):
        client.v1.webhook_endpoints.create(params={"url": "https://example.com/hook",
                                                   "enabled_events": ["*"]})
    if _route(em, "POST", "/v1/test_helpers/test_clocks"):
        clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": em.now()})
        client.v1.customers.create(params={"test_clock": clock.id})
        extra = client.v1.test_helpers.test_clocks.create(params={"frozen_time": em.now()})
        client.v1.test_helpers.test_clocks.delete(extra.id)
    if _route(em, "POST", "/v1/subscriptions"):
        price = client.v1.prices.retrieve(catalog["product"].default_price)
        client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": price.id}],
                                               "collection_method": "send_invoice", "days_until_due": 30})
    if _route(em, "GET", "/v1/invoices"):
        client.v1.invoices.list()


@pytest.fixture
def responses(emulator: Emulator) -> list[tuple[str, str, Any]]:
    """Every 2xx body the emulator answers, recorded as it goes back to the SDK."""
    bodies: list[tuple[str, str, Any]] = []
    handle = emulator.handle

    def recording(method: str, path: str, query: str, body: str, headers: dict[str, str]):
        status, hdrs, payload = handle(method, path, query, body, headers)
        if status < 300:
            bodies.append((method, path, json.loads(payload)))
        return status, hdrs, payload

    emulator.handle = recording  # type: ignore[method-assign]
    return bodies


@pytest.fixture
def scenario(client, emulator: Emulator, responses) -> list[tuple[str, str, Any]]:
    catalog = _catalog(client)
    cus = _customers(client, emulator)
    _optional_steps(client, emulator, cus, catalog)
    client.v1.events.list(params={"limit": 100})
    return responses


# --- fixtures and SDK classes ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fixtures() -> dict[str, Any]:
    if FIXTURE_FILE is None:
        pytest.fail("Stripe's fixtures3.json not found (it ships in tests/fixtures/stripe/)")
    return json.loads(FIXTURE_FILE.read_text())["resources"]


def _type_name(obj: dict[str, Any]) -> str | None:
    kind = obj.get("object")
    if not isinstance(kind, str):
        return None
    return f"deleted_{kind}" if obj.get("deleted") is True else kind


def _sdk_class(kind: str) -> type[StripeObject] | None:
    if kind not in OBJECT_CLASSES:
        return None
    module, name = OBJECT_CLASSES[kind]
    return getattr(__import__(module, fromlist=[name]), name)


def _hints(cls: type) -> dict[str, Any]:
    """Field annotations; forward references the SDK only imports for type checkers fall back to raw."""
    try:
        return typing.get_type_hints(cls, localns={**vars(stripe), **_sdk_namespace()})
    except NameError:
        out: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            out.update(getattr(klass, "__annotations__", {}))
        return out


def _sdk_namespace() -> dict[str, Any]:
    ns: dict[str, Any] = {}
    for module, name in OBJECT_CLASSES.values():
        cls = getattr(__import__(module, fromlist=[name]), name, None)
        if cls is not None:
            ns.setdefault(name, cls)
    return ns


def _literals(annotation: Any) -> set[Any]:
    if typing.get_origin(annotation) is typing.Literal:
        return set(typing.get_args(annotation))
    out: set[Any] = set()
    for arg in typing.get_args(annotation):
        out |= _literals(arg)
    return out


def _inner(cls: type | None, key: str, annotation: Any) -> type | None:
    """The SDK class of a nested hash: declared inner class, else a StripeObject in the annotation."""
    if cls is not None and key in getattr(cls, "_inner_class_types", {}):
        return cls._inner_class_types[key]
    if isinstance(annotation, type) and issubclass(annotation, StripeObject) \
            and annotation is not StripeObject:
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner(None, key, arg)
        if found is not None:
            return found
    return None


def _allows_str(annotation: Any) -> bool:
    if annotation is None or annotation is str or isinstance(annotation, typing.ForwardRef | str):
        return True
    return any(_allows_str(a) for a in typing.get_args(annotation))


# Shapes Stripe documents but fixtures3.json has no example of.
EXTRA_SHAPES = {"list": {"object": "list", "data": [], "has_more": False, "url": ""},
                "search_result": {"object": "search_result", "data": [], "has_more": False, "url": "",
                                  "next_page": None, "total_count": 0}}


class Checker:
    """Walks an emulator object together with its fixture and SDK class, collecting every mismatch."""

    def __init__(self, fixtures: dict[str, Any]) -> None:
        self.fixtures = {**EXTRA_SHAPES, **fixtures}
        self.errors: list[str] = []
        self.types: set[str] = set()

    def object(self, obj: dict[str, Any], path: str) -> None:
        kind = _type_name(obj)
        assert kind is not None
        self.types.add(kind)
        self.hash(obj, self.fixtures.get(kind), _sdk_class(obj["object"]), path)

    def hash(self, value: dict[str, Any], fixture: Any, cls: type | None, path: str) -> None:
        hints = _hints(cls) if cls is not None else {}
        if isinstance(fixture, dict):       # the example's keys, less those the pinned SDK no longer declares
            missing = sorted(k for k in set(fixture) - set(value) - OMITTED.get(str(value.get("object")), set())
                             if not hints or k in hints)
            if missing:
                self.errors.append(f"{path}: missing keys {missing}")
        for key, v in value.items():
            if key == "metadata":       # the user's own keys: nothing to compare
                continue
            fx = fixture.get(key) if isinstance(fixture, dict) else None
            self.value(v, fx, cls, key, hints.get(key), f"{path}.{key}")

    def value(self, v: Any, fx: Any, cls: type | None, key: str, ann: Any, path: str) -> None:
        if isinstance(v, str):
            self.enum(v, ann, path)
            if isinstance(fx, dict) and fx and not _allows_str(ann):
                self.errors.append(f"{path}: a string where Stripe returns a hash")
        elif isinstance(v, dict) and isinstance(v.get("object"), str):
            self.object(v, path)
        elif isinstance(v, dict) and cls is not None and key in getattr(cls, "_inner_class_dicts", []):
            for k, item in v.items():       # a hash of inner objects keyed by e.g. currency
                self.hash(item, None, _inner(cls, key, ann), f"{path}.{k}")
        elif isinstance(v, dict):
            self.hash(v, fx, _inner(cls, key, ann), path)
        elif isinstance(v, list):
            item_fx = fx[0] if isinstance(fx, list) and fx else None
            for i, item in enumerate(v):
                self.value(item, item_fx, cls, key, _item_annotation(ann), f"{path}[{i}]")

    def enum(self, v: str, ann: Any, path: str) -> None:
        allowed = {x for x in _literals(ann) if isinstance(x, str)}
        if allowed and v not in allowed:
            self.errors.append(f"{path}: {v!r} is not one of the SDK's {sorted(allowed)}")


def _item_annotation(ann: Any) -> Any:
    """``Optional[List[X]]`` -> ``X`` (what one list item is annotated as)."""
    for arg in [ann, *typing.get_args(ann)]:
        if typing.get_origin(arg) in (list, typing.List):  # noqa: UP006
            return typing.get_args(arg)[0]
    return ann


def _check(fixtures: dict[str, Any], objects: list[tuple[str, dict[str, Any]]]) -> Checker:
    checker = Checker(fixtures)
    for path, obj in objects:
        checker.object(obj, path)
    return checker


# --- the tests -------------------------------------------------------------------------------------
CORE_TYPES = {"customer", "event", "product", "price", "entitlements.feature", "product_feature"}


def test_every_stored_object_has_stripe_shape(scenario, emulator: Emulator, fixtures) -> None:
    checker = _check(fixtures, [(oid, obj) for oid, obj in emulator.store.objects.items()])
    assert checker.errors == []
    assert checker.types >= CORE_TYPES


def test_every_response_has_stripe_shape(scenario, fixtures) -> None:
    checker = _check(fixtures, [(f"{m.upper()} {p}", body) for m, p, body in scenario])
    assert checker.errors == []
    assert CORE_TYPES | {"list", "search_result", "deleted_customer", "deleted_product",
                         "deleted_product_feature"} <= checker.types


def test_every_type_is_a_stripe_type_with_a_reference(scenario, emulator: Emulator, fixtures) -> None:
    stored = {obj["object"] for obj in emulator.store.objects.values()}
    answered = {_type_name(body) for _, _, body in scenario}
    for kind in stored | answered:
        assert kind is not None
        base = kind.removeprefix("deleted_")
        assert base in OBJECT_CLASSES, f"{base} is not a Stripe object type the SDK knows"
        assert kind in fixtures or kind in KNOWN_WITHOUT_FIXTURE, (
            f"{kind} has no example in fixtures3.json: add it to KNOWN_WITHOUT_FIXTURE")


def test_scenario_expands_includable_fields(scenario) -> None:
    tiered = [b for m, p, b in scenario if m.upper() == "POST" and p == "/v1/prices" and b.get("tiers")]
    assert [t["up_to"] for t in tiered[0]["tiers"]] == [10, None]
    assert any("currency_options" in b for _, p, b in scenario if p == "/v1/prices")


# --- the checker catches what it should ----------------------------------------------------------------
def _price(fixtures: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(fixtures["price"]))


def test_checker_flags_a_missing_key(fixtures) -> None:
    price = _price(fixtures)
    del price["lookup_key"]
    del price["recurring"]["meter"]
    errors = _check(fixtures, [("p", price)]).errors
    assert errors == ["p: missing keys ['lookup_key']", "p.recurring: missing keys ['meter']"]


def test_checker_flags_enum_values_the_sdk_does_not_declare(fixtures) -> None:
    price = _price(fixtures)
    price["type"] = "sometimes"
    price["recurring"]["interval"] = "hour"
    price["tiers"] = [{"up_to": None, "unit_amount": 1, "unit_amount_decimal": "1", "flat_amount": None,
                       "flat_amount_decimal": None}]
    event = {**fixtures["event"], "type": "price.exploded", "data": {"object": price}}
    errors = _check(fixtures, [("e", event)]).errors
    assert any(e.startswith("e.type: 'price.exploded'") for e in errors)
    assert any(e.startswith("e.data.object.type: 'sometimes'") for e in errors)
    assert any(e.startswith("e.data.object.recurring.interval: 'hour'") for e in errors)
    assert len(errors) == 3


def test_checker_allows_null_for_nullable_hashes_and_ids_for_expandables(fixtures) -> None:
    customer = json.loads(json.dumps(fixtures["customer"]))
    customer["discount"] = None
    customer["invoice_settings"]["rendering_options"] = None
    product = {**fixtures["product"], "default_price": "price_123"}
    assert _check(fixtures, [("c", customer), ("p", product)]).errors == []
    bad = {**fixtures["product_feature"], "entitlement_feature": "feat_123"}
    assert _check(fixtures, [("pf", bad)]).errors == [
        "pf.entitlement_feature: a string where Stripe returns a hash"]
