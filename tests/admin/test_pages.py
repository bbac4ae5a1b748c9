"""The admin pages' behaviour, the same on Flask and FastAPI (the ``client`` fixture runs each test on
both, on SQLite and PostgreSQL): search and filters, export, the customer page and its timeline, and each
action through the library's services."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime
from typing import Any

from sqlalchemy import select

from billingos.customers import BillingCustomer

from .conftest import Client, World

A = "/billing/admin"


def _listed(text: str) -> list[str]:
    return re.findall(r'href="/billing/admin/customers/(cus_\w+)"', text)


def test_search_by_email_name_owner_and_stripe_id(world: World, client: Client) -> None:
    alice, bob = world.alice.id, world.bob.id
    for q, expected in (("alice@", [alice]), ("ALICE@EXAMPLE.COM", [alice]), ("bob", [bob]), ("Alice An", [alice]),
                        ("org_bob", [bob]), (alice, [alice]), ("example", []), ("org_", []), ("%", []), ("_", [])):
        page = client.get(f"{A}/customers", q=q)
        assert page.status == 200 and _listed(page.text) == expected, (q, _listed(page.text))
    assert _listed(client.get(f"{A}/customers").text) == [bob, alice]        # newest first


def test_filters_status_plan_and_delinquent(world: World, client: Client) -> None:
    basic = next(p.id for p in world.billing.catalog.products() if p.name == "Basic")
    pro = next(p.id for p in world.billing.catalog.products() if p.name == "Pro")
    for query, expected in (({"status": "active"}, [world.alice.id]), ({"status": "none"}, [world.bob.id]),
                            ({"status": "canceled"}, []), ({"plan": basic}, [world.alice.id]), ({"plan": pro}, []),
                            ({"delinquent": "no"}, [world.bob.id, world.alice.id]), ({"delinquent": "yes"}, []),
                            ({"status": "active", "q": "bob"}, [])):
        page = client.get(f"{A}/customers", **query)
        assert page.status == 200 and _listed(page.text) == expected, query
    for query in ({"status": "sleepy"}, {"plan": "basic"}, {"delinquent": "maybe"}, {"after": "!!"},
                  {"q": "x" * 201}):
        page = client.get(f"{A}/customers", **query)
        assert page.status == 400 and "Something is not right" in page.text, query


def test_csv_export_streams_every_match_and_defuses_formulas(world: World, client: Client) -> None:
    world.billing.customers.create(owner_id="org_eve", email="eve@example.net", name="=HYPERLINK(\"http://x\")")
    answer = client.get(f"{A}/customers.csv")
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/csv")
    assert 'filename="customers.csv"' in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["stripe_id", "owner_id", "email", "name", "status", "plan", "delinquent", "currency",
                       "balance", "created"]
    assert [r[1] for r in rows[1:]] == ["org_eve", "org_bob", "org_alice"]
    assert rows[1][3] == "'=HYPERLINK(\"http://x\")"
    alice = rows[3]
    assert (alice[0], alice[2], alice[4], alice[6]) == (world.alice.id, "Alice@Example.com", "active", "no")
    only = list(csv.reader(io.StringIO(client.get(f"{A}/customers.csv", status="active").text)))
    assert [r[1] for r in only[1:]] == ["org_alice"]
    assert client.get(f"{A}/customers.csv", status="nope").status == 400


def test_customer_page_shows_everything_and_the_timeline_in_time_order(world: World, client: Client) -> None:
    page = client.get(f"{A}/customers/{world.alice.id}")
    assert page.status == 200
    for text in ("Alice Anders", "Alice@Example.com", "org_alice", "Visa ending in 4242", world.invoice.number,
                 "$10.00", "reports", "api_calls", "Payment of $10.00 received", "Subscription started"):
        assert text in page.text, text
    stamps = re.findall(r'<time datetime="([^"]+)"', page.text)
    assert len(stamps) >= 4
    times = [datetime.fromisoformat(s) for s in stamps]
    assert times == sorted(times, reverse=True)
    assert client.get(f"{A}/customers/cus_nope").status == 404
    assert client.get(f"{A}/customers/sub_x").status == 404


def test_cancel_at_period_end_resume_and_cancel_now(world: World, client: Client) -> None:
    sub, subs = world.subscription.id, world.billing.subscriptions
    done = client.submit(f"{A}/subscriptions/{sub}/cancel", {"when": "period_end"})
    assert done.status == 303 and done.location.endswith("done=cancels")
    assert subs.get(sub).cancel_at_period_end is True
    assert "will cancel at the period end" in client.get(done.location).text
    assert client.submit(f"{A}/subscriptions/{sub}/resume").status == 303
    assert subs.get(sub).cancel_at_period_end is False
    assert client.submit(f"{A}/subscriptions/{sub}/resume").status == 409      # nothing to resume
    assert client.submit(f"{A}/subscriptions/{sub}/cancel", {"when": "later"}).status == 400
    assert subs.get(sub).status == "active"
    assert client.submit(f"{A}/subscriptions/{sub}/cancel", {"when": "now"}).status == 303
    assert subs.get(sub).status == "canceled"
    audited = world.billing.audit.list(target_id=sub).items
    assert [(e.action, e.actor_kind, e.actor_id) for e in audited] == [
        ("subscription.cancel", "admin", "ops@example.com"), ("subscription.resume", "admin", "ops@example.com"),
        ("subscription.cancel", "admin", "ops@example.com"), ("subscription.create", "system", None)]
    timeline = client.get(f"{A}/customers/{world.alice.id}").text
    assert "subscription: cancel" in timeline and "by admin:ops@example.com" in timeline
    listed = client.get(f"{A}/subscriptions", status="canceled")
    assert sub in listed.text and sub not in client.get(f"{A}/subscriptions", status="active").text


def test_change_plan_after_the_preview(world: World, client: Client) -> None:
    sub = world.subscription.id
    preview = client.get(f"{A}/subscriptions/{sub}/preview", price="pro_monthly", proration="always_invoice")
    assert preview.status == 200 and "Review the plan change" in preview.text and "$20.00" in preview.text
    stamp = re.search(r'name="stamp" value="(\d+)"', preview.text)
    assert stamp
    assert client.get(f"{A}/subscriptions/{sub}/preview", price="gold").status == 400
    assert client.submit(f"{A}/subscriptions/{sub}/change", {"price": "pro_monthly", "proration": "always_invoice",
                                                             "stamp": "1"}).status == 400
    assert world.billing.subscriptions.get(sub).price == "basic_monthly"
    done = client.submit(f"{A}/subscriptions/{sub}/change", {"price": "pro_monthly", "proration": "always_invoice",
                                                             "stamp": stamp.group(1)})
    assert done.status == 303 and world.billing.subscriptions.get(sub).price == "pro_monthly"


def test_apply_a_coupon(world: World, client: Client) -> None:
    world.billing.stripe.v1.coupons.create(params={"id": "LOYAL20", "percent_off": 20, "duration": "forever"})
    sub = world.subscription.id
    assert client.submit(f"{A}/subscriptions/{sub}/coupon", {"coupon": "NOPE"}).status == 404
    assert client.submit(f"{A}/subscriptions/{sub}/coupon", {"coupon": ""}).status == 400
    assert client.submit(f"{A}/subscriptions/{sub}/coupon", {"coupon": "LOYAL20"}).status == 303
    remote = world.billing.stripe.v1.subscriptions.retrieve(sub, params={"expand": ["discounts"]}).to_dict()
    coupons = [d["source"]["coupon"] if "source" in d else d["coupon"] for d in remote["discounts"]]
    assert [c if isinstance(c, str) else c["id"] for c in coupons] == ["LOYAL20"]


def test_grant_and_revoke_an_override(world: World, client: Client) -> None:
    b, cus = world.billing, world.alice.id
    assert not b.has_feature("org_alice", "exports")
    assert client.submit(f"{A}/customers/{cus}/overrides", {"feature": "exports", "days": "30"}).status == 303
    assert b.has_feature("org_alice", "exports")
    grant = next(g for g in b.entitlements.grants("org_alice") if g.source == "override")
    assert grant.reason == "granted by ops@example.com" and grant.expires_at is not None
    assert client.submit(f"{A}/customers/{cus}/overrides", {"feature": "exports", "days": "-1"}).status == 400
    assert client.submit(f"{A}/customers/{cus}/overrides", {"feature": "nope"}).status == 400
    assert client.submit(f"{A}/customers/{cus}/overrides/revoke", {"feature": "exports"}).status == 303
    assert not b.has_feature("org_alice", "exports")


def test_refund_partial_then_the_rest_with_a_confirmation_step(world: World, client: Client) -> None:
    inv, refunds = world.invoice.id, world.billing.refunds
    confirm = client.get(f"{A}/invoices/{inv}/refund", amount="4", reason="requested_by_customer")
    assert confirm.status == 200 and "Confirm the refund" in confirm.text and "Refund $4.00" in confirm.text
    assert refunds.list(inv) == []                                # the confirmation step wrote nothing
    for bad in ("0", "-1", "abc", "4.001", "10.01", "1e3"):
        page = client.get(f"{A}/invoices/{inv}/refund", amount=bad)
        assert page.status == 400, bad
    assert client.submit(f"{A}/invoices/{inv}/refund", {"amount": "4.00", "reason": "requested_by_customer"}
                         ).status == 303
    assert client.submit(f"{A}/invoices/{inv}/refund", {"amount": "6.01"}).status == 400
    assert [r.amount for r in refunds.list(inv)] == [400]
    rest = client.get(f"{A}/invoices/{inv}/refund")
    assert "Refund $6.00" in rest.text
    assert client.submit(f"{A}/invoices/{inv}/refund", {"amount": "6.00"}).status == 303
    assert sorted(r.amount for r in refunds.list(inv)) == [400, 600]
    assert refunds.refundable(inv).refund == 0
    assert "Nothing left to refund" in client.get(f"{A}/invoices/{inv}").text
    audited = world.billing.audit.list(action="invoice.refunded").items
    assert [(e.actor_kind, e.actor_id, e.target_id, e.after["amount"]) for e in audited] == [
        ("admin", "ops@example.com", inv, 600), ("admin", "ops@example.com", inv, 400)]
    assert all(e.client_address for e in audited)          # the request's peer, as the test clients send it


def test_credit_note_to_the_balance_with_a_confirmation_step(world: World, client: Client) -> None:
    inv = world.invoice.id
    confirm = client.get(f"{A}/invoices/{inv}/credit-note", amount="2.50", settle="credit", reason="order_change")
    assert confirm.status == 200 and "credited to the customer&#39;s balance" in confirm.text
    assert world.billing.refunds.credit_notes(inv) == []
    assert client.submit(f"{A}/invoices/{inv}/credit-note", {"amount": "2.50", "settle": "credit",
                                                             "reason": "order_change"}).status == 303
    notes = world.billing.refunds.credit_notes(inv)
    assert [(n.amount, n.post_payment_amount, n.reason) for n in notes] == [(250, 250, "order_change")]
    balance = world.billing.stripe.v1.customers.retrieve(world.alice.id).balance
    assert balance == -250
    assert client.submit(f"{A}/invoices/{inv}/credit-note", {"amount": "7.51"}).status == 400


def test_replay_a_dead_webhook_once_it_is_fixed(world: World, client: Client) -> None:
    page = client.get(f"{A}/events", status="dead")
    assert world.dead_event in page.text and "bob&#39;s CRM is down" in page.text
    detail = client.get(f"{A}/events/{world.dead_event}")
    assert detail.status == 200 and "Bob Broken" in detail.text and "customer.updated" in detail.text
    world.broken["on"] = False
    done = client.submit(f"{A}/events/replay", {f"pick:{world.dead_event}": "1"})
    assert done.status == 303
    world.billing.testing.drain()
    status = {e.id: e.status for e in world.billing.webhooks.events()}
    assert status[world.dead_event] == "processed"
    assert client.submit(f"{A}/events/replay", {}).status == 400
    assert client.submit(f"{A}/events/replay", {"pick:evt_nope": "1"}).status == 404


def test_jobs_page_and_replay_by_queue(world: World, client: Client) -> None:
    page = client.get(f"{A}/jobs", queue="webhooks", status="dead")
    assert page.status == 200 and world.dead_event in page.text and "bob&#39;s CRM is down" in page.text
    assert client.get(f"{A}/jobs", queue="nope").status == 400
    world.broken["on"] = False
    assert client.submit(f"{A}/jobs/replay", {"queue": "webhooks", "status": "dead"}).status == 303
    world.billing.testing.drain()
    assert world.billing.jobs.list(queue="webhooks", status="dead") == []


def test_cancel_a_scheduled_change_and_reactivate_are_audited(world: World, client: Client) -> None:
    """Issue 12: the admin's two newer subscription actions, each one audit entry naming the admin."""
    billing, sub = world.billing, world.subscription.id
    assert client.submit(f"{A}/subscriptions/{sub}/scheduled-change/cancel").status == 409      # nothing scheduled
    billing.subscriptions.change(sub, quantity=3, proration="at_period_end")
    page = client.get(f"{A}/subscriptions/{sub}")
    assert "Cancel the scheduled change" in page.text
    done = client.submit(f"{A}/subscriptions/{sub}/scheduled-change/cancel")
    assert done.status == 303 and done.location.endswith("done=unscheduled")
    assert billing.subscriptions.get(sub).scheduled_change is None
    billing.subscriptions.cancel(sub, at_period_end=False)
    assert "Reactivate" in client.get(f"{A}/subscriptions/{sub}").text
    back = client.submit(f"{A}/subscriptions/{sub}/reactivate")
    assert back.status == 303 and "done=reactivated" in back.location
    new = back.location.split("/subscriptions/")[1].split("?")[0]
    assert new != sub and billing.subscriptions.get(new).status == "active"
    again = client.submit(f"{A}/subscriptions/{sub}/reactivate")        # a double click: refused
    assert again.status == 409 and new in again.text
    assert [s.id for s in billing.subscriptions.list("org_alice") if s.status == "active"] == [new]
    entries = [(e.action, e.actor_kind, e.actor_id) for e in billing.audit.list(target_type="subscription").items
               if e.action in ("subscription.cancel_scheduled_change", "subscription.reactivate")]
    assert entries == [("subscription.reactivate", "admin", "ops@example.com"),
                            ("subscription.cancel_scheduled_change", "admin", "ops@example.com")]
    assert client.post(f"{A}/subscriptions/{sub}/reactivate", {}).status == 403                  # no CSRF token


