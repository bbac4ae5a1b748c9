"""Issue 12: every reconciliation run is stored, wherever it started (the dashboard, the CLI, the hourly task,
the app's code): when, who or what, dry run or not, its counts; listed newest first, a page at a time."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from billingos import Billing, InvalidInputError, ReconcileRefusedError
from billingos.clock import FrozenClock
from billingos.customers import BillingCustomer
from billingos.emulator import Emulator


def _drift(billing: Billing) -> int:
    with billing.transaction() as s:
        rows = list(s.scalars(select(BillingCustomer)))
        for row in rows:
            row.email = "drift@b.co"
        return len(rows)


def test_each_run_is_stored_with_its_source_and_counts(billing: Billing, clock: FrozenClock) -> None:
    for i in range(3):
        billing.customers.create(owner_id=f"org_{i}", email=f"x{i}@b.co")
    billing.reconcile()
    assert _drift(billing) == 3
    dry = billing.reconcile(dry_run=True, source="cli", started_by="alice")
    clock.advance(minutes=5)
    billing.tasks.periodic["reconcile"][1]()                 # what huey runs every hour
    runs = billing.reconcile.runs().items
    assert [(r.source, r.started_by, r.dry_run) for r in runs] == [
        ("task", "hourly task", False), ("cli", "alice", True), ("code", "billing.reconcile()", False)]
    task, cli, code = runs
    assert (cli.updated, cli.created, cli.removed, cli.fixed) == (3, 0, 0, 3) == (
        len(dry.kind("customers").updated), 0, 0, dry.fixed)
    assert (task.updated, task.fixed, task.error) == (3, 3, None)      # the dry run wrote nothing: 3 to repair
    assert code.fixed == 0 and task.started_at > cli.started_at
    assert task.report is not None and task.report.kind("customers").updated == dry.kind("customers").updated


def test_a_refused_run_is_stored_with_its_error_and_bad_input_is_not(billing: Billing, engine: Any,
                                                                     clock: FrozenClock) -> None:
    for i in range(5):
        billing.customers.create(owner_id=f"org_{i}", email=f"x{i}@b.co")
    empty = Billing(engine=engine, emulator=Emulator(clock=clock), clock=clock)     # the wrong Stripe
    with pytest.raises(ReconcileRefusedError):
        empty.reconcile(source="admin", started_by="ops@example.com")
    for bad in ({"source": "cron"}, {"source": None}, {"started_by": ""}, {"started_by": "x" * 121},
                {"started_by": 7}, {"dry_run": "yes"}):
        with pytest.raises(InvalidInputError):
            billing.reconcile(**bad)
    [refused] = billing.reconcile.runs().items
    assert (refused.source, refused.started_by, refused.report, refused.fixed) == (
        "admin", "ops@example.com", None, 0)
    assert (refused.error or "").startswith("reconcile refused to remove")


def test_runs_page_newest_first(billing: Billing, clock: FrozenClock) -> None:
    for _ in range(7):
        billing.reconcile(dry_run=True)
        clock.advance(minutes=1)
    first = billing.reconcile.runs(limit=3)
    second = billing.reconcile.runs(limit=3, after=first.next_cursor)
    third = billing.reconcile.runs(limit=3, after=second.next_cursor)
    ids = [r.id for page in (first, second, third) for r in page.items]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 7 and third.next_cursor is None
    stamps = [r.started_at for page in (first, second, third) for r in page.items]
    assert stamps == sorted(stamps, reverse=True)
    for bad in ("nope", "", 5, "YTox"):                         # "YTox" is "a:1": another list's cursor
        with pytest.raises(InvalidInputError):
            billing.reconcile.runs(after=bad)                  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        billing.reconcile.runs(limit=0)
