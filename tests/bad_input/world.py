"""A small billing world every swept call can refer to, and snapshots of everything a call could write.

Two owners with customers, cards, subscriptions and paid invoices; the usage catalog (meters, a metered
feature, a plan); one usage event, one reservation and one stored webhook event. The sweep's calls are all
refused, so one world serves a whole module: every call compares the database and the emulator with the
state before it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text
from sqlalchemy.engine import Engine

from billingos import Billing
from billingos.catalog.schemas import Catalog
from billingos.clock import FrozenClock
from billingos.emulator import Emulator, signature_header
from tests.conftest import WEBHOOK_SECRET
from tests.usage.conftest import CATALOG

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@dataclass
class World:
    billing: Billing
    owner: str = "org_sweep"
    other_owner: str = "org_other"
    new_owner: str = "org_sweep_new"
    customer_id: str = ""
    payment_method: str = ""
    sub: str = ""
    other_sub: str = ""
    invoice: str = ""
    other_invoice: str = ""
    event_id: str = ""
    reservation: str = ""
    other_reservation: str = ""
    other_payment_method: str = ""
    usage_key: str = "sweep-usage-1"
    other_usage_key: str = "sweep-usage-other-1"
    cursor: str = ""
    api_key: str = ""
    insight: int = 0
    catalog_path: str = ""
    catalog: dict[str, Any] = field(default_factory=lambda: CATALOG)
    tables: list[str] = field(default_factory=list)
    dirty: bool = False               # a refused call wrote something: the next test needs a fresh world

    # valid values the parameter table refers to by name
    @property
    def now(self) -> datetime:
        return self.billing.now()

    @property
    def today(self) -> date:
        return self.billing.now().date()

    @property
    def month_ago(self) -> date:
        return self.billing.now().date() - timedelta(days=30)

    @property
    def future(self) -> datetime:
        return self.billing.now() + timedelta(days=3)

    @property
    def hour(self) -> timedelta:
        return timedelta(hours=1)

    @property
    def owner_and_meter(self) -> tuple[str, str]:
        return self.owner, "api_calls"

    @property
    def handler(self) -> Any:
        return lambda *a, **kw: None

    @property
    def body(self) -> bytes:
        return self.signed()[0]

    @property
    def headers(self) -> dict[str, str]:
        return self.signed()[1]

    @property
    def event_dict(self) -> dict[str, Any]:
        return {"id": "evt_sweep_valid", "object": "event", "type": "customer.updated", "livemode": False,
                "created": int(self.now.timestamp()),
                "data": {"object": {"id": self.customer_id, "object": "customer"}}}

    @property
    def event_list(self) -> list[dict[str, Any]]:
        return [self.event_dict]

    @property
    def deliveries(self) -> list[tuple[bytes, dict[str, str]]]:
        return [self.signed()]

    def signed(self) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(self.event_dict).encode()
        return body, {"Stripe-Signature": signature_header(body, [WEBHOOK_SECRET], int(self.now.timestamp())),
                      "Content-Type": "application/json"}

    def value(self, name: str) -> Any:
        return getattr(self, name)

    # --- snapshots ----------------------------------------------------------------------------------
    def database(self) -> dict[str, Any]:
        """Every row of every billing table (found in the database, so new tables count too): on PostgreSQL
        a digest of each table's rows in one round trip, on SQLite the rows."""
        with self.billing.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                digests = ", ".join(f"""(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))
                                         FROM "{table}" t)""" for table in self.tables)
                return dict(zip(self.tables, conn.execute(text(f"SELECT {digests}")).one(), strict=True))
            return {table: sorted(repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{table}"')))
                    for table in self.tables}

    def stripe(self) -> str:
        store = self.billing.emulator.store
        return json.dumps([store.objects, sorted(store.deleted)], sort_keys=True, default=repr)

    def memory(self) -> tuple[Any, ...]:
        """What a refused call could still change in memory: queued tasks and subscribed handlers."""
        b = self.billing
        return (list(b.tasks.queued), sum(len(v) for v in b.webhooks._handlers.values()))


def build(engine: Engine, tmp: Path) -> World:
    clock = FrozenClock(START)
    billing = Billing(engine=engine, emulator=Emulator(clock=clock), clock=clock, webhook_secrets=[WEBHOOK_SECRET])
    w = World(billing)
    billing.catalog.sync(Catalog.model_validate(CATALOG))
    for owner in (w.owner, w.other_owner):
        c = billing.customers.create(owner_id=owner, email=f"{owner}@example.com", name="Acme")
        pm = billing.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": c.id})
        billing.customers.update(owner, default_payment_method=pm.id)
        sub = billing.subscriptions.create(owner, price="pro_monthly")
        invoice = sub.latest_invoice or ""
        if owner == w.owner:
            w.customer_id, w.payment_method, w.sub, w.invoice = c.id, pm.id, sub.id, invoice
        else:
            w.other_sub, w.other_invoice, w.other_payment_method = sub.id, invoice, pm.id
    billing.usage.track(w.owner, "api_calls", 5, w.usage_key)
    billing.usage.track(w.other_owner, "api_calls", 5, w.other_usage_key)
    w.reservation = billing.entitlements.reserve(w.owner, "api_calls", 1, "sweep-reservation").id
    w.other_reservation = billing.entitlements.reserve(w.other_owner, "api_calls", 1, "sweep-reservation").id
    body, headers = w.signed()
    w.event_id = billing.webhooks.receive(body, headers).event_id
    w.api_key = billing.api_keys.create("sweep", ["billing:read"], owner_id=w.owner).key.id
    with billing.transaction() as s:
        w.insight = billing.insights.store.record(s, kind="usage_limit", owner_id=w.owner, dedupe_key="sweep",
                                                  message="api_calls reached 80% of its limit.", data={}) or 0
    page = billing.customers.list(limit=1)
    w.cursor = page.next_cursor or ""
    path = tmp / "catalog.yaml"
    path.write_text(json.dumps(CATALOG))     # JSON is YAML
    w.catalog_path = str(path)
    w.tables = sorted(t for t in sa_inspect(engine).get_table_names() if t.startswith("billing"))
    assert w.invoice.startswith("in_") and w.other_invoice.startswith("in_") and w.cursor
    return w