def test_reconcile_run_now_keeps_its_report(world: World, client: Client) -> None:
    assert "No run yet" in client.get(f"{A}/reconcile").text
    assert client.submit(f"{A}/reconcile/run", {"mode": "sideways"}).status == 400
    assert world.billing.admin.reconcile_runs() == []
    done = client.submit(f"{A}/reconcile/run", {"mode": "apply"})
    assert done.status == 303
    runs = world.billing.admin.reconcile_runs()
    assert len(runs) == 1 and runs[0]["started_by"] == "ops@example.com" and runs[0]["error"] is None
    assert {k["kind"] for k in runs[0]["report"]["kinds"]} >= {"customers", "subscriptions", "invoices"}
    page = client.get(f"{A}/reconcile")
    assert "the dashboard by ops@example.com" in page.text and "subscriptions" in page.text


def test_reconcile_page_lists_every_run_newest_first_a_page_at_a_time(world: World, client: Client) -> None:
    """Issue 12: runs from the CLI, the hourly task and the app's code are listed too, 20 a page."""
    billing = world.billing
    billing.reconcile(dry_run=True, source="cli", started_by="ops")
    billing.reconcile.run(source="task")
    for _ in range(19):
        billing.reconcile(dry_run=True)
    with billing.transaction() as s:                          # local drift: rows edited by hand
        for row in s.scalars(select(BillingCustomer)):
            row.email = "drift@b.co"
    report = billing.reconcile()                              # the newest: it repairs them
    drifted = len(report.kind("customers").updated)
    assert drifted >= 2
    first = client.get(f"{A}/reconcile")

    def rows(answer: Any) -> list[str]:             # each run's row, as words
        words = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", answer.text)))
        return re.findall(r"\d\d:\d\d (?:Dry run|Run) .*?(?:fix|fixed) \([^)]*\)", words)

    assert first.status == 200 and len(rows(first)) == 20
    assert all(" the application " in r for r in rows(first))
    assert rows(first)[0].endswith(f"Run the application {drifted} fixed (0 created, {drifted} updated, 0 removed)")
    more = re.search(r'href="([^"]+after=[^"]+)"', first.text)
    assert more is not None
    second = client.get(html.unescape(more.group(1)))
    assert second.status == 200 and "Earlier runs" in second.text
    tail = rows(second)
    assert len(tail) == 2 and "Run the hourly task 0 fixed" in tail[0] and "Dry run the command line by ops" in tail[1]
    assert 'after=' not in second.text                                                  # the last page
    assert client.get(f"{A}/reconcile?after=forged").status == 400


