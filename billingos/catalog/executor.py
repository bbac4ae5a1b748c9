"""Running a plan: each Stripe write in dependency order, with an idempotency key derived from the
intent and the current state of the object it changes; the resulting objects are kept for the mirror."""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

from ..errors import NotFoundError
from ..stripe_api import call_stripe, intent_key
from .mirror import plain
from .plan import Op, Remote, feature_metadata, metadata_patch, price_metadata, product_metadata
from .schemas import Catalog, Feature, Meter, Price, Product

__all__ = ["Run", "phase"]

# Writes run in this order: what a later write refers to exists first, and archiving comes last.
_PHASES = [
    ("meter", None),
    ("feature", "create"),
    ("feature", "update"),
    ("feature", "reactivate"),
    ("product", "create"),
    ("product", "update"),
    ("product", "reactivate"),
    ("price", "create"),
    ("price", "replace"),
    ("price", "update"),
    ("plan_feature", "attach"),
    ("plan_feature", "detach"),
    ("price", "archive"),
    ("product", "archive"),
    ("feature", "archive"),
]


def phase(op: Op) -> int:
    for i, (kind, action) in enumerate(_PHASES):
        if op.kind == kind and action in (None, op.action):
            return i
    raise AssertionError(op)  # pragma: no cover


def _fingerprint(obj: dict[str, Any] | None) -> str:
    """The current state of the object a write changes: the same write on another state gets another key."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Run:
    """Runs a plan's writes against Stripe and keeps the resulting objects for the mirror."""

    def __init__(self, stripe: Any, catalog: Catalog, remote: Remote) -> None:
        self.v1 = stripe.v1
        self.writes = 0
        self.features_decl = {f.key: f for f in catalog.features}
        self.meter_ids = {m["event_name"]: m["id"] for m in remote.meters if m["status"] == "active"}
        self.feature_ids = {k: f["id"] for k, f in remote.features.items()}
        declared = {p.id for p in catalog.products}
        products = {pid: p for pid, p in remote.products.items() if pid in declared or pid in remote.attached}
        prices = {p["id"]: p for p in remote.prices.values()}
        for listed in remote.product_prices.values():
            prices.update({p["id"]: p for p in listed})
        self.objects: dict[str, dict[str, dict[str, Any]]] = {
            "meter": {m["id"]: m for m in remote.meters},
            "feature": {f["id"]: f for f in remote.features.values()},
            "product": products,
            "price": prices,
        }
        self.attached: dict[str, dict[str, dict[str, Any]]] = {
            pid: {a["entitlement_feature"]["lookup_key"]: a for a in items}
            for pid, items in remote.attached.items()
        }

    def _call(
        self, fn: Any, *args: Any, action: str, params: dict[str, Any] | None, state: Any = None
    ) -> Any:
        key = intent_key(f"catalog.{action}", *args, params, state)
        kwargs: dict[str, Any] = {"options": {"idempotency_key": key}}
        if params is not None:
            kwargs["params"] = params
        result = plain(call_stripe(fn, *args, **kwargs))
        self.writes += 1
        return result

    def _keep(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects[kind][obj["id"]] = obj
        return obj

    def apply(self, op: Op) -> None:
        getattr(self, f"_{op.kind}_{op.action}")(op)

    # meters
    def _meter_create(self, op: Op) -> None:
        m: Meter = op.decl
        params = {
            "display_name": m.display_name,
            "event_name": m.event_name,
            "default_aggregation": {"formula": m.aggregation},
            "customer_mapping": {"type": "by_id", "event_payload_key": m.customer_payload_key},
            "value_settings": {"event_payload_key": m.value_payload_key},
        }
        obj = self._call(
            self.v1.billing.meters.create,
            action="meter.create",
            params=params,
            state=op.extra.get("previous"),
        )
        self.meter_ids[m.event_name] = self._keep("meter", obj)["id"]

    def _meter_update(self, op: Op) -> None:
        assert op.target is not None
        self._keep(
            "meter",
            self._call(
                self.v1.billing.meters.update,
                op.target["id"],
                action="meter.update",
                params={"display_name": op.decl.display_name},
                state=_fingerprint(op.target),
            ),
        )

    # features
    def _feature_create(self, op: Op) -> None:
        f: Feature = op.decl
        params = {"name": f.name, "lookup_key": f.key, "metadata": feature_metadata(f)}
        obj = self._call(self.v1.entitlements.features.create, action="feature.create", params=params)
        self.feature_ids[f.key] = self._keep("feature", obj)["id"]

    def _feature_update(self, op: Op) -> None:
        f: Feature = op.decl
        current = op.target or {}
        params: dict[str, Any] = {}
        if current.get("name") != f.name:
            params["name"] = f.name
        patch = metadata_patch(current.get("metadata"), feature_metadata(f))
        if patch is not None:
            params["metadata"] = patch
        if not current.get("active", True):
            params["active"] = True
        self._keep(
            "feature",
            self._call(
                self.v1.entitlements.features.update,
                current["id"],
                action="feature.update",
                params=params,
                state=_fingerprint(current),
            ),
        )

    _feature_reactivate = _feature_update

    def _feature_archive(self, op: Op) -> None:
        assert op.target is not None
        self._keep(
            "feature",
            self._call(
                self.v1.entitlements.features.update,
                op.target["id"],
                action="feature.archive",
                params={"active": False},
                state=_fingerprint(op.target),
            ),
        )

    # products
    def _product_create(self, op: Op) -> None:
        p: Product = op.decl
        params: dict[str, Any] = {
            "id": p.id,
            "name": p.name,
            "active": p.active,
            "metadata": product_metadata(p, self.features_decl),
        }
        if p.description is not None:
            params["description"] = p.description
        self._keep("product", self._call(self.v1.products.create, action="product.create", params=params))
        self.attached.setdefault(p.id, {})

    def _product_update(self, op: Op) -> None:
        p: Product = op.decl
        current = op.target or {}
        params: dict[str, Any] = {}
        if current.get("name") != p.name:
            params["name"] = p.name
        if (current.get("description") or None) != p.description:
            params["description"] = p.description or ""
        if bool(current.get("active", True)) != p.active:
            params["active"] = p.active
        patch = metadata_patch(current.get("metadata"), product_metadata(p, self.features_decl))
        if patch is not None:
            params["metadata"] = patch
        self._keep(
            "product",
            self._call(
                self.v1.products.update,
                current["id"],
                action="product.update",
                params=params,
                state=_fingerprint(current),
            ),
        )

    _product_reactivate = _product_update

    def _product_archive(self, op: Op) -> None:
        assert op.target is not None
        self._keep(
            "product",
            self._call(
                self.v1.products.update,
                op.target["id"],
                action="product.archive",
                params={"active": False},
                state=_fingerprint(op.target),
            ),
        )

    # prices
    def _price_create(self, op: Op) -> None:
        p, pr = op.decl
        params = _price_params(p, pr, self.meter_ids)
        holder = op.target
        if holder is not None:
            params["transfer_lookup_key"] = True
        self._keep(
            "price",
            self._call(
                self.v1.prices.create, action="price.create", params=params, state=holder and holder["id"]
            ),
        )

    def _price_replace(self, op: Op) -> None:
        """Prices are immutable: a new price takes over the lookup key, the old one is archived."""
        self._price_create(op)
        old = op.target
        assert old is not None
        old = {**old, "lookup_key": None}  # transferred to the new price
        if old.get("active", True):
            old = self._call(
                self.v1.prices.update,
                old["id"],
                action="price.archive",
                params={"active": False},
                state=_fingerprint(op.target),
            )
        self._keep("price", old)

    def _price_update(self, op: Op) -> None:
        p, pr = op.decl
        current = op.target or {}
        params: dict[str, Any] = {}
        if bool(current.get("active", True)) != pr.active:
            params["active"] = pr.active
        if (current.get("nickname") or None) != pr.nickname:
            params["nickname"] = pr.nickname or ""
        patch = metadata_patch(current.get("metadata"), price_metadata(p, pr))
        if patch is not None:
            params["metadata"] = patch
        obj = self._call(
            self.v1.prices.update,
            current["id"],
            action="price.update",
            params=params,
            state=_fingerprint(current),
        )
        self._keep("price", {**obj, "tiers": current["tiers"]} if "tiers" in current else obj)

    def _price_archive(self, op: Op) -> None:
        current = op.target or {}
        obj = self._call(
            self.v1.prices.update,
            current["id"],
            action="price.archive",
            params={"active": False},
            state=_fingerprint(current),
        )
        self._keep("price", {**obj, "tiers": current["tiers"]} if "tiers" in current else obj)

    # plan features
    def _plan_feature_attach(self, op: Op) -> None:
        p, pf = op.decl
        attached = self.attached.setdefault(p.id, {})
        fid = self.feature_ids[pf.key]
        obj = self._call(
            self.v1.products.features.create,
            p.id,
            action="product_feature.attach",
            params={"entitlement_feature": fid},
            state=sorted(a["id"] for a in attached.values()),
        )
        attached[pf.key] = obj

    def _plan_feature_detach(self, op: Op) -> None:
        assert op.target is not None
        pid = op.extra["product"]
        with contextlib.suppress(NotFoundError):  # already gone: the outcome is the same
            self._call(
                self.v1.products.features.delete,
                pid,
                op.target["id"],
                action="product_feature.detach",
                params=None,
            )
        self.attached.get(pid, {}).pop(op.target["entitlement_feature"]["lookup_key"], None)


def _price_params(p: Product, pr: Price, meter_ids: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {
        "product": p.id,
        "currency": pr.currency,
        "lookup_key": pr.lookup_key,
        "active": pr.active,
        "metadata": price_metadata(p, pr),
        "expand": ["tiers"],
    }
    if pr.nickname is not None:
        params["nickname"] = pr.nickname
    if pr.unit_amount is not None:
        params["unit_amount"] = pr.unit_amount
    elif pr.unit_amount_decimal is not None:
        params["unit_amount_decimal"] = str(pr.unit_amount_decimal)
    else:
        assert pr.tiers is not None
        params.update(billing_scheme="tiered", tiers_mode=pr.tiers_mode, tiers=[_tier(t) for t in pr.tiers])
    if pr.transform_quantity is not None:
        params["transform_quantity"] = {
            "divide_by": pr.transform_quantity.divide_by,
            "round": pr.transform_quantity.round,
        }
    if pr.interval is not None:
        rec: dict[str, Any] = {
            "interval": pr.interval,
            "interval_count": pr.interval_count,
            "usage_type": pr.usage_type,
        }
        if pr.meter is not None:
            rec["meter"] = meter_ids[pr.meter]
        if pr.trial_period_days is not None:
            rec["trial_period_days"] = pr.trial_period_days
        params["recurring"] = rec
    return params


def _tier(t: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"up_to": t.up_to}
    for name in ("unit_amount", "flat_amount"):
        if getattr(t, name) is not None:
            out[name] = getattr(t, name)
        elif getattr(t, f"{name}_decimal") is not None:
            out[f"{name}_decimal"] = str(getattr(t, f"{name}_decimal"))
    return out
