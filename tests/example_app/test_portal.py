"""The example app's plan, invoice and card pages are billingos's customer portal, mounted by the
extension: sign-up's trial shows there, an upgrade and a card go through it, the login comes back to it."""

from __future__ import annotations

import html
import re

from flask import Flask

from billingos import Billing

from .conftest import signup, text


def _portal_token(client, page: str) -> str:
    m = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get(page).get_data(as_text=True))
    assert m is not None
    return html.unescape(m.group(1))


def test_signup_trial_shows_in_the_portal_with_the_apps_brand(app: Flask) -> None:
    client = app.test_client()
    assert signup(client).status_code == 302
    page = client.get("/billing/portal/")
    assert page.status_code == 200
    assert "Free trial until 29 Jan 2026." in text(page) or "Free trial until" in text(page)
    assert "Linkshelf" in text(page) and "--pico-primary: #3b3fc4" in page.get_data(as_text=True)
    assert 'href="/app"' in page.get_data(as_text=True)          # back to the app
    assert 'href="/billing/portal/"' in client.get("/app").get_data(as_text=True)


def test_the_old_plan_and_invoice_pages_are_gone(app: Flask) -> None:
    client = app.test_client()
    signup(client)
    for path in ("/account", "/account/plan", "/account/invoices", "/account/plan/preview"):
        assert client.get(path).status_code == 404


def test_upgrade_and_add_a_card_through_the_portal(app: Flask, billing: Billing) -> None:
    client = app.test_client()
    signup(client)
    preview = client.get("/billing/portal/plans/preview?price=team_monthly")
    assert preview.status_code == 200 and "Due now $0.00" in text(preview)
    stamp = re.search(r'name="stamp" value="(\d+)"', preview.get_data(as_text=True)).group(1)
    done = client.post("/billing/portal/plans/change", data={
        "csrf_token": _portal_token(client, "/billing/portal/plans"), "price": "team_monthly", "stamp": stamp})
    assert done.status_code == 303, text(done)[:300]
    owner = billing.customers.list().items[0].owner_id
    assert billing.subscriptions.list(owner)[-1].price == "team_monthly"
    add = client.post("/billing/portal/payment-methods/add",
                      data={"csrf_token": _portal_token(client, "/billing/portal/payment-methods")})
    assert add.status_code == 303 and add.headers["Location"].startswith("/billing/stripe/setup_intents/")
    page = client.get(add.headers["Location"])
    body = page.get_data(as_text=True)

    def field(name: str) -> str:
        return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', body).group(1))
    action = html.unescape(re.search(r'<form[^>]+action="([^"]+)"', body).group(1))
    saved = client.post(action, data={"token": field("token"), "client_secret": field("client_secret"),
                                      "return_url": field("return_url"), "card": "pm_card_visa"})
    assert saved.status_code == 303
    back = client.get(saved.headers["Location"])
    assert back.status_code == 303 and "done=card_added" in back.headers["Location"]
    assert [m.last4 for m in billing.payment_methods.list(owner) if m.default] == ["4242"]
