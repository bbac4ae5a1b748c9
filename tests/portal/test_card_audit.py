"""Card changes made in the portal are in the audit log, through both adapters: adding a card (the
SetupIntent confirmed on the stand-in Elements page), making one the default and removing one each write
exactly one entry naming the owner, the request and the card; a refused change writes none."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from billingos import Billing, InvalidInputError

from .conftest import OTHER, OWNER, Portal, customer_with_card


def _card_entries(billing: Billing) -> list[Any]:
    return list(reversed(billing.audit.list(target_type="payment_method").items))


def _second_card(billing: Billing, owner: str = OWNER, card: str = "pm_card_mastercard") -> str:
    customer = billing.customers.get(owner_id=owner)
    pm = billing.stripe.v1.payment_methods.attach(card, params={"customer": customer.id})
    billing.payment_methods.sync(pm)
    return str(pm.id)


def test_adding_a_card_writes_one_entry_even_when_the_return_page_is_reloaded(portal: Portal) -> None:
    customer_with_card(portal.billing, OWNER)
    elements = portal.follow(portal.submit("/billing/portal/payment-methods/add", {},
                                           "/billing/portal/payment-methods"))
    action = re.search(r'<form[^>]+action="([^"]+)"', elements.html)
    assert action is not None
    posted = portal.post(html.unescape(action.group(1)), {
        "token": elements.field("token"), "client_secret": elements.field("client_secret"),
        "return_url": elements.field("return_url"), "card": "pm_card_mastercard"})
    back = urlsplit(posted.location)
    returned = f"{back.path}?{back.query}"
    assert portal.get(returned).status == 303
    assert portal.get(returned).status == 303        # the browser reloads the page Stripe.js returned to
    added = next(m for m in portal.billing.payment_methods.list(OWNER) if m.brand == "mastercard")
    entries = _card_entries(portal.billing)
    assert [(e.action, e.target_type, e.target_id, e.owner_id, e.actor_kind, e.actor_id) for e in entries] == [
        ("payment_method.attached", "payment_method", added.id, OWNER, "owner", OWNER)]
    assert entries[0].after == {"type": "card", "brand": "mastercard", "exp_month": added.exp_month,
                                "exp_year": added.exp_year}
    assert len(entries[0].request_id or "") == 32 and entries[0].client_address


def test_making_a_card_the_default_writes_one_entry(portal: Portal) -> None:
    customer_with_card(portal.billing, OWNER)
    second = _second_card(portal.billing)
    answer = portal.submit(f"/billing/portal/payment-methods/{second}/default", {})
    assert answer.status == 303 and "done=default_set" in answer.location
    assert portal.billing.customers.get(owner_id=OWNER).default_payment_method == second
    assert [(e.action, e.target_id, e.owner_id, e.actor_id) for e in _card_entries(portal.billing)] == [
        ("payment_method.default_set", second, OWNER, OWNER)]
    assert portal.submit(f"/billing/portal/payment-methods/{second}/default", {}).status == 303
    assert len(_card_entries(portal.billing)) == 1       # already the default: nothing changed, nothing written


def test_removing_a_card_writes_one_entry(portal: Portal) -> None:
    customer_with_card(portal.billing, OWNER)
    second = _second_card(portal.billing)
    answer = portal.submit(f"/billing/portal/payment-methods/{second}/remove", {})
    assert answer.status == 303 and "done=card_removed" in answer.location
    assert second not in {m.id for m in portal.billing.payment_methods.list(OWNER)}
    assert [(e.action, e.target_id, e.owner_id, e.actor_kind, e.actor_id) for e in _card_entries(portal.billing)] \
        == [("payment_method.detached", second, OWNER, "owner", OWNER)]


def test_refused_card_changes_write_no_entry(portal: Portal) -> None:
    customer_with_card(portal.billing, OWNER)
    mine = _second_card(portal.billing)
    customer_with_card(portal.billing, OTHER)
    theirs = _second_card(portal.billing, OTHER, "pm_card_amex")
    for verb in ("default", "remove"):
        path = f"/billing/portal/payment-methods/{mine}/{verb}"
        assert portal.post(path, {}).status == 403                                 # no CSRF token
        assert portal.post(path, {"csrf_token": "x" * 40}).status == 403           # a forged one
        other = portal.submit(f"/billing/portal/payment-methods/{theirs}/{verb}", {})
        assert other.status == 404 and "Page not found" in other.text              # another owner's card
    portal.billing.subscriptions.create(OWNER, price="basic_monthly")
    first = portal.billing.customers.get(owner_id=OWNER).default_payment_method
    busy = portal.submit(f"/billing/portal/payment-methods/{first}/remove", {})    # it pays the subscription
    assert busy.status == 409 and "make it the default" in busy.text
    assert _card_entries(portal.billing) == []
    assert {m.id for m in portal.billing.payment_methods.list(OWNER)} == {first, mine}
    assert theirs in {m.id for m in portal.billing.payment_methods.list(OTHER)}


def test_a_card_change_with_a_bad_actor_is_refused_before_anything_changes(pbilling: Billing) -> None:
    customer_with_card(pbilling, OWNER)
    second = _second_card(pbilling)
    default = pbilling.customers.get(owner_id=OWNER).default_payment_method
    for bad in ("bob", {"kind": "owner", "id": OWNER}, 7):
        with pytest.raises(InvalidInputError, match="actor"):
            pbilling.payment_methods.detach(OWNER, second, actor=bad)
        with pytest.raises(InvalidInputError, match="actor"):
            pbilling.payment_methods.set_default(OWNER, second, actor=bad)
    assert {m.id for m in pbilling.payment_methods.list(OWNER)} == {default, second}
    assert pbilling.customers.get(owner_id=OWNER).default_payment_method == default
    assert _card_entries(pbilling) == []
