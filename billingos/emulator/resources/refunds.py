"""Refunds of card charges: create (by ``charge`` or ``payment_intent``, full or partial), retrieve,
update, list, cancel, and the charge's own ``/v1/charges/{id}/refunds``.

A refund never exceeds what is left on the charge (400 ``amount_too_large`` with Stripe's message);
refunding a fully refunded charge is 400 ``charge_already_refunded``. Card refunds succeed at once:
the charge's ``amount_refunded`` and ``refunded`` change, then ``refund.created`` and
``charge.refunded`` are sent. Credit notes with ``refund_amount`` and releasing an uncaptured payment
use ``refund_charge`` here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import StripeError, invalid, missing
from ..routing import Request
from ..store import matches_range, new_id

if TYPE_CHECKING:
    from ..app import Emulator

REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/refunds", create)
    r.add("GET", "/v1/refunds", list_)
    r.add("GET", "/v1/refunds/{id}", retrieve)
    r.add("POST", "/v1/refunds/{id}", update)
    r.add("POST", "/v1/refunds/{id}/cancel", cancel)
    r.add("GET", "/v1/charges/{charge}/refunds", list_for_charge)
    r.add("GET", "/v1/charges/{charge}/refunds/{id}", retrieve_for_charge)


def display_amount(amount: int, currency: str) -> str:
    """Amounts in Stripe's error messages: ``$25.00``."""
    symbol = {"usd": "$", "eur": "€", "gbp": "£", "cad": "CA$", "aud": "A$"}.get(currency)
    if currency in ("jpy", "krw"):
        return f"{'¥' if currency == 'jpy' else '₩'}{amount:,}"
    return f"{symbol}{amount / 100:,.2f}" if symbol else f"{amount / 100:,.2f} {currency.upper()}"


def remaining(charge: dict[str, Any]) -> int:
    """What can still be refunded on ``charge`` (a released, uncaptured remainder counts as refunded)."""
    return max(0, charge["amount"] - charge["amount_refunded"])


