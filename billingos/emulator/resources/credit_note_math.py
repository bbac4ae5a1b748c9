"""Credit note amounts, computed without writing anything, so preview and create share one path.

``plan(em, params)`` reads the create/preview parameters and returns the credit note (not stored) and
what creating it will do: the split between the invoice's ``amount_remaining`` (``pre_payment_amount``)
and what was already paid (``post_payment_amount``), and the refund, customer-balance credit and
out-of-band parts of the latter, which must add up to it.

Lines: ``invoice_line_item`` (a quantity or an amount of one of the invoice's lines; its discounts and
taxes are credited in proportion) or ``custom_line_item`` (description, quantity, unit amount, tax
rates). Without lines, ``amount`` alone is a credit note with no lines.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..errors import StripeError, invalid
from ..params import Params
from ..price_params import parse_decimal
from ..rating import round_line as round_half_up
from ..store import new_id
from .refunds import check_refundable

if TYPE_CHECKING:
    from ..app import Emulator

REASONS = ("duplicate", "fraudulent", "order_change", "product_unsatisfactory")
CREDIT_NOTE_HOST = "https://pay.stripe.test/credit_notes"


@dataclass
class Plan:
    note: dict[str, Any]
    invoice: dict[str, Any]
    refund_amount: int = 0
    credit_amount: int = 0
    refund_links: list[tuple[dict[str, Any], int]] = field(default_factory=list)


def plan(em: Emulator, p: Params, *, preview: bool) -> Plan:
    inv = em.store.get("invoice", p.str("invoice", required=True), param="invoice")
    if inv["status"] in ("draft", "void"):
        raise invalid(f"You can only create credit notes for finalized invoices that are not void; this invoice is "
                      f"{inv['status']}.", "invoice", code="invoice_not_editable")
    lines = _lines(em, p, inv)
    amount = p.int("amount", min=1)
    credit = p.int("credit_amount", min=0) or 0
    refund = p.int("refund_amount", min=0) or 0
    oob = p.int("out_of_band_amount", min=0)
    links = _refund_links(em, p, inv)
    memo = p.str("memo", max_length=5000)
    reason = p.str("reason", choices=REASONS)
    metadata = p.metadata({}) or {}
    effective_at = p.int("effective_at", min=0)
    p.str("email_type", choices=("credit_note", "none"))
    if p.has("shipping_cost"):
        raise invalid("shipping_cost is not supported: the billingos emulator's invoices have no shipping.",
                      "shipping_cost")
    if lines is None and amount is None:
        raise StripeError("One of amount, lines, or shipping_cost must be provided.", param="amount",
                          code="parameter_missing")
    totals = _totals(lines or [])
    if lines is None:
        assert amount is not None
        totals = {"subtotal": amount, "discount": 0, "exclusive": 0, "inclusive": 0, "total": amount,
                  "discount_amounts": [], "taxes": []}
    elif amount is not None and amount != totals["total"]:
        raise invalid(f"The amount ({amount}) does not match the total of the lines ({totals['total']}).", "amount")
    total = totals["total"]
    creditable = inv["total"] - sum(c["amount"] for c in issued_for(em, inv["id"]))
    if total > creditable:
        raise StripeError(f"The credit note total ({total}) is greater than the amount of the invoice that can "
                          f"still be credited ({max(0, creditable)}).", param="amount" if lines is None else "lines",
                          code="amount_too_large")
    pre = min(total, inv["amount_remaining"]) if inv["status"] in ("open", "uncollectible") else 0
    post = total - pre
    linked = sum(a for _, a in links)
    covered = refund + credit + (oob or 0) + linked
    if covered != post:
        raise invalid(f"The sum of refund_amount, credit_amount, out_of_band_amount and linked refunds ({covered}) "
                      f"must equal the credit note's post-payment amount ({post}): the part of the credit note "
                      "above what the invoice still owes.",
                      next((k for k, v in (("refund_amount", refund), ("credit_amount", credit),
                                           ("out_of_band_amount", oob)) if v), "refund_amount"))
    at = em.now(inv)
    oid = new_id("cn", 24)
    seq = len([c for c in em.store.all("credit_note") if c["invoice"] == inv["id"]]) + 1
    for i, line in enumerate(lines or []):
        line["id"] = _preview_line_id(inv["id"], p.raw, i) if preview else new_id("cnli", 24)
    note = {
        "id": oid, "object": "credit_note", "amount": total, "amount_shipping": 0, "created": at,
        "currency": inv["currency"], "customer": inv["customer"], "customer_account": None,
        "customer_balance_transaction": None, "discount_amount": totals["discount"],
        "discount_amounts": totals["discount_amounts"],
        "effective_at": effective_at if effective_at is not None else at, "invoice": inv["id"],
        "lines": {"object": "list", "data": lines or [], "has_more": False,
                  "url": "/v1/credit_notes/preview/lines" if preview else f"/v1/credit_notes/{oid}/lines"},
        "livemode": False, "memo": memo, "metadata": metadata,
        "number": f"{inv['number']}-CN-{seq:02d}", "out_of_band_amount": oob or None,
        "pdf": f"{CREDIT_NOTE_HOST}/{em.account_id}/{oid}/pdf", "post_payment_amount": post,
        "pre_payment_amount": pre, "pretax_credit_amounts": _pretax(totals["discount_amounts"]),
        "reason": reason, "refunds": [], "shipping_cost": None, "status": "issued",
        "subtotal": totals["subtotal"], "subtotal_excluding_tax": totals["subtotal"] - totals["inclusive"],
        "total": total, "total_excluding_tax": total - totals["exclusive"] - totals["inclusive"],
        "total_taxes": totals["taxes"],
        "type": "mixed" if pre and post else "post_payment" if post else "pre_payment", "voided_at": None,
    }
    if refund:
        _refund_charge_check(em, inv, refund)
    return Plan(note, inv, refund_amount=refund, credit_amount=credit, refund_links=links)


def issued_for(em: Emulator, invoice: str) -> list[dict[str, Any]]:
    return [c for c in em.store.all("credit_note") if c["invoice"] == invoice and c["status"] == "issued"]


def invoice_charge(em: Emulator, inv: dict[str, Any]) -> dict[str, Any] | None:
    pi = em.store.find(inv.get("payment_intent") or "")
    charge = em.store.find((pi or {}).get("latest_charge") or "")
    return charge if charge is not None and charge["status"] == "succeeded" else None


def _refund_charge_check(em: Emulator, inv: dict[str, Any], amount: int) -> None:

    charge = invoice_charge(em, inv)
    if charge is None:
        raise invalid("refund_amount needs an invoice paid with a charge; this invoice was not (use credit_amount or "
                      "out_of_band_amount).", "refund_amount")
    check_refundable(charge, amount, "refund_amount")


def _refund_links(em: Emulator, p: Params, inv: dict[str, Any]) -> list[tuple[dict[str, Any], int]]:
    entries = p.hashes("refunds")
    if entries is None:
        return []
    charge = invoice_charge(em, inv)
    out = []
    for entry in entries:
        rid = entry.str("refund", required=True)
        entry.str("type", choices=("refund",))
        amount = entry.int("amount_refunded", min=1)
        entry.done()
        refund = em.store.get("refund", rid, param=f"{entry.prefix}[refund]")
        if charge is None or refund["charge"] != charge["id"]:
            raise invalid(f"Refund {rid} is not a refund of this invoice's payment.", f"{entry.prefix}[refund]")
        used = sum(r["amount_refunded"] for c in issued_for(em, inv["id"]) for r in c["refunds"]
                   if r["refund"] == rid)
        left = refund["amount"] - used
        amount = left if amount is None else amount
        if amount > left:
            raise invalid(f"Only {left} of refund {rid} is not yet linked to a credit note.",
                          f"{entry.prefix}[amount_refunded]")
        out.append((refund, amount))
    return out


# --- lines ---------------------------------------------------------------------------------------
def _lines(em: Emulator, p: Params, inv: dict[str, Any]) -> list[dict[str, Any]] | None:
    entries = p.hashes("lines")
    if entries is None:
        return None
    if not entries:
        raise invalid("lines must contain at least one line.", "lines")
    out = []
    for entry in entries:
        kind = entry.str("type", required=True, choices=("custom_line_item", "invoice_line_item"))
        line = _invoice_line(em, entry, inv) if kind == "invoice_line_item" else _custom_line(em, entry)
        line["metadata"] = entry.metadata({}) or {}
        entry.done()
        out.append(line)
    return out


def _blank(kind: str, amount: int, description: str | None, quantity: int | None) -> dict[str, Any]:
    return {"id": "", "object": "credit_note_line_item", "amount": amount, "description": description,
            "discount_amount": 0, "discount_amounts": [], "invoice_line_item": None, "livemode": False,
            "metadata": {}, "pretax_credit_amounts": [], "quantity": quantity, "tax_rates": [], "taxes": [],
            "type": kind, "unit_amount": None, "unit_amount_decimal": None}


def _invoice_line(em: Emulator, e: Params, inv: dict[str, Any]) -> dict[str, Any]:
    lid = e.str("invoice_line_item", required=True)
    il = next((ln for ln in inv["lines"]["data"] if ln["id"] == lid), None)
    if il is None:
        raise StripeError(f"No such invoice line item: '{lid}' on invoice {inv['id']}", status=404,
                          param=f"{e.prefix}[invoice_line_item]", code="resource_missing")
    qty, amount = e.int("quantity", min=1), e.int("amount", min=0)
    for key in ("description", "unit_amount", "unit_amount_decimal", "tax_rates"):
        if e.has(key):
            raise invalid(f"{key} is only valid for custom_line_item lines.", f"{e.prefix}[{key}]")
    if e.has("tax_amounts"):
        raise invalid("tax_amounts is not supported by the billingos emulator.", f"{e.prefix}[tax_amounts]")
    if qty is not None and amount is not None:
        raise invalid("Pass either quantity or amount for an invoice line, not both.", f"{e.prefix}[amount]")
    base_qty = il.get("quantity") or 1
    if qty is not None and qty > base_qty:
        raise invalid(f"The quantity to credit ({qty}) is greater than the line's quantity ({base_qty}).",
                      f"{e.prefix}[quantity]")
    gross = (amount if amount is not None
             else round_half_up(Fraction(il["amount"] * qty, base_qty)) if qty is not None else il["amount"])
    credited = sum(ln["amount"] for c in issued_for(em, inv["id"]) for ln in c["lines"]["data"]
                   if ln["invoice_line_item"] == lid)
    if gross > il["amount"] - credited:
        raise invalid(f"The amount to credit ({gross}) is greater than what is left to credit on invoice line "
                      f"{lid} ({il['amount'] - credited}).", f"{e.prefix}[amount]")
    share = Fraction(gross, il["amount"]) if il["amount"] else Fraction(0)
    line = _blank("invoice_line_item", gross, il.get("description"), qty if qty is not None else il.get("quantity"))
    line["invoice_line_item"] = lid
    line["discount_amounts"] = [{"amount": round_half_up(d["amount"] * share), "discount": d["discount"]}
                                for d in il.get("discount_amounts") or []]
    line["discount_amount"] = sum(d["amount"] for d in line["discount_amounts"])
    line["pretax_credit_amounts"] = _pretax(line["discount_amounts"])
    line["taxes"] = [{**copy.deepcopy(t), "amount": round_half_up(t["amount"] * share),
                      "taxable_amount": round_half_up(t["taxable_amount"] * share)} for t in il.get("taxes") or []]
    line["tax_rates"] = [copy.deepcopy(em.store.objects[t["tax_rate_details"]["tax_rate"]]) for t in line["taxes"]]
    return line


def _custom_line(em: Emulator, e: Params) -> dict[str, Any]:
    description = e.str("description", required=True, max_length=5000)
    qty = e.int("quantity", min=1, default=1)
    if e.has("invoice_line_item") or e.has("amount"):
        raise invalid("invoice_line_item and amount are only valid for invoice_line_item lines.",
                      f"{e.prefix}[{'amount' if e.has('amount') else 'invoice_line_item'}]")
    unit = e.int("unit_amount", min=0)
    unit_decimal = parse_decimal(e, "unit_amount_decimal")
    if unit is not None and unit_decimal is not None:
        raise invalid("Only one of unit_amount and unit_amount_decimal can be set.", f"{e.prefix}[unit_amount]")
    if unit is None and unit_decimal is None:
        raise StripeError(f"Missing required param: {e.prefix}[unit_amount].", param=f"{e.prefix}[unit_amount]",
                          code="parameter_missing")
    exact = Fraction(unit) if unit is not None else Fraction(str(unit_decimal))
    amount = round_half_up(exact * qty)
    rate_ids = e.list("tax_rates") or []
    rates = [em.store.get("tax_rate", r, param=f"{e.prefix}[tax_rates][{i}]") for i, r in enumerate(rate_ids)]
    line = _blank("custom_line_item", amount, description, qty)
    line["unit_amount"] = unit if unit is not None else None
    line["unit_amount_decimal"] = str(unit) if unit is not None else str(unit_decimal)
    line["tax_rates"] = [copy.deepcopy(r) for r in rates]
    line["taxes"] = _taxes(amount, rates)
    return line


def _taxes(amount: int, rates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    inclusive_pct = sum((Fraction(str(r["percentage"])) for r in rates if r["inclusive"]), Fraction(0))
    base_incl = Fraction(amount) * 100 / (100 + inclusive_pct)
    out = []
    for r in rates:
        pct = Fraction(str(r["percentage"]))
        base = base_incl if r["inclusive"] else Fraction(amount)
        out.append({"amount": round_half_up(base * pct / 100),
                    "tax_behavior": "inclusive" if r["inclusive"] else "exclusive",
                    "tax_rate_details": {"tax_rate": r["id"]}, "taxability_reason": "standard_rated",
                    "taxable_amount": round_half_up(base), "type": "tax_rate_details"})
    return out


def _pretax(discounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"amount": d["amount"], "credit_balance_transaction": None, "discount": d["discount"],
             "type": "discount"} for d in discounts if d["amount"]]


def _totals(lines: list[dict[str, Any]]) -> dict[str, Any]:
    by_disc: dict[str, int] = {}
    by_tax: dict[tuple[str, str], dict[str, Any]] = {}
    for ln in lines:
        for d in ln["discount_amounts"]:
            by_disc[d["discount"]] = by_disc.get(d["discount"], 0) + d["amount"]
        for t in ln["taxes"]:
            agg = by_tax.setdefault((t["tax_rate_details"]["tax_rate"], t["tax_behavior"]),
                                    {**t, "amount": 0, "taxable_amount": 0})
            agg["amount"] += t["amount"]
            agg["taxable_amount"] += t["taxable_amount"]
    subtotal = sum(ln["amount"] for ln in lines)
    discount = sum(by_disc.values())
    exclusive = sum(t["amount"] for t in by_tax.values() if t["tax_behavior"] == "exclusive")
    inclusive = sum(t["amount"] for t in by_tax.values() if t["tax_behavior"] == "inclusive")
    return {"subtotal": subtotal, "discount": discount, "exclusive": exclusive, "inclusive": inclusive,
            "total": subtotal - discount + exclusive, "taxes": list(by_tax.values()),
            "discount_amounts": [{"amount": a, "discount": d} for d, a in by_disc.items()]}


def _preview_line_id(invoice: str, raw: dict[str, Any], index: int) -> str:
    """Stable ids for preview lines, so ``/v1/credit_notes/preview/lines`` pages across calls."""
    digest = hashlib.sha256(f"{invoice}:{sorted(map(str, raw.items()))}:{index}".encode()).hexdigest()
    return f"cnli_{digest[:24]}"
