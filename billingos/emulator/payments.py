"""Payment intents and charges as invoice payments create them: ``create_for_invoice`` makes the
invoice's PaymentIntent at finalization; ``charge`` charges it on a payment method, with the outcome of
the test card behind it (``cards.charge_outcome``). Routes live in ``resources/payment_intents.py``.
"""

from __future__ import annotations

import copy
import secrets
from typing import TYPE_CHECKING, Any

from .cards import DECLINE_ERRORS, charge_outcome
from .store import new_id

if TYPE_CHECKING:
    from .app import Emulator
    from .routing import Request


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
        "payment_method_options": {"card": {"installments": None, "mandate_options": None, "network": None,
                                            "request_three_d_secure": "automatic", "setup_credential_usage": None,
                                            "stored_credential_usage": None}},
        "payment_method_types": ["card"],
        "payment_record": None,
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
            "electronic_commerce_indicator": None,
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
            "setup_credential_usage": None,
            "stored_credential_usage": None,
            "three_d_secure": None,
            "transaction_link_id": None,
            "wallet": None,
        },
        "type": "card",
    }


def _charge(
    em: Emulator, pi: dict[str, Any], pm: dict[str, Any], at: int, ok: bool, decline: str | None
) -> dict[str, Any]:
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
        "balance_transaction": None,          # set with the charge's balance transaction when it succeeds
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


def create_for_invoice(em: Emulator, inv: dict[str, Any], at: int, req: Request | None, *,
                       emit: bool = True) -> dict[str, Any]:
    pi = _intent(inv, at, None)
    em.store.insert(pi)
    em.state.payment_intent_invoices[pi["id"]] = inv["id"]
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
    return charge_outcome(em.store.objects[pm_id])


def charge(em: Emulator, inv: dict[str, Any], pm_id: str, at: int,
           req: Request | None) -> tuple[bool, str | None]:
    """Charge the open invoice's intent on ``pm_id``: the charge, its events and the intent's new state.
    Returns (ok, decline_code); what the invoice does next is ``invoicing.attempt``'s business."""
    pi = em.store.objects[inv["payment_intent"]]
    pm = em.store.objects[pm_id]
    ok, decline = charge_outcome(pm, at)
    ch = _charge(em, pi, pm, at, ok, decline)
    if ok:
        ch["balance_transaction"] = balance_transaction(em, ch, at)["id"]
    em.store.insert(ch)
    if ok:
        em.emit("charge.succeeded", ch, request=req)
        prev = em.update(pi, {"status": "succeeded", "amount_received": pi["amount"], "payment_method": pm_id,
                              "latest_charge": ch["id"], "last_payment_error": None})
        em.emit("payment_intent.succeeded", pi, prev, request=req)
        return True, None
    em.emit("charge.failed", ch, request=req)
    error = {
        "charge": ch["id"],
        "code": ch["failure_code"],
        "decline_code": decline,
        "doc_url": f"https://stripe.com/docs/error-codes/{ch['failure_code'].replace('_', '-')}",
        "message": ch["failure_message"],
        "payment_method": copy.deepcopy(pm),
        "payment_method_type": "card",
        "type": "card_error",
    }
    prev = em.update(pi, {"status": "requires_payment_method", "payment_method": None,
                          "latest_charge": ch["id"], "last_payment_error": error})
    em.emit("payment_intent.payment_failed", pi, prev, request=req)
    return False, decline


# Stripe's standard pricing for domestic cards (https://stripe.com/pricing): 2.9% + 30 cents.
CARD_FEE_PERCENT, CARD_FEE_FIXED = 29, 30          # per mille, minor units
AVAILABLE_AFTER = 2 * 86400                          # funds become available two days later


def balance_transaction(em: Emulator, ch: dict[str, Any], at: int, *, kind: str = "charge",
                        amount: int | None = None) -> dict[str, Any]:
    """The balance transaction a succeeded charge (or, with ``kind``/``amount``, a refund) makes, stored."""
    gross = ch["amount"] if amount is None else amount
    fee = (abs(gross) * CARD_FEE_PERCENT + 500) // 1000 + CARD_FEE_FIXED if kind == "charge" else 0
    txn = {
        "id": new_id("txn", 24),
        "object": "balance_transaction",
        "amount": gross,
        "available_on": at + AVAILABLE_AFTER,
        "balance_type": "payments",
        "created": at,
        "currency": ch["currency"],
        "description": ch.get("description"),
        "exchange_rate": None,
        "fee": fee,
        "fee_details": [{"amount": fee, "application": None, "currency": ch["currency"],
                         "description": "Stripe processing fees", "type": "stripe_fee"}] if fee else [],
        "net": gross - fee,
        "reporting_category": kind,
        "source": ch["id"],
        "status": "pending",
        "type": kind,
    }
    return em.store.insert(txn)