def test_api_keys_created_shown_once_and_revoked(world: World, client: Client) -> None:
    keys = world.billing.api_keys
    made = client.submit(f"{A}/api-keys", {"name": "Zapier", "scope:usage:write": "1", "owner_id": "org_alice"})
    assert made.status == 201
    secret = re.search(r'id="secret" readonly value="(bos_test_[^"]+)"', made.text)
    assert secret and "Copy the new key now" in made.text
    key = keys.authenticate(secret.group(1))
    assert (key.name, key.scopes, key.owner_id, key.created_by) == ("Zapier", ["usage:write"], "org_alice",
                                                                    "admin:ops@example.com")
    listing = client.get(f"{A}/api-keys")
    assert "Zapier" in listing.text and secret.group(1) not in listing.text and "bos_test_" not in listing.text
    assert client.submit(f"{A}/api-keys", {"name": "", "scope:usage:write": "1"}).status == 400
    assert client.submit(f"{A}/api-keys", {"name": "No scopes"}).status == 400
    assert sorted(k.name for k in keys.list()) == ["CRM sync", "Zapier"]
    assert client.submit(f"{A}/api-keys/{key.id}/revoke").status == 303
    assert keys.get(key.id).revoked_at is not None
    assert client.submit(f"{A}/api-keys/key_000000000000/revoke").status == 404
    assert client.submit(f"{A}/api-keys/key_nope/revoke").status == 400


def test_audit_log_page_filters_and_exports(world: World, client: Client) -> None:
    client.submit(f"{A}/subscriptions/{world.subscription.id}/cancel", {"when": "period_end"})
    page = client.get(f"{A}/audit", actor_kind="admin")
    assert page.status == 200 and "subscription.cancel" in page.text and "api_key.created" not in page.text
    assert "api_key.created" in client.get(f"{A}/audit").text
    assert client.get(f"{A}/audit", actor_kind="robot").status == 400
    rows = list(csv.reader(io.StringIO(client.get(f"{A}/audit.csv", actor_kind="admin").text)))
    assert len(rows) == 2 and "subscription.cancel" in rows[1]