def check_refundable(charge: dict[str, Any], amount: int | None, param: str = "amount") -> int:
    """The amount a refund would take (all that is left by default); raises what Stripe answers."""
    if charge["status"] != "succeeded":
        raise invalid(f"Charge {charge['id']} has a status of {charge['status']} and cannot be refunded.",
                      "charge", code="charge_not_refundable")
    left = remaining(charge)
    if left == 0:
        raise StripeError(f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
    if amount is None:
        return left
    if amount > left:
        cur = charge["currency"]
        raise StripeError(f"Refund amount ({display_amount(amount, cur)}) is greater than unrefunded amount on "
                          f"charge ({display_amount(left, cur)})", param=param, code="amount_too_large")
    return amount


def refund_charge(em: Emulator, charge: dict[str, Any], amount: int, req: Request | None, *,
                  reason: str | None = None, metadata: dict[str, str] | None = None,
                  uncaptured: bool = False) -> dict[str, Any]:
    """Refund ``amount`` (already checked) of ``charge``; emits refund.created and charge.refunded."""
    at = em.now(charge)
    card_details: dict[str, Any] = {"reference": None, "reference_status": "unavailable",
                                    "reference_type": None, "type": "reversal"} if uncaptured else {
        "reference": new_id("arn", 12)[4:].upper(), "reference_status": "available",
        "reference_type": "acquirer_reference_number", "type": "refund"}
    refund = {
        "id": new_id("re", 24),
        "object": "refund",
        "amount": amount,
        "balance_transaction": None if uncaptured else new_id("txn", 24),
        "charge": charge["id"],
        "created": at,
        "currency": charge["currency"],
        "customer": None,
        "customer_account": None,
        "destination_details": {"card": card_details, "type": "card"},
        "metadata": dict(metadata or {}),
        "payment_intent": charge.get("payment_intent"),
        "payment_method": charge.get("payment_method"),
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    em.store.insert(refund)
    refunds = charge["refunds"]
    listed = {**refunds, "data": [refund, *refunds["data"]]}
    total = charge["amount_refunded"] + amount
    previous = em.update(charge, {"amount_refunded": total, "refunded": total >= charge["amount"], "refunds": listed})
    em.emit("refund.created", refund, request=req)
    em.emit("charge.refunded", charge, previous, request=req)
    return refund


def _target_charge(em: Emulator, charge_id: str | None, pi_id: str | None) -> dict[str, Any]:
    if charge_id is not None and pi_id is not None:
        raise invalid("You may only specify one of these parameters: charge, payment_intent.", "charge",
                      code="parameters_exclusive")
    if charge_id is not None:
        return em.store.get("charge", charge_id, param="charge")
    if pi_id is None:
        raise StripeError("Missing required param: charge or payment_intent.", param="charge",
                          code="parameter_missing")
    pi = em.store.get("payment_intent", pi_id, param="payment_intent", label="payment_intent")
    charge = em.store.find(pi.get("latest_charge") or "")
    if charge is None or pi["status"] not in ("succeeded", "requires_capture") or charge["status"] != "succeeded":
        raise invalid(f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                      "payment_intent", code="charge_not_refundable")
    return charge


# --- routes --------------------------------------------------------------------------------------
def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    charge_id, pi_id = p.str("charge"), p.str("payment_intent")
    amount = p.int("amount", min=1)
    reason = p.str("reason", choices=(*REASONS, "expired_uncaptured_charge"))
    if reason == "expired_uncaptured_charge":
        raise invalid("reason expired_uncaptured_charge is set by Stripe and cannot be requested.", "reason")
    metadata = p.metadata({})
    p.str("instructions_email")
    p.str("origin", choices=("customer_balance",))
    currency, customer = p.str("currency"), p.str("customer")
    if customer is not None or currency is not None:
        raise invalid("Refunds to a customer's cash balance are not implemented by the billingos emulator; "
                      "refund a charge or payment_intent.", "customer" if customer is not None else "currency")
    for key in ("refund_application_fee", "reverse_transfer"):
        if p.bool(key):
            raise invalid(f"{key} applies to Connect charges, which the billingos emulator does not implement.", key)
    p.done()
    charge = _target_charge(em, charge_id, pi_id)
    amount = check_refundable(charge, amount)
    return refund_charge(em, charge, amount, req, reason=reason, metadata=metadata)


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    req.params.done()
    return em.store.get("refund", req.args["id"])


def update(em: Emulator, req: Request) -> dict[str, Any]:
    refund = em.store.get("refund", req.args["id"])
    p = req.params
    metadata = p.metadata(refund["metadata"])
    p.done()
    previous = em.update(refund, {"metadata": metadata})
    if previous:
        em.emit("refund.updated", refund, previous, request=req)
    return refund


def cancel(em: Emulator, req: Request) -> dict[str, Any]:
    refund = em.store.get("refund", req.args["id"])
    req.params.done()
    if refund["status"] != "requires_action":
        raise StripeError(f"Refund {refund['id']} has a status of {refund['status']}; only a refund with a status "
                          "of requires_action can be canceled.")
    return refund


def _filtered(em: Emulator, req: Request, charge: str | None) -> list[dict[str, Any]]:
    p = req.params
    pi, created = p.str("payment_intent"), p.get("created")
    items = em.store.all("refund")
    if charge is not None:
        items = [r for r in items if r["charge"] == charge]
    if pi is not None:
        items = [r for r in items if r["payment_intent"] == pi]
    if created is not None:
        items = [r for r in items if matches_range(r["created"], created, "created")]
    return items


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    charge = req.params.str("charge")
    return em.store.page(req.params, _filtered(em, req, charge), "/v1/refunds")


def list_for_charge(em: Emulator, req: Request) -> dict[str, Any]:
    charge = em.store.get("charge", req.args["charge"], param="charge")
    url = f"/v1/charges/{charge['id']}/refunds"
    return em.store.page(req.params, _filtered(em, req, charge["id"]), url)


def retrieve_for_charge(em: Emulator, req: Request) -> dict[str, Any]:
    charge = em.store.get("charge", req.args["charge"], param="charge")
    req.params.done()
    refund = em.store.find(req.args["id"])
    if refund is None or refund.get("object") != "refund" or refund["charge"] != charge["id"]:
        raise missing("refund", req.args["id"])
    return refund
