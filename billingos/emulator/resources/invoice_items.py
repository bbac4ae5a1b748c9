"""Invoice items: create (pending, or on a draft invoice), retrieve, update, delete, list."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..billing_common import currency_param
from ..errors import StripeError, invalid
from ..invoice_build import line_from_item
from ..invoice_totals import compute
from ..rating import price_amount
from ..routing import Request
from ..store import matches_range, new_id
from ..subscription_changes import tax_rate_ids

if TYPE_CHECKING:
    from ..app import Emulator


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/invoiceitems", create)
    r.add("GET", "/v1/invoiceitems", list_)
    r.add("GET", "/v1/invoiceitems/{id}", retrieve)
    r.add("POST", "/v1/invoiceitems/{id}", update)
    r.add("DELETE", "/v1/invoiceitems/{id}", delete)


def _amount(em: Emulator, p: Any, ii: dict[str, Any]) -> None:
    """``amount`` or ``pricing[price]`` × ``quantity`` (Stripe's two ways to price an item)."""
    amount = p.int("amount", min=-99_999_999, max=99_999_999)
    pricing = p.sub("pricing")
    price = None
    if pricing is not None:
        price = em.store.get("price", pricing.str("price", required=True), param="pricing[price]")
        pricing.done()
    qty = p.int("quantity", min=0, max=1_000_000)
    if amount is not None and price is not None:
        raise invalid("You may only specify one of these parameters: amount, pricing.", "amount")
    if amount is None and price is None and ii.get("pricing"):       # an update of the quantity alone
        price = em.store.objects[ii["pricing"]["price_details"]["price"]]
    if amount is None and price is None:
        raise StripeError("Missing required param: amount.", param="amount", code="parameter_missing")
    if price is not None:
        ii["quantity"] = 1 if qty is None else qty
        ii["amount"] = price_amount(price, ii["quantity"])
        ii["currency"] = price["currency"]
        ii["pricing"] = {
            "price_details": {"price": price["id"], "product": price.get("product")},
            "type": "price_details",
            "unit_amount_decimal": price.get("unit_amount_decimal"),
        }
    else:
        ii["amount"], ii["quantity"] = amount, 1 if qty is None else qty
    ii["quantity_decimal"] = str(ii["quantity"])
    ii["net_amount"] = ii["amount"]


def _common(em: Emulator, p: Any, ii: dict[str, Any]) -> None:
    if p.has("description"):
        ii["description"] = p.str("description", nullable=True, max_length=5000)
    if p.has("discountable"):
        ii["discountable"] = p.bool("discountable")
    if p.has("tax_rates"):
        ii["tax_rates"] = [copy.deepcopy(em.store.objects[r]) for r in tax_rate_ids(em, p, "tax_rates") or []]
    if p.has("metadata"):
        ii["metadata"] = p.metadata(ii.get("metadata") or {})
    period = p.sub("period")
    if period is not None:
        start, end = period.int("start", required=True, min=0), period.int("end", required=True, min=0)
        period.done()
        if end < start:
            raise invalid("period[end] must be after period[start].", "period[end]")
        ii["period"] = {"end": end, "start": start}


def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    cust = em.store.get("customer", p.str("customer", required=True), param="customer")
    at = em.now(cust)
    ii: dict[str, Any] = {
        "id": new_id("ii", 24),
        "object": "invoiceitem",
        "amount": 0,
        "currency": "usd",
        "customer": cust["id"],
        "customer_account": None,
        "date": at,
        "description": None,
        "discountable": True,
        "discounts": [],
        "frozen_fields": None,
        "invoice": None,
        "invoicing_rules": None,
        "livemode": False,
        "metadata": {},
        "net_amount": 0,
        "parent": None,
        "period": {"end": at, "start": at},
        "pricing": None,
        "proration": False,
        "proration_details": None,
        "quantity": 1,
        "quantity_decimal": "1",
        "tax_rates": [],
        "test_clock": cust.get("test_clock"),
    }
    currency = currency_param(p, "currency")
    _amount(em, p, ii)
    if currency is not None:
        ii["currency"] = currency
    _common(em, p, ii)
    inv = None
    inv_id = p.str("invoice")
    if inv_id is not None:
        inv = em.store.get("invoice", inv_id, param="invoice")
        if inv["status"] != "draft" or inv["customer"] != cust["id"]:
            raise invalid(
                "Invoice items can only be added to draft invoices of the same customer.",
                "invoice",
                code="invoice_not_editable",
            )
    sub_id = p.str("subscription")
    if sub_id is not None:
        sub = em.store.get("subscription", sub_id, param="subscription")
        if sub["customer"] != cust["id"]:
            raise invalid(f"The subscription {sub_id} belongs to another customer.", "subscription")
        ii["parent"] = {
            "subscription_details": {"subscription": sub_id, "subscription_item": None},
            "type": "subscription_details",
        }
    p.done()
    em.store.insert(ii)
    if inv is not None:
        ii["invoice"] = inv["id"]
        inv["lines"]["data"].append(line_from_item(em, inv, ii))
        compute(em, inv)
    em.emit("invoiceitem.created", ii, request=req)
    return ii


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    oid = req.args["id"]
    obj = em.store.objects.get(oid)
    if obj is not None and obj["object"] == "invoiceitem" and oid in em.store.deleted:
        return {"id": oid, "object": "invoiceitem", "deleted": True}
    return em.store.get("invoiceitem", oid, label="invoiceitem")


def _editable(em: Emulator, ii: dict[str, Any]) -> dict[str, Any] | None:
    inv = em.store.objects.get(ii["invoice"] or "")
    if inv is not None and inv["status"] != "draft":
        raise invalid(
            "This invoice item is on a finalized invoice and can no longer be changed.",
            code="invoice_not_editable",
        )
    return inv


def update(em: Emulator, req: Request) -> dict[str, Any]:
    ii = em.store.get("invoiceitem", req.args["id"], label="invoiceitem")
    p = req.params
    inv = _editable(em, ii)
    new = copy.deepcopy(ii)
    if p.has("amount") or p.has("pricing") or p.has("quantity"):
        _amount(em, p, new)
    _common(em, p, new)
    p.done()
    prev = em.update(ii, new)
    if inv is not None:
        inv["lines"]["data"] = [
            line_from_item(em, inv, ii) if _item_of(ln) == ii["id"] else ln for ln in inv["lines"]["data"]
        ]
        compute(em, inv)
    if prev:
        em.emit("invoiceitem.updated", ii, prev, request=req)
    return ii


def _item_of(line: dict[str, Any]) -> str | None:
    parent = line.get("parent") or {}
    details = parent.get("subscription_item_details") or parent.get("invoice_item_details") or {}
    return details.get("invoice_item")


def delete(em: Emulator, req: Request) -> dict[str, Any]:
    ii = em.store.get("invoiceitem", req.args["id"], label="invoiceitem")
    req.params.done()
    inv = _editable(em, ii)
    if inv is not None:
        inv["lines"]["data"] = [ln for ln in inv["lines"]["data"] if _item_of(ln) != ii["id"]]
        compute(em, inv)
    em.store.delete(ii["id"])
    em.emit("invoiceitem.deleted", ii, request=req)
    return {"id": ii["id"], "object": "invoiceitem", "deleted": True}


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    customer, invoice = p.str("customer"), p.str("invoice")
    pending, created = p.bool("pending"), p.get("created")
    items = em.store.all("invoiceitem")
    if customer is not None:
        items = [i for i in items if i["customer"] == customer]
    if invoice is not None:
        items = [i for i in items if i["invoice"] == invoice]
    if pending is not None:
        items = [i for i in items if (i["invoice"] is None) == pending]
    if created is not None:
        items = [i for i in items if matches_range(i["date"], created, "created")]
    return em.store.page(p, items, "/v1/invoiceitems")
