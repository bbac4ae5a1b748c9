"""Compare a declared catalog with Stripe's state and list the writes that would make them equal.

Reading Stripe (``fetch_remote``) only makes GET requests; ``make_plan`` is pure. The service runs
the plan (``execute``), so a dry run is simply a plan that is not run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..errors import ConflictError
from ..stripe_api import call_stripe
from .mirror import KEY_META, MANAGED_META, PRICE_PRODUCT_META, plain
from .schemas import LIMIT_PREFIX, Catalog, Feature, Meter, Price, Product

__all__ = [
    "Op",
    "Plan",
    "Remote",
    "desired_price_signature",
    "feature_metadata",
    "fetch_remote",
    "make_plan",
    "metadata_patch",
    "price_metadata",
    "price_signature",
    "product_metadata",
]

NEW = "<new>"  # the id of an object the plan will create


@dataclass
class Remote:
    """What Stripe holds that the catalog may touch."""

    meters: list[dict[str, Any]] = field(default_factory=list)
    features: dict[str, dict[str, Any]] = field(default_factory=dict)  # lookup_key -> feature
    products: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> product
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)  # lookup_key -> price
    product_prices: dict[str, list[dict[str, Any]]] = field(
        default_factory=dict
    )  # product id -> active prices
    attached: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # product id -> product_features

    def active_meter(self, event_name: str) -> dict[str, Any] | None:
        return next(
            (m for m in self.meters if m["event_name"] == event_name and m["status"] == "active"), None
        )

    def managed_products(self) -> list[dict[str, Any]]:
        return [p for p in self.products.values() if (p.get("metadata") or {}).get(KEY_META)]


@dataclass
class Op:
    """One Stripe write. ``name`` is what the report shows (product key, lookup key, feature key...)."""

    kind: str  # meter | feature | product | price | plan_feature
    action: str  # create | update | reactivate | replace | archive | attach | detach
    name: str
    target: dict[str, Any] | None = None  # the current Stripe object, if any
    decl: Any = None  # the declaration it comes from
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    ops: list[Op] = field(default_factory=list)
    unchanged: dict[str, list[str]] = field(default_factory=dict)
    limit_changes: list[str] = field(default_factory=list)  # "product:feature" whose limit changes

    def keep(self, kind: str, name: str) -> None:
        self.unchanged.setdefault(kind, []).append(name)


# --- reading Stripe -----------------------------------------------------------------------------
def _all(
    list_fn: Callable[..., Any], params: dict[str, Any] | None = None, *args: Any
) -> Iterator[dict[str, Any]]:
    page = call_stripe(list_fn, *args, params={"limit": 100, **(params or {})})
    for obj in page.auto_paging_iter():
        yield plain(obj)


def fetch_remote(stripe: Any, catalog: Catalog) -> Remote:
    """Everything the plan needs, in GET requests only."""
    v1 = stripe.v1
    remote = Remote()
    remote.meters = list(_all(v1.billing.meters.list))
    remote.features = {f["lookup_key"]: f for f in _all(v1.entitlements.features.list)}
    remote.products = {p["id"]: p for p in _all(v1.products.list)}
    keys = [pr.lookup_key for _, pr in catalog.prices()]
    for i in range(0, len(keys), 10):  # Stripe takes at most 10 lookup keys per request
        for price in _all(v1.prices.list, {"lookup_keys": keys[i : i + 10], "expand": ["data.tiers"]}):
            remote.prices[price["lookup_key"]] = price
    wanted = {p.id for p in catalog.products if p.id in remote.products}
    for pid in sorted(wanted | {p["id"] for p in remote.managed_products()}):
        remote.product_prices[pid] = list(
            _all(v1.prices.list, {"product": pid, "active": True, "expand": ["data.tiers"]})
        )
        remote.attached[pid] = list(_all(v1.products.features.list, None, pid))
    return remote


# --- desired state ------------------------------------------------------------------------------
def product_metadata(p: Product, features: dict[str, Feature]) -> dict[str, str]:
    meta = {**p.metadata, KEY_META: p.key}
    for pf in p.features:
        if features[pf.key].type == "metered":
            meta[LIMIT_PREFIX + pf.key] = pf.metadata_value()
    return meta


def feature_metadata(f: Feature) -> dict[str, str]:
    meta = {**f.metadata, MANAGED_META: "true", "billingos_type": f.type}
    if f.meter is not None:
        meta["billingos_meter"] = f.meter
    if f.description is not None:
        meta["billingos_description"] = f.description
    return meta


def price_metadata(p: Product, pr: Price) -> dict[str, str]:
    return {**pr.metadata, PRICE_PRODUCT_META: p.key}


def metadata_patch(current: dict[str, Any] | None, desired: dict[str, str]) -> dict[str, str] | None:
    """Stripe merges metadata: send the desired keys and '' for keys to remove; None when equal."""
    current = dict(current or {})
    if current == desired:
        return None
    return {**{k: "" for k in current if k not in desired}, **desired}


def _dec(decimal: Any, integer: Any = None) -> Decimal | None:
    if decimal is not None:
        return Decimal(str(decimal))
    return None if integer is None else Decimal(integer)


def price_signature(obj: dict[str, Any]) -> tuple[Any, ...]:
    """The immutable part of a Stripe price: if it differs, a new price is needed."""
    rec = obj.get("recurring") or {}
    tiered = obj.get("billing_scheme") == "tiered"
    tiers = (
        tuple(
            (
                t.get("up_to"),
                _dec(t.get("unit_amount_decimal"), t.get("unit_amount")) or Decimal(0),
                _dec(t.get("flat_amount_decimal"), t.get("flat_amount")) or Decimal(0),
            )
            for t in obj.get("tiers") or ()
        )
        if tiered
        else None
    )
    tq = obj.get("transform_quantity")
    return (
        obj.get("product"),
        obj.get("currency"),
        "tiered" if tiered else "per_unit",
        None if tiered else _dec(obj.get("unit_amount_decimal"), obj.get("unit_amount")),
        obj.get("tiers_mode") if tiered else None,
        tiers,
        (int(tq["divide_by"]), tq["round"]) if tq else None,
        rec.get("interval"),
        rec.get("interval_count") if rec else None,
        rec.get("usage_type") if rec else None,
        rec.get("meter"),
        rec.get("trial_period_days"),
    )


def desired_price_signature(product_id: str, pr: Price, meter_id: str | None) -> tuple[Any, ...]:
    tiers = None
    if pr.tiers is not None:
        tiers = tuple(
            (
                None if t.up_to == "inf" else t.up_to,
                _dec(t.unit_amount_decimal, t.unit_amount) or Decimal(0),
                _dec(t.flat_amount_decimal, t.flat_amount) or Decimal(0),
            )
            for t in pr.tiers
        )
    tq = pr.transform_quantity
    return (
        product_id,
        pr.currency,
        "tiered" if pr.tiers else "per_unit",
        None if pr.tiers else _dec(pr.unit_amount_decimal, pr.unit_amount),
        pr.tiers_mode,
        tiers,
        (tq.divide_by, tq.round) if tq else None,
        pr.interval,
        pr.interval_count if pr.interval else None,
        pr.usage_type if pr.interval else None,
        meter_id,
        pr.trial_period_days,
    )


# --- the plan -----------------------------------------------------------------------------------
def make_plan(catalog: Catalog, remote: Remote, *, archive_removed: bool = True) -> Plan:
    plan = Plan()
    meter_ids = _plan_meters(plan, catalog.meters, remote)
    _plan_features(plan, catalog, remote, archive_removed)
    _plan_products(plan, catalog, remote, archive_removed)
    _plan_prices(plan, catalog, remote, meter_ids, archive_removed)
    _plan_plan_features(plan, catalog, remote, archive_removed)
    return plan


def _plan_meters(plan: Plan, meters: Iterable[Meter], remote: Remote) -> dict[str, str]:
    ids: dict[str, str] = {}
    for m in meters:
        current = remote.active_meter(m.event_name)
        if current is None:
            plan.ops.append(
                Op(
                    "meter",
                    "create",
                    m.event_name,
                    decl=m,
                    extra={"previous": [x["id"] for x in remote.meters if x["event_name"] == m.event_name]},
                )
            )
            ids[m.event_name] = NEW
            continue
        fixed = (
            (current.get("default_aggregation") or {}).get("formula"),
            (current.get("customer_mapping") or {}).get("event_payload_key"),
            (current.get("value_settings") or {}).get("event_payload_key"),
        )
        if fixed != (m.aggregation, m.customer_payload_key, m.value_payload_key):
            raise ConflictError(
                f"meter {m.event_name!r}: Stripe's active meter {current['id']} aggregates {fixed[0]!r} with "
                f"customer key {fixed[1]!r} and value key {fixed[2]!r}, and a meter cannot change these. "
                "Declare a new event_name, or deactivate the old meter in Stripe first (its subscribers stop "
                "being billed for usage). Nothing was written.",
                param="meters",
            )
        ids[m.event_name] = current["id"]
        if current.get("display_name") != m.display_name:
            plan.ops.append(Op("meter", "update", m.event_name, target=current, decl=m))
        else:
            plan.keep("meters", m.event_name)
    return ids


def _plan_features(plan: Plan, catalog: Catalog, remote: Remote, archive_removed: bool) -> None:
    declared = {f.key for f in catalog.features}
    for f in catalog.features:
        current = remote.features.get(f.key)
        if current is None:
            plan.ops.append(Op("feature", "create", f.key, decl=f))
        elif (
            current.get("name") != f.name
            or not current.get("active", True)
            or metadata_patch(current.get("metadata"), feature_metadata(f)) is not None
        ):
            action = "update" if current.get("active", True) else "reactivate"
            plan.ops.append(Op("feature", action, f.key, target=current, decl=f))
        else:
            plan.keep("features", f.key)
    if archive_removed:
        for key, current in sorted(remote.features.items()):
            meta = current.get("metadata") or {}
            if key not in declared and meta.get(MANAGED_META) == "true" and current.get("active", True):
                plan.ops.append(Op("feature", "archive", key, target=current))


def _plan_products(plan: Plan, catalog: Catalog, remote: Remote, archive_removed: bool) -> None:
    features = {f.key: f for f in catalog.features}
    for p in catalog.products:
        current = remote.products.get(p.id)
        if current is None:
            plan.ops.append(Op("product", "create", p.key, decl=p))
            continue
        meta = product_metadata(p, features)
        changed = (
            current.get("name") != p.name
            or (current.get("description") or None) != p.description
            or bool(current.get("active", True)) != p.active
            or metadata_patch(current.get("metadata"), meta) is not None
        )
        if changed:
            action = "reactivate" if p.active and not current.get("active", True) else "update"
            plan.ops.append(Op("product", action, p.key, target=current, decl=p))
        else:
            plan.keep("products", p.key)
        old = current.get("metadata") or {}
        for pf in p.features:
            k = LIMIT_PREFIX + pf.key
            if k in meta and k in old and old[k] != meta[k]:
                plan.limit_changes.append(f"{p.key}:{pf.key}")
    if archive_removed:
        declared = {p.id for p in catalog.products}
        for current in remote.managed_products():
            if current["id"] not in declared and current.get("active", True):
                plan.ops.append(Op("product", "archive", current["metadata"][KEY_META], target=current))


def _plan_prices(
    plan: Plan, catalog: Catalog, remote: Remote, meter_ids: dict[str, str], archive_removed: bool
) -> None:
    for p, pr in catalog.prices():
        current = remote.prices.get(pr.lookup_key)
        meter = None if pr.meter is None else meter_ids[pr.meter]
        if current is None:
            plan.ops.append(Op("price", "create", pr.lookup_key, decl=(p, pr)))
            continue
        if price_signature(current) != desired_price_signature(p.id, pr, meter):
            plan.ops.append(Op("price", "replace", pr.lookup_key, target=current, decl=(p, pr)))
        elif (
            bool(current.get("active", True)) != pr.active
            or (current.get("nickname") or None) != pr.nickname
            or metadata_patch(current.get("metadata"), price_metadata(p, pr)) is not None
        ):
            plan.ops.append(Op("price", "update", pr.lookup_key, target=current, decl=(p, pr)))
        else:
            plan.keep("prices", pr.lookup_key)
    if not archive_removed:
        return
    declared = {pr.lookup_key for _, pr in catalog.prices()}
    for _, prices in sorted(remote.product_prices.items()):
        for price in prices:
            owned = PRICE_PRODUCT_META in (price.get("metadata") or {})
            if owned and price.get("active", True) and price.get("lookup_key") not in declared:
                plan.ops.append(Op("price", "archive", price.get("lookup_key") or price["id"], target=price))


def _plan_plan_features(plan: Plan, catalog: Catalog, remote: Remote, archive_removed: bool) -> None:
    declared_features = {f.key for f in catalog.features}
    for p in catalog.products:
        attached = {a["entitlement_feature"]["lookup_key"]: a for a in remote.attached.get(p.id, [])}
        for pf in p.features:
            name = f"{p.key}:{pf.key}"
            if pf.key not in attached:
                plan.ops.append(Op("plan_feature", "attach", name, decl=(p, pf)))
            elif name not in plan.limit_changes:
                plan.keep("plan_features", name)
        wanted = {pf.key for pf in p.features}
        for key, a in sorted(attached.items()):
            if key not in wanted:
                plan.ops.append(
                    Op("plan_feature", "detach", f"{p.key}:{key}", target=a, extra={"product": p.id})
                )
    if not archive_removed:
        return
    declared_products = {p.id for p in catalog.products}
    for current in remote.managed_products():  # removed products keep their features, unless removed too
        if current["id"] in declared_products:
            continue
        for a in remote.attached.get(current["id"], []):
            key = a["entitlement_feature"]["lookup_key"]
            if key not in declared_features and (a["entitlement_feature"].get("metadata") or {}).get(
                MANAGED_META
            ):
                plan.ops.append(
                    Op(
                        "plan_feature",
                        "detach",
                        f"{current['metadata'][KEY_META]}:{key}",
                        target=a,
                        extra={"product": current["id"]},
                    )
                )
