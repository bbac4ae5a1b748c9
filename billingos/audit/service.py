"""``billing.audit``: the append-only log of sensitive operations.

Entries are written inside the transaction of the operation they describe, so an operation and its entry
commit together or not at all. Domains do not call the audit log: they publish a domain event carrying the
``Actor`` (``ApiKeyCreated``, ``EntitlementOverrideChanged``…) and this service records it from an
in-transaction subscription. ``record(session, ...)`` is the same step for callers that own a
transaction themselves (the JSON API and pages).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import validation
from ..actor import SYSTEM, Actor
from ..context import Context
from ..customers.schemas import Page
from ..domain_events import (
    ApiKeyCreated,
    ApiKeyRevoked,
    CustomerErased,
    CustomerLinked,
    EntitlementOverrideChanged,
    InsightMarked,
    PaymentMethodChanged,
    ReconcileCompleted,
    SubscriptionChanged,
)
from ..errors import InvalidInputError
from .models import BillingAuditEvent
from .schemas import CSV_COLUMNS, AuditEvent
from .scrub import scrub

__all__ = ["AuditService"]

_ACTION = re.compile(r"[a-z_]+(\.[a-z_]+)+")
_KEY_FIELDS = ("name", "scopes", "owner_id", "mode", "revoked_at")


class AuditService:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        ctx.events.subscribe_in_transaction(ApiKeyCreated, self._key_created)
        ctx.events.subscribe_in_transaction(ApiKeyRevoked, self._key_revoked)
        ctx.events.subscribe_in_transaction(EntitlementOverrideChanged, self._override_changed)
        ctx.events.subscribe_in_transaction(SubscriptionChanged, self._subscription_changed)
        ctx.events.subscribe_in_transaction(InsightMarked, self._insight_marked)
        ctx.events.subscribe_in_transaction(CustomerLinked, self._customer_linked)
        ctx.events.subscribe_in_transaction(PaymentMethodChanged, self._payment_method_changed)
        ctx.events.subscribe_in_transaction(CustomerErased, self._customer_erased)
        ctx.events.subscribe(ReconcileCompleted, self._reconciled)   # reconcile spans many transactions

    # --- writing ------------------------------------------------------------------------------------
    def record(self, session: Session, *, actor: Actor, action: str, target_type: str, target_id: str,
               owner_id: str | None = None, before: dict[str, Any] | None = None,
               after: dict[str, Any] | None = None) -> None:
        """Append one entry in ``session``'s transaction. ``before``/``after`` are scrubbed of card data,
        secrets and URLs whatever the caller passes."""
        if not isinstance(actor, Actor):
            raise InvalidInputError("actor must be a billingos.Actor.", param="actor")
        if not isinstance(action, str) or not _ACTION.fullmatch(action) or len(action) > 64:
            raise InvalidInputError(f"action must be a dotted name like 'api_key.created', got "
                                    f"{validation.echo(action)}.", param="action")
        session.add(BillingAuditEvent(
            occurred_at=self._ctx.now(), actor_kind=actor.kind, actor_id=actor.id, action=action,
            target_type=str(validation.text(target_type, "target_type", max_length=32, required=True)),
            target_id=str(validation.text(target_id, "target_id", max_length=255, required=True)),
            owner_id=owner_id, before=_json(before), after=_json(after), request_id=actor.request_id,
            client_address=actor.client_address))

    def _key_created(self, session: Session, event: ApiKeyCreated) -> None:
        self.record(session, actor=event.actor, action="api_key.created", target_type="api_key",
                    target_id=event.key.id, owner_id=event.key.owner_id, after=_key_state(event.key))

    def _key_revoked(self, session: Session, event: ApiKeyRevoked) -> None:
        self.record(session, actor=event.actor, action="api_key.revoked", target_type="api_key",
                    target_id=event.after.id, owner_id=event.after.owner_id, before=_key_state(event.before),
                    after=_key_state(event.after))

    def _override_changed(self, session: Session, event: EntitlementOverrideChanged) -> None:
        action = "entitlement_override.granted" if event.after is not None else "entitlement_override.revoked"
        self.record(session, actor=event.actor, action=action, target_type="entitlement",
                    target_id=f"{event.owner_id}:{event.feature}", owner_id=event.owner_id,
                    before=_grant_state(event.before), after=_grant_state(event.after))

    def _subscription_changed(self, session: Session, event: SubscriptionChanged) -> None:
        self.record(session, actor=event.actor, action=f"subscription.{event.action}", target_type="subscription",
                    target_id=event.after.id, owner_id=event.after.owner_id,
                    before=_subscription_state(event.before) if event.before is not None else None,
                    after=_subscription_state(event.after))

    def _insight_marked(self, session: Session, event: InsightMarked) -> None:
        a, b = event.after, event.before
        self.record(session, actor=event.actor, action=f"insight.{a.state}", target_type="insight",
                    target_id=str(a.id), owner_id=a.owner_id, before={"state": b.state},
                    after={"state": a.state, "kind": a.kind, "by": a.acted_by or a.dismissed_by or a.read_by,
                           "note": a.note})
    def _customer_linked(self, session: Session, event: CustomerLinked) -> None:
        self.record(session, actor=event.actor, action="customer.linked", target_type="customer",
                    target_id=event.after.id, owner_id=event.after.owner_id,
                    before={"owner_id": event.previous_owner}, after={"owner_id": event.after.owner_id})

    def _payment_method_changed(self, session: Session, event: PaymentMethodChanged) -> None:
        """One entry per card change. Attaching is recorded once per card: the page Stripe.js returns to
        may be reloaded, and attaching the same SetupIntent's card again changes nothing."""
        m, action = event.method, f"payment_method.{event.action}"
        if event.action == "attached" and session.scalar(select(BillingAuditEvent.id).where(
                BillingAuditEvent.target_type == "payment_method", BillingAuditEvent.target_id == m.id,
                BillingAuditEvent.action == action).limit(1)) is not None:
            return
        self.record(session, actor=event.actor, action=action, target_type="payment_method", target_id=m.id,
                    owner_id=m.owner_id, after={"type": m.type, "brand": m.brand, "exp_month": m.exp_month,
                                                "exp_year": m.exp_year})
    def _customer_erased(self, session: Session, event: CustomerErased) -> None:
        """Ids and flags only: the entry that proves the erasure holds none of what was erased."""
        self.record(session, actor=event.actor, action="customer.erased", target_type="customer",
                    target_id=event.customer_id, owner_id=event.owner_id,
                    after={"erased": True, "deleted_in_stripe": event.deleted_in_stripe})

    def _reconciled(self, event: ReconcileCompleted) -> None:
        """A run that changed local data (missed events applied, rows created, updated or removed) leaves one
        entry."""
        report = event.report
        changes = {k.kind: {"created": len(k.created), "updated": len(k.updated), "removed": len(k.removed)}
                   for k in report.kinds if k.created or k.updated or k.removed}
        if not changes and not report.events_backfilled:   # backfilled: missed webhooks applied now
            return
        with self._ctx.transaction() as session:
            self.record(session, actor=SYSTEM, action="reconcile.fixed", target_type="reconcile", target_id="run",
                        after={"kinds": changes, "events_backfilled": report.events_backfilled,
                               "events_processed": report.events_processed})

    # --- reading ------------------------------------------------------------------------------------
    def list(self, *, action: str | None = None, actor_kind: str | None = None, actor_id: str | None = None,
             target_type: str | None = None, target_id: str | None = None, owner_id: str | None = None,
             since: datetime | None = None, until: datetime | None = None, limit: int = 50,
             after: str | None = None) -> Page[AuditEvent]:
        """Entries matching every filter given, newest first, a page at a time (``after`` is the previous
        page's ``next_cursor``). ``since`` is inclusive, ``until`` exclusive."""
        limit = validation.limit(limit, maximum=500)
        query = self._query(action, actor_kind, actor_id, target_type, target_id, owner_id, since, until)
        start = validation.cursor_row(after, "l") or 0
        if start:
            query = query.where(BillingAuditEvent.id < start)
        with self._ctx.session_factory() as session:
            rows, cursor = validation.keyset_page(
                list(session.scalars(query.order_by(BillingAuditEvent.id.desc()).limit(limit + 1))), limit, "l")
        return Page[AuditEvent](items=[AuditEvent.from_row(r) for r in rows], next_cursor=cursor)

    def export_csv(self, *, action: str | None = None, actor_kind: str | None = None, actor_id: str | None = None,
                   target_type: str | None = None, target_id: str | None = None, owner_id: str | None = None,
                   since: datetime | None = None, until: datetime | None = None) -> Iterator[str]:
        """The matching entries as CSV text, a header line then one line per entry, newest first: a generator
        that reads 500 rows at a time, so an adapter can stream it. Filters are checked before the first
        line."""
        query = self._query(action, actor_kind, actor_id, target_type, target_id, owner_id, since, until)
        return self._csv_lines(query)

    def _csv_lines(self, query: Any) -> Iterator[str]:
        buf = io.StringIO()
        out = csv.writer(buf)

        def flush() -> str:
            text = buf.getvalue()
            buf.seek(0)
            buf.truncate()
            return text

        out.writerow(CSV_COLUMNS)
        yield flush()
        last = None
        while True:
            page = query if last is None else query.where(BillingAuditEvent.id < last)
            with self._ctx.session_factory() as session:
                rows = list(session.scalars(page.order_by(BillingAuditEvent.id.desc()).limit(500)))
            for r in rows:
                e = AuditEvent.from_row(r).model_dump(mode="json")
                out.writerow([_cell(e[c]) for c in CSV_COLUMNS])
            if rows:
                yield flush()
            if len(rows) < 500:
                return
            last = rows[-1].id

    def _query(self, action: Any, actor_kind: Any, actor_id: Any, target_type: Any, target_id: Any, owner_id: Any,
               since: Any, until: Any) -> Any:
        query = select(BillingAuditEvent)
        for column, value, param in ((BillingAuditEvent.action, action, "action"),
                                     (BillingAuditEvent.actor_id, actor_id, "actor_id"),
                                     (BillingAuditEvent.target_type, target_type, "target_type"),
                                     (BillingAuditEvent.target_id, target_id, "target_id")):
            if value is not None:
                query = query.where(column == validation.text(value, param, max_length=255))
        if actor_kind is not None:
            query = query.where(BillingAuditEvent.actor_kind == validation.choice(
                actor_kind, "actor_kind", ("admin", "owner", "api_key", "system")))
        if owner_id is not None:
            query = query.where(BillingAuditEvent.owner_id == validation.owner_id(owner_id))
        if since is not None:
            query = query.where(BillingAuditEvent.occurred_at >= validation.aware_datetime(since, "since"))
        if until is not None:
            query = query.where(BillingAuditEvent.occurred_at < validation.aware_datetime(until, "until"))
        return query


def _json(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return json.loads(json.dumps(scrub(value), default=str))


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text   # no formulas when opened in a spreadsheet


def _key_state(key: Any) -> dict[str, Any]:
    data = key.model_dump(mode="json")
    return {k: data[k] for k in _KEY_FIELDS}


def _subscription_state(sub: Any) -> dict[str, Any]:
    data = sub.model_dump(mode="json")
    return {"status": data["status"], "plan": sub.price, "items": [[i["price"], i["quantity"]] for i in data["items"]],
            "cancel_at_period_end": data["cancel_at_period_end"], "cancel_at": data["cancel_at"],
            "paused": data["paused"], "scheduled_change": data["scheduled_change"]}


def _grant_state(grant: Any) -> dict[str, Any] | None:
    if grant is None:
        return None
    return {"feature": grant.feature, "limit": grant.limit, "reset": grant.reset, "rollover": grant.rollover,
            "expires_at": grant.expires_at.isoformat() if grant.expires_at else None, "reason": grant.reason}

