"""The stand-in pages in Debian's Chromium (Playwright), at a phone's width: a customer subscribes through
Checkout (a declined card first), then cancels in the portal. Served by the emulator's loopback server.

Skipped when /usr/bin/chromium or playwright is missing, unless BILLINGOS_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from billingos.emulator import Emulator
from billingos.emulator.server import EmulatorServer, serve_in_thread
from tests.browser.kit import check_page, need_browser, open_tab

from .billing_kit import customer as make_customer
from .billing_kit import price as make_price

# What every page must satisfy: a language, one h1, a label for each field, no sideways scrolling at 390 px,
# touch-sized buttons, and nothing loaded from elsewhere.
CHECKS = """() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push('no lang');
  if (document.querySelectorAll('h1').length !== 1) problems.push('h1 count');
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) problems.push('unlabelled ' + el.name);
  }
  if (document.documentElement.scrollWidth > window.innerWidth) problems.push('scrolls sideways');
  for (const b of document.querySelectorAll('button, a.button')) {
    if (b.getBoundingClientRect().height < 44) problems.push('small button ' + b.textContent.trim());
  }
  return problems;
}"""


@pytest.fixture
def server(clock) -> Iterator[EmulatorServer]:
    need_browser()
    srv = serve_in_thread(Emulator(clock=clock), port=0)
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def tab(server: EmulatorServer) -> Iterator[Any]:
    with open_tab(server.emulator.hosted.base_url or "", width=390, height=844, bypass_csp=True) as page:  # axe
        yield page


def _look(tab: Any, name: str) -> None:
    """The stand-in pages' own promises (touch-sized buttons, one h1, labels), then what every page passes."""
    assert tab.evaluate(CHECKS) == [], name
    check_page(tab, f"emulator-{name}")


def test_subscribe_through_checkout_then_cancel_in_the_portal(server: EmulatorServer, tab: Any) -> None:
    em = server.emulator
    client = em.client()
    price = make_price(client, 2900, name="Pro")
    origin = em.hosted.base_url
    cs = client.v1.checkout.sessions.create(params={
        "mode": "subscription", "line_items": [{"price": price.id}], "client_reference_id": "org_7",
        "success_url": f"{origin}/nowhere-success", "cancel_url": f"{origin}/nowhere-cancel"})
    tab.goto(cs.url)
    _look(tab, "checkout")
    tab.get_by_label("Email").fill("grace@shop.test")
    tab.get_by_label("Name on card").fill("Grace <b>Hopper</b>")
    tab.get_by_label("Visa ending 9995: declined (insufficient_funds)").check()
    tab.get_by_role("button", name="Subscribe").click()
    assert tab.get_by_role("alert").inner_text() == "Your card has insufficient funds."
    assert tab.get_by_label("Email").input_value() == "grace@shop.test"
    _look(tab, "checkout-declined")
    tab.get_by_label("Visa ending 4242: succeeds").check()
    tab.get_by_role("button", name="Subscribe").click()
    tab.wait_for_url(f"{origin}/nowhere-success")
    done = client.v1.checkout.sessions.retrieve(cs.id)
    assert (done.status, done.client_reference_id) == ("complete", "org_7")
    sub = client.v1.subscriptions.retrieve(done.subscription)
    assert sub.status == "active" and client.v1.customers.retrieve(done.customer).name == "Grace <b>Hopper</b>"

    portal = client.v1.billing_portal.sessions.create(params={"customer": done.customer,
                                                              "return_url": f"{origin}/nowhere-account"})
    tab.goto(portal.url)
    assert tab.get_by_role("heading", name="Billing", exact=True).is_visible()
    assert "Grace <b>Hopper</b>" in tab.inner_text("main")            # shown as text, not markup
    _look(tab, "portal")
    tab.get_by_role("link", name="Cancel plan").click()
    tab.get_by_label("It's too expensive").check()
    _look(tab, "portal-cancel")
    tab.get_by_role("button", name="Cancel plan").click()
    assert "will be canceled at the end of the billing period" in tab.get_by_role("status").inner_text()
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end is True
    assert tab.outside == []


def test_add_a_card_through_elements_and_the_portal(server: EmulatorServer, tab: Any) -> None:
    em = server.emulator
    client = em.client()
    cust = make_customer(client, card=None, email="card@shop.test")
    seti = client.v1.setup_intents.create(params={"customer": cust.id})
    origin = em.hosted.base_url
    tab.goto(f"{origin}/setup_intents/{seti.id}/confirm?client_secret={seti.client_secret}"
             f"&return_url={origin}/nowhere-back")
    _look(tab, "elements")
    tab.get_by_label("Visa ending 0002: declined (generic_decline)").check()
    tab.get_by_role("button", name="Save card").click()
    assert tab.get_by_role("alert").inner_text() == "Your card was declined."
    tab.get_by_label("Mastercard ending 4444: succeeds").check()
    tab.get_by_role("button", name="Save card").click()
    tab.wait_for_url(f"{origin}/nowhere-back?setup_intent={seti.id}*")
    assert "redirect_status=succeeded" in tab.url
    portal = client.v1.billing_portal.sessions.create(params={"customer": cust.id})
    tab.goto(portal.url)
    assert "Mastercard ending 4444" in tab.inner_text("main")
    tab.get_by_role("link", name="Add payment method").click()
    _look(tab, "portal-add-card")
    tab.get_by_label("American Express ending 0005: succeeds").check()
    tab.get_by_role("button", name="Add card").click()
    assert "Amex ending 0005" in tab.inner_text("main") and "(default)" in tab.inner_text("main")
    assert tab.outside == []
