"""Invoices: create (manual drafts), retrieve, update, delete drafts, list, search, lines, finalize, pay,
void, mark_uncollectible, and ``create_preview`` (what a subscription change will invoice)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..cards import decline_error
from ..discounts import apply_discounts, resolve_discounts
from ..errors import StripeError, invalid
from ..invoice_build import attach_items, blank_invoice, pending_items
from ..invoice_preview import preview
from ..invoice_totals import compute
from ..invoicing import attempt, finalize, insert, mark_paid, mark_uncollectible, void
from ..params import Params
from ..payments import default_payment_method
from ..routing import Request
from ..store import matches_range
from ..subscription_changes import tax_rate_ids
from ..subscription_update import check_payment_method

if TYPE_CHECKING:
    from ..app import Emulator


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/invoices", create)
    r.add("GET", "/v1/invoices", list_)
    r.add("GET", "/v1/invoices/search", search)
    r.add("POST", "/v1/invoices/create_preview", create_preview)
    r.add("GET", "/v1/invoices/{id}", retrieve)
    r.add("POST", "/v1/invoices/{id}", update)
    r.add("DELETE", "/v1/invoices/{id}", delete)
    r.add("GET", "/v1/invoices/{id}/lines", lines)
    r.add("POST", "/v1/invoices/{id}/finalize", finalize_route)
    r.add("POST", "/v1/invoices/{id}/pay", pay)
    r.add("POST", "/v1/invoices/{id}/void", void_route)
    r.add("POST", "/v1/invoices/{id}/mark_uncollectible", uncollectible_route)


def _get(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.get("invoice", req.args["id"])


def _draft_fields(em: Emulator, p: Params, inv: dict[str, Any], at: int) -> dict[str, Any]:
    f: dict[str, Any] = {}
    for key in ("description", "footer"):
        if p.has(key):
            f[key] = p.str(key, nullable=True, max_length=5000)
    if p.has("auto_advance"):
        f["auto_advance"] = p.bool("auto_advance")
    if p.has("collection_method"):
        f["collection_method"] = p.str("collection_method", choices=("charge_automatically", "send_invoice"))
    days = p.int("days_until_due", min=0, max=730)
    due = p.int("due_date", min=0)
    if (days is not None or due is not None) and f.get(
        "collection_method", inv["collection_method"]
    ) != "send_invoice":
        raise invalid(
            "days_until_due and due_date can only be set when collection_method is send_invoice.",
            "days_until_due" if days is not None else "due_date",
        )
    if days is not None or due is not None:
        f["due_date"] = due if due is not None else at + days * 86400
    if p.has("default_payment_method"):
        pm = p.str("default_payment_method", nullable=True)
        if pm is not None:
            check_payment_method(em, pm, inv["customer"], "default_payment_method")
        f["default_payment_method"] = pm
    if p.has("default_tax_rates"):
        f["default_tax_rates"] = [
            copy.deepcopy(em.store.objects[r]) for r in tax_rate_ids(em, p, "default_tax_rates") or []
        ]
    metadata = p.metadata(inv.get("metadata") or {}) if p.has("metadata") else None
    if metadata is not None:
        f["metadata"] = metadata
    specs = resolve_discounts(em, p, "discounts", inv["customer"], at)
    if specs is not None:
        f["_discount_specs"] = specs
    return f


def _redeem(em: Emulator, inv: dict[str, Any], f: dict[str, Any], at: int) -> None:
    specs = f.pop("_discount_specs", None)
    if specs is not None:
        f["discounts"] = apply_discounts(em, specs, at=at, customer=inv["customer"], invoice=inv["id"])


def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    cust = em.store.get("customer", p.str("customer", required=True), param="customer")
    at = em.now(cust)
    sub_id = p.str("subscription")
    sub = em.store.get("subscription", sub_id, param="subscription") if sub_id else None
    behavior = p.str("pending_invoice_items_behavior", choices=("exclude", "include"), default="exclude")
    currency = p.str("currency")
    inv = blank_invoice(
        em,
        cust,
        at=at,
        billing_reason="manual",
        subscription=sub,
        auto_advance=False,
        currency=currency.lower() if currency else None,
    )
    f = _draft_fields(em, p, inv, at)
    p.done()
    if f.get("collection_method") == "send_invoice" and "due_date" not in f:
        f["due_date"] = at + 30 * 86400
    _redeem(em, inv, f, at)
    inv.update(f)
    if behavior == "include":
        attach_items(em, inv, pending_items(em, cust["id"], sub_id), claim=True)
    insert(em, inv)
    em.emit("invoice.created", inv, request=req)
    return inv


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    return _get(em, req)


def update(em: Emulator, req: Request) -> dict[str, Any]:
    inv = _get(em, req)
    p = req.params
    at = em.now(inv)
    if inv["status"] != "draft" and set(p.raw) - {"metadata", "expand", "description", "footer"}:
        raise invalid(
            f"You can only update metadata, description and footer on a {inv['status']} invoice.",
            code="invoice_not_editable",
        )
    f = _draft_fields(em, p, inv, at)
    p.done()
    _redeem(em, inv, f, at)
    prev = em.update(inv, f)
    if inv["status"] == "draft":
        compute(em, inv)
    if prev:
        em.emit("invoice.updated", inv, prev, request=req)
    return inv


def delete(em: Emulator, req: Request) -> dict[str, Any]:
    inv = _get(em, req)
    req.params.done()
    if inv["status"] != "draft":
        raise invalid("You can only delete draft invoices. Void it instead.", code="invoice_not_editable")
    for ii in em.store.all("invoiceitem"):
        if ii["invoice"] == inv["id"]:
            ii["invoice"] = None
    em.store.delete(inv["id"])
    em.emit("invoice.deleted", inv, request=req)
    return {"id": inv["id"], "object": "invoice", "deleted": True}


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    customer, sub = p.str("customer"), p.str("subscription")
    status = p.str("status", choices=("draft", "open", "paid", "uncollectible", "void"))
    method = p.str("collection_method", choices=("charge_automatically", "send_invoice"))
    created = p.get("created")
    p.get("due_date")
    items = em.store.all("invoice")
    for key, value in (
        ("customer", customer),
        ("subscription", sub),
        ("status", status),
        ("collection_method", method),
    ):
        if value is not None:
            items = [i for i in items if i[key] == value]
    if created is not None:
        items = [i for i in items if matches_range(i["created"], created, "created")]
    return em.store.page(p, items, "/v1/invoices")


def search(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.search(req.params, em.store.all("invoice"), "/v1/invoices/search")


def lines(em: Emulator, req: Request) -> dict[str, Any]:
    inv = _get(em, req)
    return em.store.page(req.params, list(reversed(inv["lines"]["data"])), f"/v1/invoices/{inv['id']}/lines")


# --- lifecycle routes ----------------------------------------------------------------------------
def finalize_route(em: Emulator, req: Request) -> dict[str, Any]:
    inv = _get(em, req)
    p = req.params
    auto = p.bool("auto_advance")
    p.done()
    if inv["status"] != "draft":
        raise invalid(
            f"This invoice is already finalized (status: {inv['status']}).", code="invoice_not_editable"
        )
    if auto is not None:
        inv["auto_advance"] = auto
    at = em.now(inv)
    finalize(em, inv, at, req)
    if inv["status"] == "open" and inv["auto_advance"] and inv["collection_method"] == "charge_automatically":
        attempt(em, inv, default_payment_method(em, inv), at, req, auto=True)
    return inv


def pay(em: Emulator, req: Request) -> dict[str, Any]:
    inv = _get(em, req)
    p = req.params
    pm_id = p.str("payment_method")
    oob = bool(p.bool("paid_out_of_band", default=False))
    for key in ("off_session", "forgive", "mandate", "source"):
        p.get(key)
    p.done()
    if inv["status"] in ("paid", "void"):
        raise invalid(
            f"Invoice is already {'paid' if inv['status'] == 'paid' else 'voided'}.",
            code="invoice_not_editable" if inv["status"] == "void" else "invoice_already_paid",
        )
    if pm_id is not None:
        pm = em.store.get("payment_method", pm_id, param="payment_method", label="PaymentMethod")
        if pm.get("customer") != inv["customer"]:
            raise invalid(
                f"The PaymentMethod {pm_id} does not belong to the invoice's customer.", "payment_method"
            )
    at = em.now(inv)
    if inv["status"] == "draft":
        finalize(em, inv, at, req)
    if inv["status"] == "paid":
        return inv
    if oob:
        mark_paid(em, inv, at, req, out_of_band=True)
        return inv
    pm_id = pm_id or default_payment_method(em, inv)
    if pm_id is None:
        raise StripeError(
            "This invoice cannot be paid: the customer has no default payment method. Pass "
            "payment_method or attach one.",
            param="payment_method",
            code="invoice_no_payment_method",
        )
    if inv["status"] == "uncollectible":
        inv["status"] = "open"
    ok, decline = attempt(em, inv, pm_id, at, req, auto=False)
    if not ok:
        raise decline_error(decline or "generic_decline")
    return inv


def void_route(em: Emulator, req: Request) -> dict[str, Any]:
    inv = _get(em, req)
    req.params.done()
    if inv["status"] not in ("open", "uncollectible"):
        raise invalid(
            f"You can only void open or uncollectible invoices; this one is {inv['status']}.",
            code="invoice_not_editable",
        )
    void(em, inv, em.now(inv), req)
    return inv


def uncollectible_route(em: Emulator, req: Request) -> dict[str, Any]:
    inv = _get(em, req)
    req.params.done()
    if inv["status"] != "open":
        raise invalid(
            f"You can only mark open invoices uncollectible; this one is {inv['status']}.",
            code="invoice_not_editable",
        )
    mark_uncollectible(em, inv, em.now(inv), req)
    return inv


# --- preview -------------------------------------------------------------------------------------
def create_preview(em: Emulator, req: Request) -> dict[str, Any]:
    return preview(em, req)
