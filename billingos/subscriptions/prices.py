"""Prices and previews for the subscription writes: a lookup key or price id resolved against Stripe (the
catalog's source of truth), line items checked against their prices, a promotion code's ``discounts``, and
an invoice preview from Stripe's upcoming invoice."""

from __future__ import annotations

from typing import Any

import stripe

from .. import validation
from ..errors import InvalidInputError, NotFoundError
from ..invoices import invoice_line
from ..stripe_api import call_stripe, plain
from . import inputs
from .schemas import InvoicePreview, PreviewLine

__all__ = ["discounts_for", "preview_from_invoice", "resolve_items", "resolve_price"]


def resolve_items(client: stripe.StripeClient, lines: list[dict[str, Any]], param: str) -> list[dict[str, Any]]:
    """Shape-checked lines (``inputs``) resolved against Stripe."""
    out = []
    for n, line in enumerate(lines):
        price = resolve_price(client, line["price"], "price" if param == "price" else f"items[{n}].price")
        item: dict[str, Any] = {"price": price["id"]}
        metered = (price.get("recurring") or {}).get("usage_type") == "metered"
        if line.get("quantity") is not None:
            if metered:
                raise InvalidInputError(f"items[{n}]: a metered price takes no quantity.",
                                        param=f"items[{n}].quantity")
            item["quantity"] = line["quantity"]
        out.append(item)
    return out


def resolve_price(client: stripe.StripeClient, ref: Any, param: str = "price") -> dict[str, Any]:
    """A lookup key or a ``price_`` id, resolved against Stripe (the catalog's source of truth)."""
    if inputs.price_ref(ref, param).startswith("price_"):
        try:
            return plain(call_stripe(client.v1.prices.retrieve, ref))
        except NotFoundError:
            raise InvalidInputError(f"Unknown price {ref!r}.", param=param) from None
    found = call_stripe(client.v1.prices.list, params={"lookup_keys": [ref], "active": True})
    if not found.data:
        raise InvalidInputError(f"Unknown price {ref!r}: no active Stripe price has that lookup_key. "
                                "Sync your catalog first.", param=param)
    price = plain(found.data[0])
    if price.get("type") != "recurring":
        raise InvalidInputError(f"Price {ref!r} is one-time; a subscription needs a recurring price.",
                                param=param)
    return price


def preview_from_invoice(inv: dict[str, Any], date: int) -> InvoicePreview:
    lines = [invoice_line(ln) for ln in (inv.get("lines") or {}).get("data") or []]
    return InvoicePreview(
        currency=inv["currency"], subtotal=inv.get("subtotal") or 0, total=inv.get("total") or 0,
        amount_due=inv.get("amount_due") or 0, proration_date=date,
        lines=[PreviewLine(description=ln["description"], amount=ln["amount"], proration=ln["proration"],
                           price=ln["price"], quantity=ln["quantity"], period_start=ln["period_start"],
                           period_end=ln["period_end"]) for ln in lines])


def discounts_for(promotion_code: str | None) -> dict[str, Any]:
    """``discounts`` for a Stripe promotion code id (``promo_...``), checked; {} without one."""
    if promotion_code is None:
        return {}
    return {"discounts": [{"promotion_code": validation.stripe_id(promotion_code, "promo", "promotion_code")}]}
