"""catalog.sync against the emulator: creation, idempotency, price immutability, archiving, the mirror."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from billingos import signals
from billingos.catalog import Catalog, product_stripe_id
from billingos.catalog.models import BillingPlanFeature, BillingPrice, BillingProduct
from billingos.errors import ConflictError, StripeUnavailableError

from .conftest import base_catalog, row_counts, writes

EXAMPLE = Path(__file__).parents[2] / "example_app" / "catalog.toml"


def _stripe_prices(emulator: Any) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in emulator.store.all("price")}


def test_first_sync_creates_everything(billing, emulator, catalog: Catalog) -> None:
    report = billing.catalog.sync(catalog)
    assert report.products.created == ("basic", "pro")
    assert report.prices.created == ("basic_monthly", "pro_monthly", "pro_yearly", "pro_api")
    assert report.features.created == ("export", "api_calls")
    assert report.meters.created == ("api_calls",)
    assert set(report.plan_features.created) == {"basic:api_calls", "pro:export", "pro:api_calls"}
    assert not report.noop and not report.dry_run
    assert report.stripe_writes == len(writes(emulator)) == 1 + 2 + 2 + 4 + 3

    stripe = billing.stripe.v1
    by_key = {
        p.lookup_key: p
        for p in stripe.prices.list(
            params={"lookup_keys": ["basic_monthly", "pro_monthly", "pro_yearly", "pro_api"]}
        ).data
    }
    assert by_key["pro_monthly"].unit_amount == 2900
    assert by_key["pro_monthly"].product == product_stripe_id("pro")
    assert by_key["pro_yearly"].recurring.interval == "year"
    product = stripe.products.retrieve(product_stripe_id("pro"))
    assert product.name == "Pro" and product.description == "For teams"
    assert product.metadata.to_dict() == {
        "billingos_key": "pro",
        "billingos_limit.api_calls": "10000/month/rollover",
    }
    feature = stripe.entitlements.features.list(params={"lookup_key": "export"}).data[0]
    assert feature.name == "Export"
    attached = stripe.products.features.list(product_stripe_id("pro")).data
    assert sorted(a.entitlement_feature.lookup_key for a in attached) == ["api_calls", "export"]


def test_local_mirror_matches_stripe(billing, emulator, catalog: Catalog) -> None:
    billing.catalog.sync(catalog)
    assert row_counts(billing) == {
        "billing_products": 2,
        "billing_prices": 4,
        "billing_features": 2,
        "billing_plan_features": 3,
        "billing_meters": 1,
    }
    with billing.session_factory() as s:
        for row in s.scalars(select(BillingPrice)):
            obj = emulator.store.objects[row.stripe_id]
            assert (row.lookup_key, row.product, row.active, row.currency, row.unit_amount) == (
                obj["lookup_key"],
                obj["product"],
                obj["active"],
                obj["currency"],
                obj["unit_amount"],
            )
            assert row.data["id"] == obj["id"]
        for row in s.scalars(select(BillingProduct)):
            obj = emulator.store.objects[row.stripe_id]
            assert (row.key, row.name, row.active, row.stripe_metadata) == (
                obj["metadata"]["billingos_key"],
                obj["name"],
                obj["active"],
                obj["metadata"],
            )
    price = billing.catalog.price("pro_api")
    assert price.unit_amount is None
    assert price.unit_amount_decimal == Decimal("0.25")
    assert price.product_key == "pro"


def test_second_sync_is_a_noop_with_zero_writes(billing, emulator, catalog: Catalog) -> None:
    billing.catalog.sync(catalog)
    mark = len(emulator.request_log)
    report = billing.catalog.sync(Catalog(**base_catalog()))  # an equal catalog, built anew
    assert report.noop
    assert report.stripe_writes == 0
    assert writes(emulator, mark) == []
    assert [m for m, _, _ in emulator.request_log[mark:] if m == "POST"] == []
    assert report.prices.unchanged == ("basic_monthly", "pro_monthly", "pro_yearly", "pro_api")
    assert report.products.unchanged == ("basic", "pro")
    assert report.summary() == "catalog is up to date (no changes)"


def test_changed_price_creates_new_price_and_archives_old(billing, emulator, catalog: Catalog) -> None:
    billing.catalog.sync(catalog)
    old = billing.catalog.price("pro_monthly")
    data = base_catalog()
    data["products"][1]["prices"][0]["unit_amount"] = 3900
    report = billing.catalog.sync(data)
    assert report.prices.replaced == ("pro_monthly",)
    assert report.prices.unchanged == ("basic_monthly", "pro_yearly", "pro_api")
    assert report.stripe_writes == 2  # create the new price, archive the old one

    new = billing.catalog.price("pro_monthly")
    assert new.id != old.id and new.unit_amount == 3900 and new.active
    stripe_old = emulator.store.objects[old.id]
    assert stripe_old["active"] is False and stripe_old["lookup_key"] is None  # key transferred
    assert emulator.store.objects[new.id]["lookup_key"] == "pro_monthly"
    archived = billing.catalog.price(old.id)
    assert archived.active is False and archived.lookup_key is None and archived.unit_amount == 2900
    assert [p.lookup_key for p in billing.catalog.prices("pro")] == ["pro_yearly", "pro_api", "pro_monthly"]
    assert billing.catalog.sync(data).noop


@pytest.mark.parametrize(
    "change",
    [
        {"interval": "year"},
        {"interval_count": 3},
        {"currency": "eur"},
        {"trial_period_days": 14},
        {"unit_amount": None, "unit_amount_decimal": "2900.5"},
        {
            "unit_amount": None,
            "tiers_mode": "graduated",
            "tiers": [{"up_to": 5, "unit_amount": 2900}, {"up_to": "inf", "unit_amount": 2000}],
        },
        {"transform_quantity": {"divide_by": 10, "round": "down"}},
    ],
)
def test_any_immutable_change_replaces_the_price(billing, emulator, change: dict[str, Any]) -> None:
    billing.catalog.sync(base_catalog())
    old_id = billing.catalog.price("pro_monthly").id
    data = base_catalog()
    data["products"][1]["prices"][0].update(change)
    report = billing.catalog.sync(data)
    assert report.prices.replaced == ("pro_monthly",)
    assert emulator.store.objects[old_id]["active"] is False
    assert billing.catalog.sync(data).noop  # the new price compares equal to its declaration


def test_mutable_price_changes_update_in_place(billing, emulator) -> None:
    billing.catalog.sync(base_catalog())
    before = billing.catalog.price("pro_monthly")
    data = base_catalog()
    data["products"][1]["prices"][0].update(nickname="Pro (monthly)", metadata={"plan": "pro"})
    report = billing.catalog.sync(data)
    assert report.prices.updated == ("pro_monthly",) and report.stripe_writes == 1
    after = billing.catalog.price("pro_monthly")
    assert after.id == before.id
    assert after.nickname == "Pro (monthly)"
    assert after.metadata == {"plan": "pro", "billingos_product": "pro"}
    data["products"][1]["prices"][0].update(nickname=None, metadata={})
    billing.catalog.sync(data)
    assert billing.catalog.price("pro_monthly").nickname is None
    assert billing.catalog.price("pro_monthly").metadata == {"billingos_product": "pro"}


def test_removed_product_and_prices_are_archived_not_deleted(billing, emulator) -> None:
    billing.catalog.sync(base_catalog())
    basic_price = billing.catalog.price("basic_monthly")
    data = base_catalog()
    del data["products"][0]
    data["products"][0]["prices"].pop(1)  # pro_yearly removed too
    report = billing.catalog.sync(data)
    assert report.products.archived == ("basic",)
    assert set(report.prices.archived) == {"basic_monthly", "pro_yearly"}
    assert emulator.store.objects[product_stripe_id("basic")]["active"] is False
    assert product_stripe_id("basic") not in emulator.store.deleted
    assert emulator.store.objects[basic_price.id]["active"] is False
    assert billing.catalog.product("basic").active is False
    assert [p.key for p in billing.catalog.products()] == ["pro"]
    assert {p.lookup_key for p in billing.catalog.prices(active=False)} == {"basic_monthly", "pro_yearly"}
    assert billing.catalog.sync(data).noop

    report = billing.catalog.sync(base_catalog())  # declared again: reactivated, not duplicated
    assert report.products.updated == ("basic",)
    assert set(report.prices.updated) == {"basic_monthly", "pro_yearly"}
    assert billing.catalog.price("basic_monthly").id == basic_price.id
    assert billing.catalog.price("basic_monthly").active


def test_keep_removed_leaves_undeclared_objects_alone(billing, emulator) -> None:
    billing.catalog.sync(base_catalog())
    data = base_catalog()
    del data["products"][0]
    report = billing.catalog.sync(data, archive_removed=False)
    assert report.noop
    assert emulator.store.objects[product_stripe_id("basic")]["active"] is True


def test_objects_billingos_does_not_own_are_never_archived(billing, emulator) -> None:
    stripe = billing.stripe.v1
    billing.catalog.sync(base_catalog())
    # a price added by hand in the dashboard on a billingos product, and a hand-made feature
    manual = stripe.prices.create(
        params={
            "product": product_stripe_id("pro"),
            "currency": "usd",
            "unit_amount": 123,
            "recurring": {"interval": "month"},
        }
    )
    stripe.entitlements.features.create(params={"name": "Beta", "lookup_key": "beta"})
    report = billing.catalog.sync(base_catalog())
    assert report.noop
    assert emulator.store.objects[manual.id]["active"] is True


def test_metered_price_is_linked_to_its_meter(billing, emulator, catalog: Catalog) -> None:
    billing.catalog.sync(catalog)
    meter = billing.catalog.meter("api_calls")
    assert meter.aggregation == "sum" and meter.status == "active"
    stripe_meter = emulator.store.objects[meter.id]
    assert stripe_meter["event_name"] == "api_calls"
    price = billing.catalog.price("pro_api")
    assert price.usage_type == "metered" and price.meter == meter.id
    assert emulator.store.objects[price.id]["recurring"]["meter"] == meter.id
    assert billing.catalog.feature("api_calls").meter == "api_calls"
    assert billing.catalog.feature("api_calls").type == "metered"


def test_meter_display_name_updates_but_aggregation_conflicts(billing, emulator) -> None:
    billing.catalog.sync(base_catalog())
    report = billing.catalog.sync(
        base_catalog(meters=[{"event_name": "api_calls", "display_name": "Requests"}])
    )
    assert report.meters.updated == ("api_calls",)
    assert billing.catalog.meter("api_calls").display_name == "Requests"
    mark = len(emulator.request_log)
    with pytest.raises(ConflictError, match=r"meter 'api_calls'.*cannot change"):
        billing.catalog.sync(
            base_catalog(
                meters=[{"event_name": "api_calls", "display_name": "Requests", "aggregation": "count"}]
            )
        )
    assert writes(emulator, mark) == []


def test_plan_feature_limits_are_mirrored_and_updated(billing, emulator) -> None:
    billing.catalog.sync(base_catalog())
    pro = {f.feature_key: f for f in billing.catalog.plan_features("pro")}
    assert pro["export"].type == "boolean" and pro["export"].limit is None
    assert (
        pro["api_calls"].type,
        pro["api_calls"].limit,
        pro["api_calls"].reset,
        pro["api_calls"].rollover,
    ) == ("metered", 10000, "month", True)
    basic = billing.catalog.plan_features("basic")
    assert [(f.feature_key, f.limit, f.reset, f.rollover) for f in basic] == [
        ("api_calls", 1000, "billing_period", False)
    ]

    data = base_catalog()
    data["products"][0]["features"] = ["export", {"key": "api_calls", "limit": "unlimited"}]
    data["products"][1]["features"] = [
        {"key": "api_calls", "limit": 20000, "reset": "month", "rollover": True}
    ]
    report = billing.catalog.sync(data)
    assert report.plan_features.created == ("basic:export",)
    assert report.plan_features.archived == ("pro:export",)
    assert set(report.plan_features.updated) == {"basic:api_calls", "pro:api_calls"}
    basic = {f.feature_key: f for f in billing.catalog.plan_features("basic")}
    assert basic["api_calls"].unlimited and basic["api_calls"].limit is None
    assert [f.feature_key for f in billing.catalog.plan_features("pro")] == ["api_calls"]
    assert billing.catalog.plan_features("pro")[0].limit == 20000
    stripe_meta = emulator.store.objects[product_stripe_id("basic")]["metadata"]
    assert stripe_meta["billingos_limit.api_calls"] == "unlimited/billing_period"
    with billing.session_factory() as s:
        assert (
            s.scalar(select(BillingPlanFeature.limit_value).where(BillingPlanFeature.product_key == "pro"))
            == 20000
        )
    assert billing.catalog.sync(data).noop


def test_removed_feature_is_detached_and_archived(billing, emulator) -> None:
    billing.catalog.sync(base_catalog())
    data = base_catalog()
    data["features"] = data["features"][1:]
    data["products"][1]["features"] = data["products"][1]["features"][1:]
    report = billing.catalog.sync(data)
    assert report.features.archived == ("export",)
    assert report.plan_features.archived == ("pro:export",)
    assert billing.catalog.feature("export").active is False
    assert [f.key for f in billing.catalog.features()] == ["api_calls"]
    report = billing.catalog.sync(base_catalog())
    assert report.features.updated == ("export",) and report.plan_features.created == ("pro:export",)


def test_dry_run_reports_without_writing(billing, emulator, catalog: Catalog) -> None:
    plan = billing.catalog.sync(catalog, dry_run=True)
    assert plan.dry_run and not plan.noop
    assert plan.prices.created == ("basic_monthly", "pro_monthly", "pro_yearly", "pro_api")
    assert writes(emulator) == [] and set(row_counts(billing).values()) == {0}
    assert plan.summary().startswith("dry run: would change")
    report = billing.catalog.sync(catalog)
    assert report.model_dump(exclude={"dry_run", "stripe_writes"}) == plan.model_dump(
        exclude={"dry_run", "stripe_writes"}
    )
    assert billing.catalog.plan(catalog).noop


def test_signal_fires_after_commit_with_the_report(billing, catalog: Catalog) -> None:
    seen: list[Any] = []

    def receiver(sender: Any, report: Any) -> None:
        with billing.session_factory() as s:  # committed: another session sees the rows
            seen.append(
                (sender, report, s.scalar(select(BillingProduct.key).where(BillingProduct.key == "pro")))
            )

    signals.catalog_synced.connect(receiver)
    try:
        report = billing.catalog.sync(catalog)
        billing.catalog.sync(catalog, dry_run=True)  # a dry run sends nothing
    finally:
        signals.catalog_synced.disconnect(receiver)
    assert seen == [(billing, report, "pro")]


def test_stripe_failure_midway_then_rerun_finishes_without_duplicates(
    billing, emulator, catalog: Catalog
) -> None:
    emulator.faults.fail_paths.add(f"/v1/products/{product_stripe_id('pro')}/features")  # attaching fails
    with pytest.raises(StripeUnavailableError):
        billing.catalog.sync(catalog)
    assert len(emulator.store.all("product")) == 2 and len(emulator.store.all("price")) == 4
    assert row_counts(billing)["billing_prices"] == 4  # the mirror follows what Stripe now holds
    emulator.faults.reset()
    report = billing.catalog.sync(catalog)
    assert report.products.unchanged == ("basic", "pro")
    assert report.prices.unchanged == ("basic_monthly", "pro_monthly", "pro_yearly", "pro_api")
    assert set(report.plan_features.created) == {"pro:export", "pro:api_calls"}
    assert len(emulator.store.all("product")) == 2 and len(emulator.store.all("price")) == 4
    assert len(emulator.store.all("billing.meter")) == 1
    assert len(billing.catalog.plan_features("pro")) == 2
    assert billing.catalog.sync(catalog).noop


def test_lost_response_after_stripe_created_the_price(billing, emulator, catalog: Catalog) -> None:
    """Stripe made the price but the answer was a 500: the rerun finds it by lookup key."""
    from billingos.emulator import StripeError

    lost: list[str] = []

    def drop_answer(event: dict[str, Any]) -> None:
        if event["type"] == "price.created" and not lost:
            lost.append(event["data"]["object"]["id"])
            raise StripeError("connection reset", status=500, type="api_error")

    emulator.hooks.event.append(drop_answer)
    with pytest.raises(StripeUnavailableError):
        billing.catalog.sync(catalog)
    report = billing.catalog.sync(catalog)
    assert lost and report.prices.unchanged[0] == "basic_monthly"
    assert billing.catalog.price("basic_monthly").id == lost[0]
    assert len(emulator.store.all("price")) == 4
    assert billing.catalog.sync(catalog).noop


def test_tiered_and_package_prices(billing, emulator) -> None:
    data = base_catalog()
    data["products"][1]["prices"] += [
        {
            "lookup_key": "seats",
            "currency": "usd",
            "interval": "month",
            "tiers_mode": "graduated",
            "tiers": [
                {"up_to": 5, "flat_amount": 9900, "unit_amount": 0},
                {"up_to": "inf", "unit_amount_decimal": "1500.5"},
            ],
        },
        {
            "lookup_key": "sms_pack",
            "currency": "usd",
            "unit_amount": 1000,
            "transform_quantity": {"divide_by": 100, "round": "up"},
        },
        {"lookup_key": "yen", "currency": "jpy", "unit_amount": 500, "interval": "week", "interval_count": 2},
    ]
    billing.catalog.sync(data)
    seats = billing.catalog.price("seats")
    assert seats.billing_scheme == "tiered" and seats.tiers_mode == "graduated"
    assert seats.tiers is not None and [t["up_to"] for t in seats.tiers] == [5, None]
    assert Decimal(seats.tiers[1]["unit_amount_decimal"]) == Decimal("1500.5")
    pack = billing.catalog.price("sms_pack")
    assert pack.type == "one_time" and pack.transform_quantity == {"divide_by": 100, "round": "up"}
    yen = billing.catalog.price("yen")
    assert (yen.currency, yen.unit_amount, yen.interval, yen.interval_count) == ("jpy", 500, "week", 2)
    assert billing.catalog.sync(copy.deepcopy(data)).noop


def test_example_app_catalog_syncs(billing, emulator) -> None:
    report = billing.catalog.sync(EXAMPLE)  # a path works too
    assert report.products.created == ("free", "pro", "team")
    assert {f.key for f in billing.catalog.features()} == {"custom_slugs", "export", "sso", "priority_support",
                                                           "api_calls"}
    limits = {
        k: next(f.limit for f in billing.catalog.plan_features(k) if f.feature_key == "api_calls")
        for k in ("free", "pro", "team")
    }
    assert limits == {"free": 1000, "pro": 10000, "team": 100000}
    assert {f.feature_key for f in billing.catalog.plan_features("team")} == {
        "custom_slugs",
        "export",
        "sso",
        "priority_support",
        "api_calls",
    }
    assert billing.catalog.price("pro_api_calls").meter == billing.catalog.meter("api_calls").id
    mark = len(emulator.request_log)
    assert billing.catalog.sync(str(EXAMPLE)).noop
    assert writes(emulator, mark) == []
