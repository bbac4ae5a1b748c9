"""billing.audit on SQLite and PostgreSQL: one entry per sensitive operation, in its transaction,
append-only, filtered and paged by keyset, exported as CSV, never holding secrets or card data."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from billingos import Actor, Billing, InvalidInputError, validation
from billingos.audit import scrub

from .conftest import Plans

ADMIN = Actor(kind="admin", id="alice", request_id="req_9", client_address="198.51.100.7")


def test_override_grant_and_revoke_are_recorded_with_before_and_after(billing: Billing, plans: Plans) -> None:
    billing.entitlements.grant("org_a", "api_calls", limit=500, reason="sales deal", actor=ADMIN)
    billing.entitlements.grant("org_a", "api_calls", limit=900, actor=ADMIN)       # replaces the override
    assert billing.entitlements.revoke("org_a", "api_calls", actor=ADMIN) is True
    assert billing.entitlements.revoke("org_a", "api_calls") is False              # nothing to revoke: no entry
    entries = billing.audit.list(target_type="entitlement").items
    assert [e.action for e in entries] == ["entitlement_override.revoked", "entitlement_override.granted",
                                           "entitlement_override.granted"]
    revoked, regranted, granted = entries
    assert granted.before is None and granted.after["limit"] == 500 and granted.after["reason"] == "sales deal"
    assert regranted.before["limit"] == 500 and regranted.after["limit"] == 900
    assert revoked.before["limit"] == 900 and revoked.after is None
    assert {(e.actor_kind, e.actor_id, e.request_id, e.client_address, e.owner_id, e.target_id) for e in entries} \
        == {("admin", "alice", "req_9", "198.51.100.7", "org_a", "org_a:api_calls")}


def test_a_refused_operation_writes_no_entry(billing: Billing, plans: Plans) -> None:
    with pytest.raises(InvalidInputError):
        billing.entitlements.grant("org_a", "export", limit=5, actor=ADMIN)   # boolean feature: no limit
    with pytest.raises(InvalidInputError):
        billing.entitlements.grant("org_a", "export", actor="alice")          # type: ignore[arg-type]
    assert billing.audit.list().items == []


def test_entry_commits_with_the_operation_or_not_at_all(billing: Billing) -> None:
    from billingos.domain_events import ApiKeyCreated

    def fail(session, event):  # type: ignore[no-untyped-def]
        raise RuntimeError("the operation's transaction fails after the audit entry was added")

    billing.events.subscribe_in_transaction(ApiKeyCreated, fail)
    with pytest.raises(RuntimeError):
        billing.api_keys.create("ci", ["billing:read"])
    assert billing.audit.list().items == [] and billing.api_keys.list(include_revoked=True) == []


def test_the_table_refuses_update_and_delete(billing: Billing) -> None:
    billing.api_keys.create("ci", ["billing:read"])
    for statement in ("UPDATE billing_audit_events SET action = 'x.y'", "DELETE FROM billing_audit_events"):
        with pytest.raises(DatabaseError), billing.transaction() as session:
            session.execute(text(statement))
    assert [e.action for e in billing.audit.list().items] == ["api_key.created"]


def test_keyset_pages_and_filters(billing: Billing, clock) -> None:  # type: ignore[no-untyped-def]
    ids = []
    for i in range(7):
        ids.append(billing.api_keys.create(f"k{i}", ["billing:read"], owner_id="org_a" if i % 2 else None).key.id)
        clock.advance(timedelta(minutes=1))
    billing.api_keys.revoke(ids[0], actor=ADMIN)
    seen, cursor = [], None
    while True:
        page = billing.audit.list(limit=3, after=cursor)
        seen += [e.id for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 8 and seen == sorted(seen, reverse=True)
    assert [e.target_id for e in billing.audit.list(action="api_key.revoked").items] == [ids[0]]
    assert len(billing.audit.list(owner_id="org_a").items) == 3
    assert [e.action for e in billing.audit.list(actor_kind="admin").items] == ["api_key.revoked"]
    start = billing.audit.list().items[-1].occurred_at
    window = billing.audit.list(since=start + timedelta(minutes=2), until=start + timedelta(minutes=4)).items
    assert [e.target_id for e in window] == [ids[3], ids[2]]
    other_list = validation.page_cursor("a", ids[3])          # a cursor of the admin lists, not of the log
    for bad in ({"after": "zzzz"}, {"after": other_list}, {"limit": 0}, {"actor_kind": "robot"},
                {"since": start.replace(tzinfo=None)}):
        with pytest.raises(InvalidInputError):
            billing.audit.list(**bad)


def test_csv_export_streams_every_matching_entry(billing: Billing) -> None:
    for i in range(3):
        billing.api_keys.create(f"=cmd{i}", ["billing:read"], actor=ADMIN)
    chunks = billing.audit.export_csv(actor_kind="admin")
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert len(rows) == 3 and {r["action"] for r in rows} == {"api_key.created"}
    assert rows[0]["request_id"] == "req_9" and '"name": "=cmd2"' in rows[0]["after"]
    assert list(csv.reader(io.StringIO("".join(billing.audit.export_csv(action="nope.nope"))))) == [
        ["id", "occurred_at", "actor_kind", "actor_id", "action", "target_type", "target_id", "owner_id", "before",
         "after", "request_id", "client_address"]]


def test_reconcile_that_changed_data_is_recorded(billing: Billing) -> None:
    billing.reconcile()                                       # nothing to fix: no entry
    assert billing.audit.list(action="reconcile.fixed").items == []
    billing.stripe.v1.customers.create(params={"email": "x@y.co", "metadata": {"billingos_owner_id": "org_r"}})
    billing.reconcile()
    entry = billing.audit.list(action="reconcile.fixed").items[0]
    assert entry.actor_kind == "system" and entry.after["events_backfilled"] == 1
    billing.reconcile()                                       # the missed event is applied now: nothing new
    assert len(billing.audit.list(action="reconcile.fixed").items) == 1


def test_record_scrubs_secrets_cards_and_urls(billing: Billing) -> None:
    secret = billing.api_keys.create("ci", ["billing:read"]).secret
    with billing.transaction() as session:
        billing.audit.record(session, actor=ADMIN, action="test.scrub", target_type="thing", target_id="t1",
                             before={"secret": "s3cret", "note": f"key {secret} leaked", "card": {"last4": "4242"}},
                             after={"number": "4242424242424242", "memo": "card 4242 4242 4242 4242",
                                    "portal_url": "https://billing.stripe.com/p/session/abc",
                                    "whsec": "whsec_abcdef123", "ok": "kept"})
    with billing.session_factory() as s:
        dump = str(s.execute(text("SELECT * FROM billing_audit_events")).all())
    for leak in (secret, "s3cret", "4242424242424242", "4242 4242 4242 4242", "billing.stripe.com", "whsec_abc"):
        assert leak not in dump
    assert "kept" in dump and scrub({"a_url": "x", "n": [1, "sk_live_abc"]}) == {"a_url": "[redacted]",
                                                                                "n": [1, "[redacted]"]}


def test_subscription_changes_and_cancellations_are_recorded_with_the_actor(billing: Billing) -> None:
    from tests.api.conftest import build_world
    world = build_world(billing)
    sub = world.subs["org_a"]
    owner = Actor(kind="owner", id="org_a", request_id="req_p1", client_address="192.0.2.4")
    billing.subscriptions.change(sub, quantity=3, actor=owner)
    billing.subscriptions.cancel(sub, actor=owner)
    billing.subscriptions.resume(sub, actor=ADMIN)
    billing.subscriptions.pause(sub)                                   # no actor: the system
    billing.subscriptions.cancel(world.subs["org_b"], at_period_end=False, actor=ADMIN)
    entries = billing.audit.list(target_type="subscription").items
    assert [(e.action, e.target_id, e.actor_kind, e.actor_id) for e in entries] == [
        ("subscription.cancel", world.subs["org_b"], "admin", "alice"),
        ("subscription.pause", sub, "system", None),
        ("subscription.resume", sub, "admin", "alice"),
        ("subscription.cancel", sub, "owner", "org_a"),
        ("subscription.change", sub, "owner", "org_a")]
    change, cancel_now = entries[-1], entries[0]
    assert change.before["items"][0][1] == 1 and change.after["items"][0][1] == 3 and change.owner_id == "org_a"
    assert change.before["plan"] == "pro_monthly" and change.request_id == "req_p1"
    assert entries[3].before["cancel_at_period_end"] is False and entries[3].after["cancel_at_period_end"] is True
    assert entries[2].after["cancel_at_period_end"] is False and entries[1].after["paused"] is True
    assert cancel_now.before["status"] == "active" and cancel_now.after["status"] == "canceled"


def test_a_refused_subscription_change_writes_no_entry(billing: Billing) -> None:
    from billingos import ConflictError
    from tests.api.conftest import build_world
    world = build_world(billing)
    with pytest.raises(InvalidInputError):
        billing.subscriptions.cancel(world.subs["org_a"], actor="alice")   # type: ignore[arg-type]
    with pytest.raises(ConflictError):
        billing.subscriptions.resume(world.subs["org_a"], actor=ADMIN)     # nothing to resume
    assert billing.audit.list(target_type="subscription").items == []
