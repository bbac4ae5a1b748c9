"""Payment intents and charges, as invoice payment attempts create them.

``create_for_invoice`` makes the invoice's PaymentIntent at finalization; ``attempt`` charges it on a
payment method, with the outcome given by ``payment_methods.charge_outcome``. With no payment method
the intent stays ``requires_payment_method`` and no charge is made.
"""

from __future__ import annotations

import copy
import secrets
from typing import TYPE_CHECKING, Any

from ..billing_common import peek_state, state
from ..errors import invalid
from ..routing import Request
from ..store import matches_range, new_id

if TYPE_CHECKING:
    from ..app import Emulator


def register(em: Emulator) -> None:
    r = em.router
    r.add("GET", "/v1/payment_intents", list_intents)
    r.add("GET", "/v1/payment_intents/{id}", retrieve_intent)
    r.add("POST", "/v1/payment_intents/{id}/confirm", confirm)
    r.add("GET", "/v1/charges", list_charges)
    r.add("GET", "/v1/charges/{id}", retrieve_charge)


# --- objects -------------------------------------------------------------------------------------
def _intent(inv: dict[str, Any], at: int, pm_id: str | None) -> dict[str, Any]:
    oid = new_id("pi", 24)
    desc = {
        "subscription_create": "Subscription creation",
        "subscription_cycle": "Subscription update",
        "subscription_update": "Subscription update",
    }.get(inv["billing_reason"] or "", "Invoice")
    return {
        "id": oid,
        "object": "payment_intent",
        "amount": inv["amount_due"],
        "amount_capturable": 0,
        "amount_details": None,
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{oid}_secret_{secrets.token_urlsafe(18)}",
        "confirmation_method": "automatic",
        "created": at,
        "currency": inv["currency"],
        "customer": inv["customer"],
        "customer_account": None,
        "description": desc,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": pm_id,
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_confirmation" if pm_id else "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def _card_details(pm: dict[str, Any], amount: int) -> dict[str, Any]:
    card = pm.get("card") or {}
    return {
        "card": {
            "amount_authorized": amount,
            "authorization_code": None,
            "brand": card.get("brand"),
            "checks": copy.deepcopy(card.get("checks")),
            "country": card.get("country"),
            "exp_month": card.get("exp_month"),
            "exp_year": card.get("exp_year"),
            "extended_authorization": {"status": "disabled"},
            "fingerprint": card.get("fingerprint"),
            "funding": card.get("funding"),
            "incremental_authorization": {"status": "unavailable"},
            "installments": None,
            "last4": card.get("last4"),
            "mandate": None,
            "multicapture": {"status": "unavailable"},
            "network": card.get("brand"),
            "network_token": {"used": False},
            "network_transaction_id": None,
            "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
            "regulated_status": "unregulated",
            "three_d_secure": None,
            "transaction_link_id": None,
            "wallet": None,
        },
        "type": "card",
    }


def _charge(
    em: Emulator, pi: dict[str, Any], pm: dict[str, Any], at: int, ok: bool, decline: str | None
) -> dict[str, Any]:
    from .payment_methods import DECLINE_ERRORS

    oid = new_id("ch", 24)
    code, message = DECLINE_ERRORS.get(decline or "", ("card_declined", "Your card was declined."))
    return {
        "id": oid,
        "object": "charge",
        "amount": pi["amount"],
        "amount_captured": pi["amount"] if ok else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "authorization_code": None,
        "balance_transaction": new_id("txn", 24) if ok else None,
        "billing_details": copy.deepcopy(pm.get("billing_details")),
        "calculated_statement_descriptor": "BILLINGOS EMULATOR",
        "captured": ok,
        "created": at,
        "currency": pi["currency"],
        "customer": pi["customer"],
        "description": pi["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None if ok else code,
        "failure_message": None if ok else message,
        "fraud_details": {},
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": {
            "advice_code": None if ok else "try_again_later",
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network" if ok else "declined_by_network",
            "reason": None if ok else decline,
            "risk_level": "normal",
            "risk_score": 20,
            "seller_message": "Payment complete."
            if ok
            else "The bank did not return any further details with this decline.",
            "type": "authorized" if ok else "issuer_declined",
        },
        "paid": ok,
        "payment_intent": pi["id"],
        "payment_method": pm["id"],
        "payment_method_details": _card_details(pm, pi["amount"]),
        "presentment_details": None,
        "radar_options": None,
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.test/receipts/{oid}" if ok else None,
        "refunded": False,
        "refunds": {"object": "list", "data": [], "has_more": False, "url": f"/v1/charges/{oid}/refunds"},
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded" if ok else "failed",
        "transfer": None,
        "transfer_data": None,
        "transfer_group": None,
    }


# --- engine --------------------------------------------------------------------------------------
def create_for_invoice(em: Emulator, inv: dict[str, Any], at: int, req: Request | None, *,
                       emit: bool = True) -> dict[str, Any]:
    pi = _intent(inv, at, None)
    em.store.insert(pi)
    state(em, "payment_intent", pi["id"])["invoice"] = inv["id"]
    inv["payment_intent"] = pi["id"]
    inv["confirmation_secret"] = {"client_secret": pi["client_secret"], "type": "payment_intent"}
    inv["payments"]["data"].insert(
        0,
        {
            "id": new_id("inpay", 24),
            "object": "invoice_payment",
            "amount_paid": None,
            "amount_requested": inv["amount_due"],
            "created": at,
            "currency": inv["currency"],
            "invoice": inv["id"],
            "is_default": True,
            "livemode": False,
            "payment": {"payment_intent": pi["id"], "type": "payment_intent"},
            "status": "open",
            "status_transitions": {"canceled_at": None, "paid_at": None},
        },
    )
    if emit:
        em.emit("payment_intent.created", pi, request=req)
    return pi


def default_payment_method(em: Emulator, inv: dict[str, Any]) -> str | None:
    """The invoice's, then its subscription's, then the customer's default payment method (if attached)."""
    cust = em.store.objects[inv["customer"]]
    sub = em.store.objects.get(inv.get("subscription") or "") or {}
    for pm_id in (
        inv.get("default_payment_method"),
        sub.get("default_payment_method"),
        (cust.get("invoice_settings") or {}).get("default_payment_method"),
    ):
        pm = em.store.find(pm_id) if isinstance(pm_id, str) else None
        if pm is not None and pm.get("customer") == cust["id"]:
            return pm_id
    return None


def predict(em: Emulator, pm_id: str | None) -> tuple[bool, str | None]:
    """What a charge on ``pm_id`` would do, without making it (for payment_behavior=error_if_incomplete)."""
    if pm_id is None:
        return False, None
    from .payment_methods import charge_outcome

    return charge_outcome(em.store.objects[pm_id])


def attempt(
    em: Emulator, inv: dict[str, Any], pm_id: str | None, at: int, req: Request | None, *, auto: bool = True
) -> tuple[bool, str | None]:
    """Charge the open invoice's intent on ``pm_id``. Returns (ok, decline_code); emits charge.*,
    payment_intent.*, then invoice.paid/payment_succeeded or invoice.payment_failed."""
    from ..invoicing import mark_paid
    from .payment_methods import charge_outcome

    pi = em.store.objects[inv["payment_intent"]]
    inv["attempted"] = True
    inv["attempt_count"] += 1
    if pm_id is None:
        _failed_invoice(em, inv, at, req, None, None, auto)
        return False, None
    pm = em.store.objects[pm_id]
    ok, decline = charge_outcome(pm)
    charge = _charge(em, pi, pm, at, ok, decline)
    em.store.insert(charge)
    if ok:
        em.emit("charge.succeeded", charge, request=req)
        prev = em.update(
            pi,
            {
                "status": "succeeded",
                "amount_received": pi["amount"],
                "payment_method": pm_id,
                "latest_charge": charge["id"],
                "last_payment_error": None,
            },
        )
        em.emit("payment_intent.succeeded", pi, prev, request=req)
        mark_paid(em, inv, at, req)
        return True, None
    em.emit("charge.failed", charge, request=req)
    error = {
        "charge": charge["id"],
        "code": charge["failure_code"],
        "decline_code": decline,
        "doc_url": f"https://stripe.com/docs/error-codes/{charge['failure_code'].replace('_', '-')}",
        "message": charge["failure_message"],
        "payment_method": copy.deepcopy(pm),
        "payment_method_type": "card",
        "type": "card_error",
    }
    prev = em.update(
        pi,
        {
            "status": "requires_payment_method",
            "payment_method": None,
            "latest_charge": charge["id"],
            "last_payment_error": error,
        },
    )
    em.emit("payment_intent.payment_failed", pi, prev, request=req)
    _failed_invoice(em, inv, at, req, decline, pm_id, auto)
    return False, decline


def _failed_invoice(
    em: Emulator,
    inv: dict[str, Any],
    at: int,
    req: Request | None,
    decline: str | None,
    pm_id: str | None,
    auto: bool,
) -> None:
    from ..dunning import schedule_after_failure
    from ..subscription_engine import on_invoice_failed

    final = schedule_after_failure(em, inv, at, decline, pm_id, auto=auto)
    em.emit("invoice.payment_failed", inv, request=req)
    on_invoice_failed(em, inv, at, req, final=final)


# --- routes --------------------------------------------------------------------------------------
def retrieve_intent(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.get("payment_intent", req.args["id"], label="payment_intent")


def list_intents(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    customer, created = p.str("customer"), p.get("created")
    items = em.store.all("payment_intent")
    if customer is not None:
        items = [x for x in items if x["customer"] == customer]
    if created is not None:
        items = [x for x in items if matches_range(x["created"], created, "created")]
    return em.store.page(p, items, "/v1/payment_intents")


def confirm(em: Emulator, req: Request) -> dict[str, Any]:
    """Confirming an invoice's intent pays the invoice (Stripe's way to pay after a decline)."""
    pi = em.store.get("payment_intent", req.args["id"], label="payment_intent")
    if not peek_state(em, "payment_intent", pi["id"]).get("invoice"):
        from .payment_intent_api import confirm_route

        return confirm_route(em, req, pi)        # a PaymentIntent the API created, not an invoice's
    p = req.params
    pm_id = p.str("payment_method")
    p.get("off_session")
    p.get("return_url")
    p.done()
    if pi["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise invalid(
            f"This PaymentIntent's status is {pi['status']}; it cannot be confirmed.",
            code="payment_intent_unexpected_state",
        )
    inv = em.store.objects.get(state(em, "payment_intent", pi["id"]).get("invoice") or "")
    pm_id = pm_id or pi.get("payment_method") or (default_payment_method(em, inv) if inv else None)
    if pm_id is None:
        raise invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method. "
            "Pass payment_method.",
            "payment_method",
            code="payment_intent_unexpected_state",
        )
    pm = em.store.get("payment_method", pm_id, param="payment_method", label="PaymentMethod")
    if pm.get("customer") not in (None, pi["customer"]):
        raise invalid(f"The payment method {pm_id} belongs to another customer.", "payment_method")
    at = em.now(pi)
    if inv is None or inv["status"] != "open":
        raise invalid(
            "This PaymentIntent cannot be confirmed: its invoice is not open.",
            code="payment_intent_unexpected_state",
        )
    ok, decline = attempt(em, inv, pm_id, at, req, auto=False)
    if not ok:
        from .payment_methods import decline_error

        err = decline_error(decline or "generic_decline")
        err.extra["payment_intent"] = copy.deepcopy(pi)
        raise err
    return pi


def retrieve_charge(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.get("charge", req.args["id"])


def list_charges(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    customer, intent, created = p.str("customer"), p.str("payment_intent"), p.get("created")
    items = em.store.all("charge")
    if customer is not None:
        items = [x for x in items if x["customer"] == customer]
    if intent is not None:
        items = [x for x in items if x["payment_intent"] == intent]
    if created is not None:
        items = [x for x in items if matches_range(x["created"], created, "created")]
    return em.store.page(p, items, "/v1/charges")
