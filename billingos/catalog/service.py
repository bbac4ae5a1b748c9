"""``billing.catalog``: push a declared catalog to Stripe idempotently, mirror it locally, read it back."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from .. import validation
from ..domain_events import CatalogSynced
from ..errors import BillingError, InvalidInputError, NotFoundError
from ..stripe_api import call_stripe, plain
from ..webhooks import Mirror, Sync
from .executor import Run, phase
from .loader import load_catalog
from .mirror import sync_feature, sync_meter, sync_plan_features, sync_price, sync_product
from .models import BillingFeature, BillingMeter, BillingPlanFeature, BillingPrice, BillingProduct
from .plan import Plan, fetch_remote, make_plan
from .report import CatalogSyncReport
from .schemas import Catalog
from .snapshots import FeatureInfo, MeterInfo, PlanFeatureInfo, PriceInfo, ProductInfo

if TYPE_CHECKING:
    from ..context import Context

__all__ = ["CatalogService"]


class CatalogService:
    """``billing.catalog``: ``sync(catalog)``, ``plan(catalog)`` and reads of the local mirror."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    # --- declaring ----------------------------------------------------------------------------
    @staticmethod
    def load(path: str | os.PathLike[str]) -> Catalog:
        """A catalog from a .toml/.yaml/.yml file (same as ``Catalog.from_file``)."""
        return load_catalog(path)

    # --- syncing ------------------------------------------------------------------------------
    def plan(
        self, catalog: Catalog | Mapping[str, Any] | str | os.PathLike[str], *, archive_removed: bool = True
    ) -> CatalogSyncReport:
        """What ``sync`` would change, reading Stripe only (a dry run)."""
        return self.sync(catalog, dry_run=True, archive_removed=archive_removed)

    def sync(
        self,
        catalog: Catalog | Mapping[str, Any] | str | os.PathLike[str],
        *,
        dry_run: bool = False,
        archive_removed: bool = True,
    ) -> CatalogSyncReport:
        """Make Stripe match ``catalog``, then mirror it into the local tables; idempotent.

        Objects are found by lookup_key (prices, features), by their derived id (products) and by
        event_name (meters). A changed price gets a new Stripe price that takes over the lookup key; the
        old one is archived. Products, prices and features that billingos created but the catalog no
        longer declares are archived (never deleted) unless ``archive_removed=False``. Meters are never
        deactivated: subscribers on archived prices still report usage to them.
        """
        validation.boolean(dry_run, "dry_run")
        validation.boolean(archive_removed, "archive_removed")
        catalog = _coerce(catalog)
        remote = fetch_remote(self._ctx.stripe, catalog)
        plan = make_plan(catalog, remote, archive_removed=archive_removed)
        if dry_run:
            return self._report(plan, dry_run=True, writes=0)
        run = Run(self._ctx.stripe, catalog, remote)
        try:
            for op in sorted(plan.ops, key=phase):
                run.apply(op)
        except BaseException:
            if run.writes:  # keep the mirror true to what Stripe now holds; a rerun finishes the job
                self._mirror(run, catalog, report=None)
            raise
        report = self._report(plan, dry_run=False, writes=run.writes)
        self._mirror(run, catalog, report=report)
        return report

    def _report(self, plan: Plan, *, dry_run: bool, writes: int) -> CatalogSyncReport:
        return CatalogSyncReport.build(
            [(o.kind, o.action, o.name) for o in plan.ops],
            plan.unchanged,
            plan.limit_changes,
            dry_run=dry_run,
            stripe_writes=writes,
        )

    def _mirror(self, run: Run, catalog: Catalog, *, report: CatalogSyncReport | None) -> None:
        now = self._ctx.now()
        with self._ctx.transaction() as session:
            for obj in run.objects["meter"].values():
                sync_meter(session, obj, now=now)
            for obj in run.objects["feature"].values():
                sync_feature(session, obj, now=now)
            for obj in run.objects["product"].values():
                sync_product(session, obj, now=now)
            for obj in sorted(run.objects["price"].values(), key=lambda o: not o.get("active", True)):
                sync_price(
                    session, obj, now=now
                )  # inactive last: a transferred lookup key ends on the new one
            for pid, attached in run.attached.items():
                if pid in run.objects["product"]:
                    sync_plan_features(session, run.objects["product"][pid], attached.values(), now=now)
            if report is not None:
                self._ctx.events.publish(session, CatalogSynced(report))

    # --- products that subscriptions refer to -------------------------------------------------------
    def ensure_products(self, product_ids: Iterable[str | None]) -> None:
        """Mirror products (and their features) that a subscription refers to but the catalog mirror does
        not know yet, e.g. made in the Dashboard. Fetched before any transaction that needs them."""
        wanted = set(_product_ids(product_ids, none_ok=True)) - {None}
        if not wanted:
            return
        with self._ctx.session_factory() as session:
            known = set(session.scalars(select(BillingProduct.stripe_id).where(BillingProduct.stripe_id.in_(wanted))))
        self.refresh_products(wanted - known)

    def refresh_products(self, product_ids: Iterable[str]) -> bool:
        """Fetch products and their attached features from Stripe and mirror them. False when Stripe could
        not answer for one of them (its grants then come from the mirror as it is)."""
        fetched, complete = [], True
        for pid in sorted(set(_product_ids(product_ids))):
            try:
                product = plain(call_stripe(self._ctx.stripe.v1.products.retrieve, pid))
                page = call_stripe(self._ctx.stripe.v1.products.features.list, pid, params={"limit": 100})
                fetched.append((product, [plain(a) for a in page.auto_paging_iter()]))
            except BillingError:
                complete = False
        if fetched:
            now = self._ctx.now()
            with self._ctx.transaction() as session:
                for product, attached in fetched:
                    sync_product(session, product, now=now)
                    for a in attached:
                        feature = a["entitlement_feature"]
                        if session.scalar(select(BillingFeature.id).where(
                                BillingFeature.stripe_id == feature["id"])) is None:
                            sync_feature(session, feature, now=now)
                    sync_plan_features(session, product, attached, now=now)
                self._ctx.events.publish(session, CatalogSynced(None))
        return complete

    def mirrors(self) -> list[Mirror]:
        """Dashboard edits of products, prices and meters reach the mirror."""
        return [
            Mirror("product", _events("product", "created", "updated", "deleted"),
                   fetch=self._fetcher(lambda: self._ctx.stripe.v1.products.retrieve),
                   apply=self._applier(sync_product, "product"), final=_deleted),
            Mirror("price", _events("price", "created", "updated", "deleted"),     # tiers only when expanded
                   fetch=self._fetcher(lambda: self._ctx.stripe.v1.prices.retrieve, {"expand": ["tiers"]}),
                   apply=self._applier(sync_price, None), final=_deleted),
            Mirror("billing.meter", _events("billing.meter", "created", "updated", "deactivated", "reactivated"),
                   fetch=self._fetcher(lambda: self._ctx.stripe.v1.billing.meters.retrieve),
                   apply=self._applier(sync_meter, None)),
        ]

    def _fetcher(self, method: Callable[[], Callable[..., Any]],
                 params: dict[str, Any] | None = None) -> Callable[[str], dict[str, Any] | None]:
        def fetch(object_id: str) -> dict[str, Any] | None:
            try:
                found = plain(call_stripe(method(), object_id, params=params) if params else
                              call_stripe(method(), object_id))
            except NotFoundError:
                return None
            return None if found.get("deleted") else found
        return fetch

    def _applier(self, sync: Callable[..., Any], kind: str | None) -> Callable[[Session, Sync], None]:
        """Apply a fetched object; a product gone from Stripe is applied as Stripe's deleted stub, while a
        gone price or meter keeps its last row (Stripe archives those, it does not delete them)."""
        def apply(session: Session, s: Sync) -> None:
            current = s.current if s.current is not None else (
                {"id": s.object_id, "object": kind, "deleted": True} if kind else None)
            if current is not None:
                sync(session, current, now=self._ctx.now())
                self._ctx.events.publish(session, CatalogSynced(None))
        return apply

    # --- reads --------------------------------------------------------------------------------
    def product(self, key: str) -> ProductInfo:
        """A product by catalog key or Stripe id."""
        _text(key, "key")
        with self._ctx.session_factory() as session:
            return ProductInfo.from_row(self._product_row(session, key))

    def products(self, *, active: bool | None = True) -> list[ProductInfo]:
        validation.optional_boolean(active, "active")
        stmt = (select(BillingProduct).where(BillingProduct.deleted_at.is_(None)).order_by(BillingProduct.id)
                .options(defer(BillingProduct.data)))        # the Stripe object: not in a ProductInfo
        if active is not None:
            stmt = stmt.where(BillingProduct.active.is_(active))
        with self._ctx.session_factory() as session:
            return [ProductInfo.from_row(r) for r in session.scalars(stmt)]

    def price(self, lookup_key_or_id: str) -> PriceInfo:
        """A price by lookup key or Stripe price id (active or archived)."""
        ref = _text(lookup_key_or_id, "lookup_key_or_id")
        with self._ctx.session_factory() as session:
            row = (
                session.scalars(select(BillingPrice).where(BillingPrice.stripe_id == ref)).first()
                or session.scalars(select(BillingPrice).where(BillingPrice.lookup_key == ref)).first()
            )
            if row is None:
                raise NotFoundError(
                    f"No price with lookup key or id {ref!r}. Declare it in the catalog and run "
                    "billing.catalog.sync().",
                    param="lookup_key_or_id",
                )
            return PriceInfo.from_row(row, self._product_keys(session).get(row.product))

    def prices(self, product: str | None = None, *, active: bool | None = True) -> list[PriceInfo]:
        """Prices, optionally of one product (catalog key or Stripe id); ``active=None`` for all."""
        validation.optional_boolean(active, "active")
        if product is not None:
            _text(product, "product")
        stmt = select(BillingPrice).order_by(BillingPrice.id)
        if active is not None:
            stmt = stmt.where(BillingPrice.active.is_(active))
        with self._ctx.session_factory() as session:
            if product is not None:
                stmt = stmt.where(BillingPrice.product == self._product_row(session, product).stripe_id)
            keys = self._product_keys(session)
            return [PriceInfo.from_row(r, keys.get(r.product)) for r in session.scalars(stmt)]

    def feature(self, key: str) -> FeatureInfo:
        ref = _text(key, "key")
        with self._ctx.session_factory() as session:
            row = session.scalars(select(BillingFeature).where(BillingFeature.lookup_key == ref)).first()
            if row is None:
                raise NotFoundError(
                    f"No feature {ref!r}. Declare it in the catalog and run billing.catalog.sync().",
                    param="key",
                )
            return FeatureInfo.from_row(row)

    def features(self, *, active: bool | None = True) -> list[FeatureInfo]:
        validation.optional_boolean(active, "active")
        stmt = select(BillingFeature).order_by(BillingFeature.lookup_key)
        if active is not None:
            stmt = stmt.where(BillingFeature.active.is_(active))
        with self._ctx.session_factory() as session:
            return [FeatureInfo.from_row(r) for r in session.scalars(stmt)]

    def plan_features(self, product_key: str) -> list[PlanFeatureInfo]:
        """The features a plan includes, with limits for metered ones (what entitlements read)."""
        _text(product_key, "product_key")
        with self._ctx.session_factory() as session:
            product = self._product_row(session, product_key)
            types = dict(session.execute(select(BillingFeature.lookup_key, BillingFeature.type)).all())
            rows = session.scalars(
                select(BillingPlanFeature)
                .where(BillingPlanFeature.product == product.stripe_id)
                .order_by(BillingPlanFeature.feature_key)
            )
            return [PlanFeatureInfo.from_row(r, types.get(r.feature_key, "boolean")) for r in rows]

    def meter(self, event_name: str) -> MeterInfo:
        """The active meter for ``event_name`` (or the latest one, if none is active)."""
        ref = _text(event_name, "event_name")
        with self._ctx.session_factory() as session:
            rows = list(
                session.scalars(
                    select(BillingMeter)
                    .where(BillingMeter.event_name == ref)
                    .order_by(BillingMeter.id.desc())
                )
            )
        if not rows:
            raise NotFoundError(
                f"No meter with event_name {ref!r}. Declare it in the catalog's meters and run "
                "billing.catalog.sync().",
                param="event_name",
            )
        return MeterInfo.from_row(next((r for r in rows if r.status == "active"), rows[0]))

    def meters(self) -> list[MeterInfo]:
        with self._ctx.session_factory() as session:
            return [
                MeterInfo.from_row(r) for r in session.scalars(select(BillingMeter).order_by(BillingMeter.id))
            ]

    def _product_row(self, session: Session, ref: str) -> BillingProduct:
        ref = _text(ref, "product")
        row = (
            session.scalars(select(BillingProduct).where(BillingProduct.key == ref)).first()
            or session.scalars(select(BillingProduct).where(BillingProduct.stripe_id == ref)).first()
        )
        if row is None or row.deleted_at is not None:
            raise NotFoundError(
                f"No product {ref!r}. Declare it in the catalog and run billing.catalog.sync().",
                param="product",
            )
        return row

    @staticmethod
    def _product_keys(session: Session) -> dict[str, str | None]:
        return dict(session.execute(select(BillingProduct.stripe_id, BillingProduct.key)).all())


