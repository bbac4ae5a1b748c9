"""Proration items (Stripe classic billing mode): a change at ``t`` inside the period [start, end) credits
the unused share ``(end - t) / (end - start)`` of the FULL price of the current item and debits the same
share of the new price (``rating.prorated``). Because the credit is always computed from the item's full
price, two upgrades in one period never over-charge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .catalog import is_metered, live_price
from .invoice_build import proration_description
from .rating import price_amount, prorated
from .store import new_id

if TYPE_CHECKING:
    from .app import Emulator
    from .routing import Request


def proration_item(
    em: Emulator,
    sub: dict[str, Any],
    item: dict[str, Any],
    price: dict[str, Any],
    quantity: int,
    at: int,
    period: tuple[int, int],
    *,
    credit: bool,
) -> dict[str, Any]:
    """A pending proration invoice item (not stored): the credit of the old or the debit of the new."""
    amount = prorated(price_amount(price, quantity), period, at)
    amount = -amount if credit else amount
    cust = em.store.objects[sub["customer"]]
    return {
        "id": new_id("ii", 24),
        "object": "invoiceitem",
        "amount": amount,
        "currency": sub["currency"],
        "customer": sub["customer"],
        "customer_account": None,
        "date": at,
        "description": proration_description(em, price, quantity, at, credit=credit),
        "discountable": True,
        "discounts": [],
        "frozen_fields": None,
        "invoice": None,
        "invoicing_rules": None,
        "livemode": False,
        "metadata": {},
        "net_amount": amount,
        "parent": {
            "subscription_details": {"subscription": sub["id"], "subscription_item": item["id"]},
            "type": "subscription_details",
        },
        "period": {"end": period[1], "start": at},
        "pricing": {
            "price_details": {"price": price["id"], "product": price.get("product")},
            "type": "price_details",
            "unit_amount_decimal": price.get("unit_amount_decimal"),
        },
        "proration": True,
        "proration_details": {"credited_items": None, "discount_amounts": []},
        "quantity": quantity,
        "quantity_decimal": str(quantity),
        "tax_rates": [dict(r) for r in item.get("tax_rates") or []],
        "test_clock": cust.get("test_clock"),
    }


def change_items(
    em: Emulator,
    sub: dict[str, Any],
    pairs: list[tuple[dict[str, Any] | None, dict[str, Any] | None]],
    at: int,
    period: tuple[int, int],
) -> list[dict[str, Any]]:
    """Credit/debit items for each (old item, new item) pair whose price or quantity changed."""
    out: list[dict[str, Any]] = []
    for old, new in pairs:
        old_price = live_price(em, old) if old else {}
        new_price = live_price(em, new) if new else {}
        if old and new and old_price["id"] == new_price["id"] and old["quantity"] == new["quantity"]:
            continue
        if old and not is_metered(old_price):
            out.append(proration_item(em, sub, old, old_price, old["quantity"], at, period, credit=True))
        if new and not is_metered(new_price):
            out.append(proration_item(em, sub, new, new_price, new["quantity"], at, period, credit=False))
    return [i for i in out if i["amount"] != 0]


def credit_items_for(
    em: Emulator, sub: dict[str, Any], items: list[dict[str, Any]], at: int, period: tuple[int, int]
) -> list[dict[str, Any]]:
    """Unused-time credits for every licensed item (a cancellation, or a new billing cycle)."""
    return (
        change_items(em, sub, [(item, None) for item in items], at, period)
        if period[0] <= at < period[1]
        else []
    )


def store_items(em: Emulator, items: list[dict[str, Any]], req: Request | None) -> None:
    for ii in items:
        em.store.insert(ii)
        em.emit("invoiceitem.created", ii, request=req)
