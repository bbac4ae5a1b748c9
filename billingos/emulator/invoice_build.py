"""Building invoices: the draft invoice object, its lines (from subscription items, pending invoice items
and prorations) and their descriptions. Nothing here stores or emits; the lifecycle is ``invoicing.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .billing_common import DAY, fmt_date
from .store import new_id

if TYPE_CHECKING:
    from .app import Emulator

INVOICE_HOST = "https://invoice.stripe.test"


def blank_invoice(
    em: Emulator,
    cust: dict[str, Any],
    *,
    at: int,
    billing_reason: str,
    subscription: dict[str, Any] | None = None,
    collection_method: str = "charge_automatically",
    days_until_due: int | None = None,
    period: tuple[int, int] | None = None,
    default_payment_method: str | None = None,
    default_tax_rates: list[Any] | None = None,
    discounts: list[str] | None = None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    auto_advance: bool = True,
    currency: str | None = None,
    preview: bool = False,
) -> dict[str, Any]:
    """A draft invoice (not stored)."""
    oid = new_id("upcoming_in", 24) if preview else new_id("in", 24)
    sub_id = subscription["id"] if subscription else None
    start, end = period or (at, at)
    addr = cust.get("address")
    return {
        "id": oid,
        "object": "invoice",
        "account_country": "US",
        "account_name": "billingos emulator",
        "account_tax_ids": None,
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_paid_off_stripe": None,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": auto_advance,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": billing_reason,
        "collection_method": collection_method,
        "confirmation_secret": None,
        "created": at,
        "currency": currency or (subscription or {}).get("currency") or cust.get("currency") or "usd",
        "custom_fields": None,
        "customer": cust["id"],
        "customer_account": None,
        "customer_address": dict(addr) if addr else None,
        "customer_email": cust.get("email"),
        "customer_name": cust.get("name"),
        "customer_phone": cust.get("phone"),
        "customer_shipping": cust.get("shipping"),
        "customer_tax_exempt": cust.get("tax_exempt", "none"),
        "customer_tax_ids": [],
        "default_payment_method": default_payment_method,
        "default_source": None,
        "default_tax_rates": [_rate(em, r) for r in (default_tax_rates or [])],
        "description": description,
        "discounts": list(discounts or []),
        "due_date": (
            at + DAY * days_until_due if collection_method == "send_invoice" and days_until_due is not None else None
        ),
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/invoices/{oid}/lines",
        },
        "livemode": False,
        "metadata": dict(metadata or {}),
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "parent": (
            {
                "quote_details": None,
                "subscription_details": {
                    "metadata": dict(subscription.get("metadata") or {}),
                    "subscription": sub_id,
                },
                "type": "subscription_details",
            }
            if subscription
            else None
        ),
        "payment_intent": None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "payments": {"object": "list", "data": [], "has_more": False, "url": "/v1/invoice_payments"},
        "period_end": end,
        "period_start": start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_details": None,
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subscription": sub_id,
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "test_clock": cust.get("test_clock"),
        "threshold_reason": None,
        "total": 0,
        "total_discount_amounts": [],
        "total_excluding_tax": 0,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
    }


def _rate(em: Emulator, rate: Any) -> dict[str, Any]:
    return rate if isinstance(rate, dict) else em.store.objects[rate]


def product_name(em: Emulator, price: dict[str, Any]) -> str:
    prod = em.store.objects.get(price.get("product") or "")
    return (prod or {}).get("name") or price.get("nickname") or price["id"]


def new_line(
    inv: dict[str, Any],
    *,
    amount: int,
    description: str,
    period: tuple[int, int],
    price: dict[str, Any] | None,
    quantity: int | None,
    tax_rates: list[str],
    subscription: str | None = None,
    subscription_item: str | None = None,
    invoice_item: str | None = None,
    proration: bool = False,
    discountable: bool = True,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    if subscription_item is not None:
        parent = {
            "invoice_item_details": None,
            "type": "subscription_item_details",
            "subscription_item_details": {
                "invoice_item": invoice_item,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": subscription,
                "subscription_item": subscription_item,
            },
        }
    else:
        parent = {
            "subscription_item_details": None,
            "type": "invoice_item_details",
            "invoice_item_details": {
                "invoice_item": invoice_item,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": subscription,
            },
        }
    pricing = None
    if price is not None:
        pricing = {
            "price_details": {"price": price["id"], "product": price.get("product")},
            "type": "price_details",
            "unit_amount_decimal": price.get("unit_amount_decimal"),
        }
    return {
        "id": new_id("il", 24),
        "object": "line_item",
        "amount": amount,
        "currency": inv["currency"],
        "description": description,
        "discount_amounts": [],
        "discountable": discountable,
        "discounts": [],
        "invoice": inv["id"],
        "livemode": False,
        "metadata": dict(metadata or {}),
        "parent": parent,
        "period": {"end": period[1], "start": period[0]},
        "pretax_credit_amounts": [],
        "pricing": pricing,
        "quantity": quantity,
        "quantity_decimal": None if quantity is None else str(quantity),
        "subscription": subscription,
        "subtotal": amount,
        "taxes": [
            {
                "amount": 0,
                "tax_behavior": "exclusive",
                "tax_rate_details": {"tax_rate": r},
                "taxability_reason": "standard_rated",
                "taxable_amount": 0,
                "type": "tax_rate_details",
            }
            for r in tax_rates
        ],
    }


def line_from_item(em: Emulator, inv: dict[str, Any], ii: dict[str, Any]) -> dict[str, Any]:
    """The invoice line of a pending invoice item, which now belongs to ``inv``."""
    sub_details = (ii.get("parent") or {}).get("subscription_details") or {}
    price_id = ((ii.get("pricing") or {}).get("price_details") or {}).get("price")
    price = em.store.objects.get(price_id) if price_id else None
    rates = [r["id"] for r in (ii.get("tax_rates") or [])]
    if not rates and sub_details.get("subscription_item"):
        rates = _item_rates(em, sub_details.get("subscription"), sub_details["subscription_item"])
    if not rates:
        rates = [r["id"] for r in inv["default_tax_rates"]]
    return new_line(
        inv,
        amount=ii["amount"],
        description=ii.get("description") or "",
        price=price,
        period=(ii["period"]["start"], ii["period"]["end"]),
        quantity=ii.get("quantity"),
        tax_rates=rates,
        subscription=sub_details.get("subscription"),
        subscription_item=sub_details.get("subscription_item"),
        invoice_item=ii["id"],
        proration=bool(ii.get("proration")),
        discountable=ii.get("discountable", True),
        metadata=ii.get("metadata"),
    )


def _item_rates(em: Emulator, sub_id: str | None, si_id: str) -> list[str]:
    sub = em.store.objects.get(sub_id or "")
    for item in ((sub or {}).get("items") or {}).get("data", []):
        if item["id"] == si_id:
            return [r["id"] for r in item.get("tax_rates") or []]
    return []


def pending_items(
    em: Emulator,
    customer: str,
    subscription: str | None,
    *,
    only_subscription: bool = False,
) -> list[dict[str, Any]]:
    """Pending invoice items a new invoice for ``customer`` (and ``subscription``) pulls in."""
    out = []
    for ii in em.store.all("invoiceitem"):
        if ii["customer"] != customer or ii["invoice"] is not None:
            continue
        sub = ((ii.get("parent") or {}).get("subscription_details") or {}).get("subscription")
        if sub == subscription or (sub is None and not only_subscription):
            out.append(ii)
    return out


def attach_items(em: Emulator, inv: dict[str, Any], items: list[dict[str, Any]], *, claim: bool) -> None:
    for ii in items:
        inv["lines"]["data"].append(line_from_item(em, inv, ii))
        if claim:
            ii["invoice"] = inv["id"]


def proration_description(em: Emulator, price: dict[str, Any], qty: int | None, at: int, *, credit: bool) -> str:
    name = product_name(em, price)
    what = f"{qty} × {name}" if qty and qty != 1 else name
    return f"{'Unused' if credit else 'Remaining'} time on {what} after {fmt_date(at)}"


def cycle_description(em: Emulator, price: dict[str, Any], qty: int | None) -> str:
    name = product_name(em, price)
    amount = price.get("unit_amount")
    rec = price.get("recurring") or {}
    per = rec.get("interval", "")
    if rec.get("interval_count", 1) != 1:
        per = f"{rec['interval_count']} {per}s"
    if amount is None:
        return f"{qty or 0} × {name}"
    return f"{qty or 0} × {name} (at {_money(amount, price['currency'])} / {per})"


def _money(amount: int, currency: str) -> str:
    sym = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency, currency.upper() + " ")
    return f"{sym}{amount / 100:,.2f}"
