"""The example app's plan, invoice and demo pages through Flask's test client.

Each route: the happy path, a POST without the CSRF token (400), logged out (redirect to /login),
and bad input (a friendly message, nothing changed). Invoices: another user's id is a 404.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from huey import MemoryHuey

from billingos import Billing, Money
from billingos.subscriptions import Subscription

from .conftest import make_app, post, signup, text, token

POSTS = ["/account/plan/change", "/account/plan/cancel", "/account/plan/resume", "/account/plan/reactivate",
         "/account/plan/trial", "/account/card", "/demo/advance", "/demo/failing-card"]
GETS = ["/account/plan", "/account/plan/change?price=team_monthly", "/account/invoices",
        "/account/invoices/in_123", "/demo/"]


def _owner(app: Flask, username: str = "ada") -> str:
    from sqlalchemy import select

    from example_app.models import User
    with app.extensions["example_app.db"]() as db:
        return str(db.scalars(select(User.owner_id).where(User.username == username)).one())


def _sub(billing: Billing, owner: str) -> Subscription:
    [sub] = [s for s in billing.subscriptions.list(owner) if s.status not in ("canceled", "incomplete_expired")]
    return sub


def _state(billing: Billing, owner: str) -> tuple[object, ...]:
    """Everything a plan-page action could change, locally and in Stripe."""
    subs = billing.subscriptions.list(owner)
    stripe_subs = [billing.stripe.v1.subscriptions.retrieve(s.id).to_dict() for s in subs]
    customer = billing.customers.get(owner_id=owner)
    return ([(s.id, s.status, s.price, s.cancel_at_period_end, s.paused) for s in subs],
            [(s["status"], s["items"]["data"][0]["price"]["id"], s["cancel_at_period_end"]) for s in stripe_subs],
            customer.default_payment_method, len(billing.invoices.list(owner)), billing.now())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    c = app.test_client()
    assert signup(c).status_code == 302
    return c


def _with_card_after_trial(client: FlaskClient, billing: Billing) -> None:
    """Add a card and move past the trial: an active, paid subscription."""
    assert post(client, "/account/card").status_code == 303
    assert post(client, "/demo/advance", page="/demo/", days="31").status_code == 303


# --- signup ---------------------------------------------------------------------------------------
def test_signup_starts_a_14_day_pro_trial_without_a_card(app: Flask, billing: Billing, client: FlaskClient) -> None:
    owner = _owner(app)
    sub = _sub(billing, owner)
    assert (sub.status, sub.price) == ("trialing", "pro_monthly")
    assert sub.trial_end == billing.now() + timedelta(days=14)
    assert billing.customers.get(owner_id=owner).default_payment_method is None
    stripe_side = billing.stripe.v1.subscriptions.retrieve(sub.id)
    assert stripe_side.status == "trialing" and stripe_side.default_payment_method is None
    page = text(client.get("/account"))
    assert "Pro · trialing, trial ends" in page and f"{sub.trial_end:%d %b %Y}" in page


def test_signup_keeps_the_account_when_the_trial_cannot_start(app: Flask, billing: Billing) -> None:
    assert billing.emulator is not None
    billing.emulator.faults.fail_paths.add("/v1/subscriptions")
    client = app.test_client()
    response = signup(client)
    assert response.status_code == 302
    owner = _owner(app)
    assert billing.customers.get(owner_id=owner) is not None and billing.subscriptions.list(owner) == []
    page = text(client.get("/account"))
    assert "the trial could not start" in page and "No plan yet" in page

    billing.emulator.faults.reset()
    assert "Start my 14-day Pro trial" in text(client.get("/account/plan"))
    assert post(client, "/account/plan/trial").status_code == 303
    assert _sub(billing, owner).status == "trialing"
    again = post(client, "/account/plan/trial")   # a second trial: refused, nothing created
    assert again.status_code == 409 and "You already have a plan" in text(again)
    assert len(billing.subscriptions.list(owner)) == 1


# --- the plan page --------------------------------------------------------------------------------
def test_plan_page_shows_the_subscription_and_the_catalog(billing: Billing, client: FlaskClient, app: Flask) -> None:
    page = client.get("/account/plan")
    assert page.status_code == 200
    words = text(page)
    sub = _sub(billing, _owner(app))
    for expected in ("Plan Pro", "Status Trial", f"Trial ends {sub.trial_end:%d %b %Y}",
                     f"Current period ends {sub.current_period_end:%d %b %Y}", "Paused no", "No card on file",
                     "Stripe Elements", "Cancel at period end"):
        assert expected in words, expected
    html = page.get_data(as_text=True)
    assert 'aria-label="Upgrade to Team monthly (per seat)"' in html
    assert 'aria-label="Downgrade to Free"' in html
    assert 'aria-label="Switch to Pro yearly"' in html
    assert "Pro monthly $29.00 per month Your current plan" in words
    assert "pro_api_calls" not in html   # metered prices are not plans


def test_upgrade_preview_then_confirm(app: Flask, billing: Billing, client: FlaskClient) -> None:
    owner = _owner(app)
    before = _state(billing, owner)
    preview = client.get("/account/plan/change?price=team_monthly")
    assert preview.status_code == 200
    words = text(preview)
    assert "Upgrade to Team monthly (per seat)?" in words
    assert "$99.00 on the first invoice, when your trial ends" in words and "1 × Team" in words
    assert _state(billing, owner) == before     # a preview changes nothing

    date = re.search(r'name="proration_date" value="(\d+)"', preview.get_data(as_text=True))
    assert date is not None
    done = post(client, "/account/plan/change", price="team_monthly", proration_date=date.group(1))
    assert done.status_code == 303 and done.headers["Location"] == "/account/plan"
    assert _sub(billing, owner).price == "team_monthly"
    page = text(client.get("/account/plan"))
    assert "Done: you are now on Team monthly (per seat)." in page and "Plan Team" in page


def test_upgrade_when_active_charges_what_the_preview_showed(app: Flask, billing: Billing,
                                                             client: FlaskClient) -> None:
    _with_card_after_trial(client, billing)
    owner = _owner(app)
    assert _sub(billing, owner).status == "active"
    preview = client.get("/account/plan/change?price=team_monthly")
    due = re.search(r'data-testid="amount-due" class="notice"><strong>([^<]+)</strong>',
                    preview.get_data(as_text=True))
    assert due is not None and "charged now" in text(preview)
    date = re.search(r'name="proration_date" value="(\d+)"', preview.get_data(as_text=True))
    assert date is not None
    assert post(client, "/account/plan/change", price="team_monthly", proration_date=date.group(1)).status_code == 303
    latest = billing.invoices.list(owner)[0]
    assert Money(latest.amount_due, latest.currency).format() == due.group(1)
    assert latest.status == "paid" and latest.amount_due > 0


def test_downgrade_applies_from_the_next_renewal(app: Flask, billing: Billing, client: FlaskClient) -> None:
    _with_card_after_trial(client, billing)
    owner = _owner(app)
    invoices = len(billing.invoices.list(owner))
    preview = text(client.get("/account/plan/change?price=free_monthly"))
    assert "Downgrade to Free?" in preview and "on your next renewal" in preview
    date = re.search(r'name="proration_date" value="(\d+)"',
                     client.get("/account/plan/change?price=free_monthly").get_data(as_text=True))
    assert date is not None
    assert post(client, "/account/plan/change", price="free_monthly", proration_date=date.group(1)).status_code == 303
    sub = _sub(billing, owner)
    assert sub.price == "pro_monthly"                       # the plan paid for stays until the renewal
    assert sub.scheduled_change is not None and sub.scheduled_change.lookup_key == "free_monthly"
    assert sub.scheduled_change.effective_at == sub.current_period_end
    assert len(billing.invoices.list(owner)) == invoices   # nothing invoiced or credited now
    assert f"you move to Free on {sub.current_period_end:%d %b %Y}" in text(client.get("/account/plan"))
    assert post(client, "/demo/advance", page="/demo/", days="31").status_code == 303
    assert _sub(billing, owner).price == "free_monthly"     # applied at the renewal


def test_switch_to_yearly_says_it_is_charged_now(app: Flask, billing: Billing, client: FlaskClient) -> None:
    """Issue 8 item 18: Stripe invoices an interval change at once and restarts the cycle; the preview page
    says so (it used to say "on your next invoice"), and the charge is what it showed."""
    _with_card_after_trial(client, billing)
    owner = _owner(app)
    page = client.get("/account/plan/change?price=pro_yearly")
    words = text(page)
    assert "charged now: your billing cycle restarts today" in words and "next invoice" not in words
    due = re.search(r'data-testid="amount-due" class="notice"><strong>([^<]+)</strong>', page.get_data(as_text=True))
    date = re.search(r'name="proration_date" value="(\d+)"', page.get_data(as_text=True))
    assert due is not None and date is not None
    assert post(client, "/account/plan/change", price="pro_yearly", proration_date=date.group(1)).status_code == 303
    sub = _sub(billing, owner)
    assert sub.price == "pro_yearly" and sub.current_period_start == billing.now()
    latest = billing.invoices.list(owner)[0]
    assert Money(latest.amount_due, latest.currency).format() == due.group(1)


@pytest.mark.parametrize("args, message", [
    ("price=nope_monthly", "That plan is not on offer"),
    ("price=pro_api_calls", "That plan is not on offer"),        # metered: not a plan
    ("price=", "That plan is not on offer"),
    ("", "That plan is not on offer"),
    ("price=" + "x" * 500, "That plan is not on offer"),
    ("price=pro_monthly", "You are already on Pro monthly"),
])
def test_preview_of_a_bad_plan_is_a_friendly_400(app: Flask, billing: Billing, client: FlaskClient, args: str,
                                                  message: str) -> None:
    before = _state(billing, _owner(app))
    response = client.get(f"/account/plan/change?{args}")
    assert response.status_code == 400
    words = text(response)
    assert "Nothing was changed." in words and message in words and "Your plan" in words
    assert _state(billing, _owner(app)) == before


@pytest.mark.parametrize("form, message", [
    ({"price": "nope_monthly", "proration_date": "NOW"}, "That plan is not on offer"),
    ({"price": "pro_monthly", "proration_date": "NOW"}, "You are already on"),
    ({"price": "team_monthly"}, "This confirmation is incomplete"),
    ({"price": "team_monthly", "proration_date": "tomorrow"}, "This confirmation is incomplete"),
    ({"price": "team_monthly", "proration_date": "-5"}, "This confirmation is incomplete"),
    ({"price": "team_monthly", "proration_date": "²"}, "This confirmation is incomplete"),
    ({"price": "team_monthly", "proration_date": "1000"}, "This preview is out of date"),
    ({"price": "team_monthly", "proration_date": "HOUR_AGO"}, "This preview is out of date"),
    ({"price": "team_monthly", "proration_date": "9" * 30}, "This preview is out of date"),
])
def test_change_with_bad_form_values_changes_nothing(app: Flask, billing: Billing, client: FlaskClient,
                                                     form: dict[str, str], message: str) -> None:
    now = int(billing.now().timestamp())
    values = {"NOW": str(now), "HOUR_AGO": str(now - 3601)}
    form = {k: values.get(v, v) for k, v in form.items()}
    before = _state(billing, _owner(app))
    response = post(client, "/account/plan/change", **form)
    assert response.status_code == 400
    assert message in text(response) and "Nothing was changed." in text(response)
    assert _state(billing, _owner(app)) == before


def test_stripe_down_during_a_change_is_friendly_and_changes_nothing(app: Flask, billing: Billing,
                                                                     client: FlaskClient) -> None:
    assert billing.emulator is not None
    before = _state(billing, _owner(app))
    billing.emulator.faults.down = True
    now = str(int(billing.now().timestamp()))
    response = post(client, "/account/plan/change", price="team_monthly", proration_date=now)
    billing.emulator.faults.down = False
    assert response.status_code == 503
    assert "Nothing was changed." in text(response) and "Plan Pro" in text(response)
    assert _state(billing, _owner(app)) == before


def test_cancel_at_period_end_then_resume(app: Flask, billing: Billing, client: FlaskClient) -> None:
    owner = _owner(app)
    sub = _sub(billing, owner)
    response = post(client, "/account/plan/cancel")
    assert response.status_code == 303
    assert _sub(billing, owner).cancel_at_period_end is True
    page = text(client.get("/account/plan"))
    assert f"Your plan is set to cancel on {sub.current_period_end:%d %b %Y}" in page
    assert "Resume my plan" in page and "Cancel at period end" not in page

    assert post(client, "/account/plan/resume").status_code == 303
    assert _sub(billing, owner).cancel_at_period_end is False
    page = text(client.get("/account/plan"))
    assert "set to cancel" not in page and "Your plan is back on" in page


def test_resume_when_nothing_is_scheduled_is_a_friendly_409(app: Flask, billing: Billing,
                                                           client: FlaskClient) -> None:
    before = _state(billing, _owner(app))
    response = post(client, "/account/plan/resume")
    assert response.status_code == 409
    assert "Nothing was changed." in text(response) and "neither scheduled to cancel nor paused" in text(response)
    assert _state(billing, _owner(app)) == before


def test_reactivate_after_the_plan_ended(app: Flask, billing: Billing, client: FlaskClient) -> None:
    owner = _owner(app)
    assert post(client, "/account/card").status_code == 303
    refused = post(client, "/account/plan/reactivate")   # still live: nothing to reactivate
    assert refused.status_code == 409 and "only an ended one can be reactivated" in text(refused)

    billing.subscriptions.cancel(_sub(billing, owner), at_period_end=False)
    page = text(client.get("/account/plan"))
    assert "Status Canceled" in page and "Reactivate Pro" in page and "Cancel at period end" not in page
    for path in ("/account/plan/cancel", "/account/plan/resume"):
        assert post(client, path).status_code == 409   # an ended plan: friendly refusals
    assert post(client, "/account/plan/reactivate").status_code == 303
    sub = _sub(billing, owner)
    assert (sub.status, sub.price) == ("active", "pro_monthly")
    assert "Welcome back: your plan is active." in text(client.get("/account/plan"))


def test_add_test_card_sets_the_default_payment_method(app: Flask, billing: Billing, client: FlaskClient) -> None:
    owner = _owner(app)
    response = post(client, "/account/card")
    assert response.status_code == 303
    customer = billing.customers.get(owner_id=owner)
    assert customer.default_payment_method is not None and customer.default_payment_method.startswith("pm_")
    stripe_side = billing.stripe.v1.customers.retrieve(customer.id)
    assert stripe_side.invoice_settings.default_payment_method == customer.default_payment_method
    page = text(client.get("/account/plan"))
    assert "Visa •••• 4242 is now your default card." in page
    assert f"Default card: {customer.default_payment_method}" in page


def test_add_test_card_when_stripe_is_down(app: Flask, billing: Billing, client: FlaskClient) -> None:
    assert billing.emulator is not None
    billing.emulator.faults.down = True
    token_page = token(client)
    response = client.post("/account/card", data={"csrf_token": token_page})
    billing.emulator.faults.down = False
    assert response.status_code == 503 and "Stripe could not be reached" in text(response)
    assert billing.customers.get(owner_id=_owner(app)).default_payment_method is None


# --- invoices -------------------------------------------------------------------------------------
def test_invoices_list_and_detail(app: Flask, billing: Billing, client: FlaskClient) -> None:
    _with_card_after_trial(client, billing)
    invoices = billing.invoices.list(_owner(app))
    assert len(invoices) == 2
    page = client.get("/account/invoices")
    assert page.status_code == 200
    html, words = page.get_data(as_text=True), text(page)
    for inv in invoices:
        assert inv.number is not None and inv.hosted_invoice_url is not None
        assert f"{inv.number} {inv.status} {Money(inv.total, inv.currency).format()}" in words
        assert f'href="{inv.hosted_invoice_url}"' in html
    assert "$29.00" in words and "$0.00" in words

    detail = client.get(f"/account/invoices/{invoices[0].id}")
    assert detail.status_code == 200
    assert f"Invoice {invoices[0].number}" in text(detail) and "Total $29.00" in text(detail)


def test_another_users_invoice_is_a_404(app: Flask, billing: Billing, client: FlaskClient) -> None:
    mine = billing.invoices.list(_owner(app))[0]
    other = app.test_client()
    assert signup(other, "grace").status_code == 302
    theirs = billing.invoices.list(_owner(app, "grace"))[0]
    assert client.get(f"/account/invoices/{mine.id}").status_code == 200
    assert client.get(f"/account/invoices/{theirs.id}").status_code == 404
    assert other.get(f"/account/invoices/{mine.id}").status_code == 404
    assert theirs.id not in client.get("/account/invoices").get_data(as_text=True)
    for bad in ("in_doesnotexist", "sub_123", "x" * 300, "%00"):
        assert client.get(f"/account/invoices/{bad}").status_code == 404


def test_no_invoices_yet(app: Flask, billing: Billing) -> None:
    assert billing.emulator is not None
    billing.emulator.faults.fail_paths.add("/v1/subscriptions")   # no trial, so no $0 invoice
    client = app.test_client()
    signup(client)
    billing.emulator.faults.reset()
    assert "No invoices yet." in text(client.get("/account/invoices"))


# --- CSRF, login --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", POSTS)
def test_posts_without_the_csrf_token_are_refused(app: Flask, billing: Billing, client: FlaskClient,
                                                  path: str) -> None:
    before = _state(billing, _owner(app))
    form = {"price": "team_monthly", "proration_date": str(int(billing.now().timestamp())), "days": "31"}
    assert client.post(path, data=form).status_code == 400
    assert client.post(path, data={**form, "csrf_token": "forged"}).status_code == 400
    assert _state(billing, _owner(app)) == before


@pytest.mark.parametrize("path", GETS)
def test_pages_need_a_login(app: Flask, path: str) -> None:
    response = app.test_client().get(path)
    assert response.status_code == 302 and response.headers["Location"] == "/login"


@pytest.mark.parametrize("path", POSTS)
def test_posts_need_a_login(app: Flask, billing: Billing, client: FlaskClient, path: str) -> None:
    before = _state(billing, _owner(app))
    anonymous = app.test_client()
    response = post(anonymous, path, page="/login", price="team_monthly", days="31")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert _state(billing, _owner(app)) == before


# --- webhooks, the queue, demo tools --------------------------------------------------------------
def test_dashboard_changes_reach_the_db_through_the_webhook_route(app: Flask, billing: Billing,
                                                                  client: FlaskClient) -> None:
    """A change made straight in "Stripe" (not through billingos) arrives as a signed webhook at
    POST /billing/webhooks, is processed on huey, and shows on the plan page."""
    assert billing.emulator is not None
    sub = _sub(billing, _owner(app))
    sent = len(billing.emulator.webhooks.log)
    billing.emulator.client().v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    attempts = billing.emulator.webhooks.log[sent:]
    assert attempts and all(a.status == 200 for a in attempts)
    assert _sub(billing, _owner(app)).cancel_at_period_end is True
    assert "set to cancel" in text(client.get("/account/plan"))
    event = billing.webhooks.events()[0]
    assert (event.type, event.status) == ("customer.subscription.updated", "processed")


def test_the_demo_connects_through_the_documented_path_and_a_restart_keeps_one_endpoint(
        app: Flask, billing: Billing, tmp_path: Path) -> None:
    """demo mode is billing.testing.connect(app): one endpoint at the app's own route, signed with the
    configured secret; a restart (same saved emulator state) moves it rather than adding another."""
    assert billing.emulator is not None
    endpoints = billing.emulator.client().v1.webhook_endpoints.list().data
    assert [e.url for e in endpoints] == ["http://testserver/billing/webhooks"]
    assert billing.emulator.webhooks.secret(endpoints[0].id) == billing.config.webhook_secrets[0]
    restarted = make_app(tmp_path / "instance")
    again = restarted.extensions["billingos"].billing_for(restarted)
    assert [e.id for e in again.emulator.client().v1.webhook_endpoints.list().data] == [endpoints[0].id]


def test_webhook_route_is_csrf_exempt_but_checks_signatures(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/billing/webhooks", data=b'{"id": "evt_1"}',
                           headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"})
    assert response.status_code == 400
    assert response.is_json and "signature" in response.get_json()["detail"].lower()


def test_the_app_runs_billingos_tasks_on_its_immediate_huey(app: Flask, billing: Billing) -> None:
    huey = app.extensions["example_app.huey"]
    assert isinstance(huey, MemoryHuey) and huey.immediate
    assert billing.tasks.huey is huey
    assert any(name.startswith("billingos.") for name in huey._registry._registry)


def test_demo_page_and_advance(app: Flask, billing: Billing, client: FlaskClient, tmp_path: Path) -> None:
    page = client.get("/demo/")
    assert page.status_code == 200
    words = text(page)
    assert "Advance time 1 month" in words and "Use a failing card" in words
    assert f"{billing.now():%d %b %Y, %H:%M} UTC" in words
    start = billing.now()
    assert post(client, "/demo/advance", page="/demo/", days="7").status_code == 303
    assert billing.now() == start + timedelta(days=7)
    assert _sub(billing, _owner(app)).status == "trialing"
    assert "Time moved 1 week forward" in text(client.get("/account/plan"))
    assert post(client, "/demo/advance", page="/demo/", days="7").status_code == 303
    assert _sub(billing, _owner(app)).status == "past_due"   # the trial ended with no card: the invoice failed
    assert "Past due" in text(client.get("/account/plan"))

    restarted = make_app(tmp_path / "instance")   # the demo clock survives a restart
    assert restarted.extensions["billingos"].billing_for(restarted).now() == start + timedelta(days=14)


@pytest.mark.parametrize("days", ["", "2", "abc", "-31", "31.0", "3100000000", "²", "9" * 400])
def test_advance_with_bad_days_changes_nothing(app: Flask, billing: Billing, client: FlaskClient,
                                               days: str) -> None:
    before = billing.now()
    response = post(client, "/demo/advance", page="/demo/", days=days)
    assert response.status_code == 400 and "Pick one of the buttons" in text(response)
    assert billing.now() == before


def test_failing_card_leads_to_past_due_and_dunning(app: Flask, billing: Billing, client: FlaskClient) -> None:
    owner = _owner(app)
    response = post(client, "/demo/failing-card", page="/demo/")
    assert response.status_code == 303
    assert "Stripe declines" in text(client.get("/account/plan"))
    for _ in range(2):   # two weeks: the trial ends and its invoice is declined
        assert post(client, "/demo/advance", page="/demo/", days="7").status_code == 303
    sub = _sub(billing, owner)
    assert sub.status == "past_due"
    assert "Your last payment failed" in text(client.get("/account/plan"))
    [latest, *_] = billing.invoices.list(owner)
    assert latest.status == "open" and latest.attempt_count >= 1
    assert "open $29.00" in text(client.get("/account/invoices"))