def _events(prefix: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{prefix}.{n}" for n in names)


def _deleted(obj: Mapping[str, Any]) -> bool:
    return bool(obj.get("deleted"))


def _text(value: Any, param: str) -> str:
    """A catalog key, lookup key, event name or Stripe id."""
    if not isinstance(value, str) or not _REF.fullmatch(value):
        raise InvalidInputError(f"{param} must be a catalog key or Stripe id (1-255 letters, digits, '_', '-', '.' "
                                f"or ':'), got {validation.echo(value)}.", param=param)
    return value


_REF = re.compile(r"[A-Za-z0-9_.:\-]{1,255}")


def _product_ids(value: Any, *, none_ok: bool = False) -> list[Any]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidInputError(f"product_ids must be a list of Stripe product ids, got {validation.echo(value)}.",
                                param="product_ids")
    return [p if p is None and none_ok else _text(p, "product_ids") for p in value]


def _coerce(catalog: Any) -> Catalog:
    if isinstance(catalog, Catalog):
        return catalog
    try:
        if isinstance(catalog, str | os.PathLike):
            return load_catalog(catalog)
        if isinstance(catalog, Mapping):
            validation.json_object(catalog, "catalog")
            return Catalog(**{str(k): v for k, v in catalog.items()})
    except InvalidInputError as e:     # name the argument: catalog (the file), catalog.<field> (a declaration)
        inner = "" if e.param in (None, "path", "catalog") else f".{e.param}"
        raise InvalidInputError(e.message, param=f"catalog{inner}") from None
    raise InvalidInputError(
        f"sync() takes a Catalog, a mapping or a path to a .toml/.yaml file, got {type(catalog).__name__}.",
        param="catalog",
    )
