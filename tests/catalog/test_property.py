"""Property: for any valid catalog, and any change from one valid catalog to another, sync leaves
Stripe matching the declaration, the mirror matching Stripe, and a repeat sync writing nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from billingos import Billing
from billingos.catalog import Catalog
from billingos.catalog.models import (
    BillingFeature,
    BillingMeter,
    BillingPlanFeature,
    BillingPrice,
    BillingProduct,
    as_decimal,
)
from billingos.clock import FrozenClock
from billingos.emulator import Emulator

METERS = {"api_calls": "sum", "storage": "last"}  # one aggregation per event name, as Stripe requires
BOOLEAN = ["export", "sso"]
METERED = ["api_calls", "storage", "seats"]
PRODUCTS = ["free", "pro", "team", "ent.eu"]


@st.composite
def tiers(draw: Any) -> list[dict[str, Any]]:
    first = draw(st.integers(1, 50))
    return [
        {"up_to": first, "unit_amount": draw(st.integers(0, 5000))},
        {
            "up_to": "inf",
            "unit_amount_decimal": str(draw(st.decimals(0, 100, places=3))),
            "flat_amount": draw(st.integers(0, 1000)),
        },
    ]


@st.composite
def price(draw: Any, lookup_key: str, meters: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"lookup_key": lookup_key, "currency": draw(st.sampled_from(["usd", "eur", "jpy"]))}
    kind = draw(
        st.sampled_from(["int", "decimal", "tiers", "metered"] if meters else ["int", "decimal", "tiers"])
    )
    if kind == "tiers":
        out.update(tiers=draw(tiers()), tiers_mode=draw(st.sampled_from(["graduated", "volume"])))
    elif kind == "decimal":
        out["unit_amount_decimal"] = str(draw(st.decimals(0, 10_000, places=4)))
    else:
        out["unit_amount"] = draw(st.integers(0, 100_000))
    interval = draw(st.sampled_from([None, "month", "year"])) if kind != "metered" else "month"
    if interval:
        out.update(interval=interval, interval_count=draw(st.integers(1, 3 if interval == "year" else 12)))
    if kind == "metered":
        out.update(usage_type="metered", meter=draw(st.sampled_from(meters)))
    if draw(st.booleans()):
        out["nickname"] = draw(st.sampled_from(["Monthly", "Yearly", "Special"]))
    out["active"] = draw(st.booleans()) or draw(st.booleans())
    return out


@st.composite
def catalogs(draw: Any) -> dict[str, Any]:
    meters = draw(st.lists(st.sampled_from(sorted(METERS)), unique=True, max_size=2))
    metered = draw(st.lists(st.sampled_from(METERED), unique=True, max_size=2))
    boolean = draw(st.lists(st.sampled_from(BOOLEAN), unique=True, max_size=2))
    features = [{"key": k, "name": k.title()} for k in boolean]
    features += [
        {"key": k, "name": k.title(), "type": "metered", **({"meter": k} if k in meters else {})}
        for k in metered
    ]
    products = []
    for key in draw(st.lists(st.sampled_from(PRODUCTS), unique=True, min_size=1, max_size=3)):
        plan = [f for f in boolean if draw(st.booleans())]
        plan += [
            {
                "key": f,
                "limit": draw(st.one_of(st.integers(0, 10**6), st.just("unlimited"))),
                "reset": draw(st.sampled_from(["billing_period", "month", "day"])),
                "rollover": draw(st.booleans()),
            }
            for f in metered
            if draw(st.booleans())
        ]
        n = draw(st.integers(0, 3))
        products.append(
            {
                "key": key,
                "name": draw(st.sampled_from([key.title(), key.upper()])),
                "active": draw(st.booleans()) or draw(st.booleans()),
                "features": plan,
                "prices": [draw(price(f"{key}_{i}", meters)) for i in range(n)],
            }
        )
    return {
        "meters": [{"event_name": m, "display_name": m.title(), "aggregation": METERS[m]} for m in meters],
        "features": features,
        "products": products,
    }


def _fresh(engine: Any) -> tuple[Billing, Emulator]:
    with engine.begin() as conn:
        for model in (BillingPlanFeature, BillingPrice, BillingProduct, BillingFeature, BillingMeter):
            conn.execute(delete(model))
    clock = FrozenClock()
    emulator = Emulator(clock=clock)
    return Billing(engine=engine, emulator=emulator, clock=clock), emulator


def _assert_mirror_equals_stripe(billing: Billing, emulator: Emulator) -> None:
    with billing.session_factory() as s:
        prices = {r.stripe_id: r for r in s.scalars(select(BillingPrice))}
        products = {r.stripe_id: r for r in s.scalars(select(BillingProduct))}
        features = {r.stripe_id: r for r in s.scalars(select(BillingFeature))}
        meters = {r.stripe_id: r for r in s.scalars(select(BillingMeter))}
        plan = {(r.product, r.feature_key): r for r in s.scalars(select(BillingPlanFeature))}
    store = emulator.store
    assert set(prices) == {p["id"] for p in store.all("price")}
    for p in store.all("price"):
        row = prices[p["id"]]
        dec = p["unit_amount_decimal"]
        assert (row.lookup_key, row.active, row.product, row.currency, row.unit_amount, row.nickname) == (
            p["lookup_key"],
            p["active"],
            p["product"],
            p["currency"],
            p["unit_amount"],
            p["nickname"],
        )
        assert as_decimal(row.unit_amount_decimal) == (None if dec is None else Decimal(dec))
        assert row.tiers_mode == p["tiers_mode"] and row.meter == (p["recurring"] or {}).get("meter")
    assert set(products) == {p["id"] for p in store.all("product")}
    for p in store.all("product"):
        row = products[p["id"]]
        assert (row.name, row.active, row.stripe_metadata, row.key) == (
            p["name"],
            p["active"],
            p["metadata"],
            p["metadata"]["billingos_key"],
        )
        attached = billing.stripe.v1.products.features.list(p["id"]).data
        assert {k for pid, k in plan if pid == p["id"]} == {
            a.entitlement_feature.lookup_key for a in attached
        }
    assert {(r.lookup_key, r.active, r.name) for r in features.values()} == {
        (f["lookup_key"], f["active"], f["name"]) for f in store.all("entitlements.feature")
    }
    assert {(r.event_name, r.status, r.display_name) for r in meters.values()} == {
        (m["event_name"], m["status"], m["display_name"]) for m in store.all("billing.meter")
    }


def _assert_stripe_matches(billing: Billing, catalog: Catalog) -> None:
    for product, declared in catalog.prices():
        got = billing.catalog.price(declared.lookup_key)
        assert got.product_key == product.key and got.active == declared.active
        assert got.currency == declared.currency and got.interval == declared.interval
        if declared.unit_amount is not None:
            assert got.unit_amount == declared.unit_amount
        if declared.unit_amount_decimal is not None:
            assert got.unit_amount_decimal == declared.unit_amount_decimal
    for product in catalog.products:
        got_features = {f.feature_key: f for f in billing.catalog.plan_features(product.key)}
        assert set(got_features) == {f.key for f in product.features}
        for pf in product.features:
            if pf.limit is not None:
                info = got_features[pf.key]
                assert (
                    info.unlimited,
                    info.limit if not info.unlimited else "unlimited",
                    info.reset,
                    info.rollover,
                ) == (pf.limit == "unlimited", pf.limit, pf.reset, pf.rollover)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=catalogs(), second=catalogs())
def test_sync_converges_and_repeats_as_noop(
    engine: Any, first: dict[str, Any], second: dict[str, Any]
) -> None:
    billing, emulator = _fresh(engine)
    for data in (first, second):
        catalog = Catalog(**data)
        billing.catalog.sync(catalog)
        mark = len(emulator.request_log)
        again = billing.catalog.sync(catalog)
        assert again.noop, again.lines()
        assert [r for r in emulator.request_log[mark:] if r[0] != "GET"] == []
        _assert_stripe_matches(billing, catalog)
        _assert_mirror_equals_stripe(billing, emulator)
