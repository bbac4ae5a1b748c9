"""PaymentIntents the API creates (invoices make their own in ``payment_intents.py``): create (with or
without ``confirm``, ``off_session``, a test token or a saved card), update, confirm, capture, cancel.

Charges follow the card's behaviour (``payment_methods.charge_outcome``): success sends
``charge.succeeded`` and ``payment_intent.succeeded`` (with ``capture_method=manual``:
``payment_intent.amount_capturable_updated`` until captured); a decline sends ``charge.failed`` and
``payment_intent.payment_failed`` and answers 402 ``card_error`` carrying the intent.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..billing_common import currency_param
from ..cards import charge_outcome, decline_error
from ..errors import StripeError, invalid
from ..params import Params
from ..payments import _charge, _intent
from ..routing import Request
from ..store import new_id
from .payment_methods import attach_after_intent, resolve_for_intent, reusable
from .refunds import display_amount, refund_charge

if TYPE_CHECKING:
    from ..app import Emulator

LABEL = "payment_intent"
OPEN = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = (*OPEN, "requires_capture", "processing")
CANCEL_REASONS = ("abandoned", "duplicate", "fraudulent", "requested_by_customer")
MINIMUM = {"usd": 50, "eur": 50, "gbp": 30, "cad": 50, "aud": 50, "chf": 50, "jpy": 50}
MAXIMUM = 99_999_999


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/payment_intents", create)
    r.add("POST", "/v1/payment_intents/{id}", update)
    r.add("POST", "/v1/payment_intents/{id}/cancel", cancel)
    r.add("POST", "/v1/payment_intents/{id}/capture", capture)


def _amount(p: Params, currency: str, *, required: bool) -> int | None:
    amount = p.int("amount", required=required, min=1)
    if amount is None:
        return None
    low = MINIMUM.get(currency, 1)
    if amount < low:
        raise StripeError(f"Amount must be at least {_display(low, currency)} {currency}", param="amount",
                          code="amount_too_small")
    if amount > MAXIMUM:
        raise StripeError(f"Amount must be no more than {_display(MAXIMUM, currency)} {currency}", param="amount",
                          code="amount_too_large")
    return amount


def _display(amount: int, currency: str) -> str:

    return display_amount(amount, currency)


def _options(p: Params, pi: dict[str, Any]) -> None:
    """payment_method_types (cards only), automatic_payment_methods and card options."""
    types = p.list("payment_method_types")
    for i, t in enumerate(types or []):
        if t != "card":
            raise invalid(f"The payment method type {t!r} is not supported by the billingos emulator; it "
                          "implements cards only.", f"payment_method_types[{i}]")
    auto = p.sub("automatic_payment_methods")
    if auto is not None:
        enabled = bool(auto.bool("enabled", default=False))
        redirects = auto.str("allow_redirects", choices=("always", "never"), default="always")
        auto.done()
        pi["automatic_payment_methods"] = {"allow_redirects": redirects, "enabled": enabled} if enabled else None
    opts = p.sub("payment_method_options")
    if opts is not None:
        card = opts.sub("card")
        opts.done()
        if card is not None:
            three_ds = card.str("request_three_d_secure", choices=("any", "automatic", "challenge"))
            card.str("setup_future_usage", choices=("none", "off_session", "on_session"))
            card.str("capture_method", choices=("manual",))
            card.done()
            pi["payment_method_options"] = {"card": {"request_three_d_secure": three_ds or "automatic"}}


def _common(em: Emulator, p: Params, pi: dict[str, Any]) -> dict[str, Any]:
    """Fields create and update share."""
    changes: dict[str, Any] = {}
    for key, limit in (("description", 1000), ("receipt_email", 800), ("statement_descriptor", 22),
                       ("statement_descriptor_suffix", 22)):
        if p.has(key):
            changes[key] = p.str(key, nullable=True, max_length=limit)
    if p.has("setup_future_usage"):
        changes["setup_future_usage"] = p.str("setup_future_usage", choices=("off_session", "on_session"),
                                              nullable=True)
    if p.has("metadata"):
        changes["metadata"] = p.metadata(pi.get("metadata") or {})
    if p.has("customer"):
        cust_id = p.str("customer", required=True)
        em.store.get("customer", cust_id, param="customer")
        if pi.get("customer") not in (None, cust_id):
            raise invalid("You cannot change the customer of a PaymentIntent once it is set.", "customer")
        changes["customer"] = cust_id
    if p.has("capture_method"):
        changes["capture_method"] = p.str("capture_method", choices=("automatic", "automatic_async", "manual"))
    return changes


def _pm(em: Emulator, p: Params) -> str | None:

    pm_id = p.str("payment_method")
    return None if pm_id is None else resolve_for_intent(em, pm_id)["id"]


# --- routes --------------------------------------------------------------------------------------
def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    currency = str(currency_param(p, "currency", required=True))
    amount = _amount(p, currency, required=True)
    cust_id = p.str("customer")
    cust = em.store.get("customer", cust_id, param="customer") if cust_id else None
    pi = _intent({"amount_due": amount, "billing_reason": None, "currency": currency, "customer": None},
                 em.now(cust), None)
    pi["description"] = None
    pi.update(_common(em, p, pi))
    _options(p, pi)
    do_confirm = bool(p.bool("confirm", default=False))
    off_session = p.bool("off_session")
    if off_session is not None and not do_confirm:
        raise invalid("off_session can only be used when confirm=true.", "off_session")
    if p.str("return_url") is not None and not do_confirm:
        raise invalid("return_url can only be passed when confirm=true.", "return_url")
    p.str("confirmation_method", choices=("automatic", "manual"))
    p.bool("error_on_requires_action")
    p.get("use_stripe_sdk")
    p.get("mandate_data")
    pm_id = _pm(em, p)
    p.done()
    if pm_id is not None:
        pi.update(payment_method=pm_id, status="requires_confirmation")
    em.store.insert(pi)
    em.emit("payment_intent.created", pi, request=req)
    if do_confirm:
        confirm(em, pi, None, req)
    return pi


def update(em: Emulator, req: Request) -> dict[str, Any]:
    pi = em.store.get("payment_intent", req.args["id"], label=LABEL)
    p = req.params
    invoice = em.state.payment_intent_invoices.get(pi["id"])
    currency = currency_param(p, "currency") or pi["currency"]
    amount = _amount(p, currency, required=False)
    changes = _common(em, p, pi)
    if p.has("currency"):
        changes["currency"] = currency
    if amount is not None:
        changes["amount"] = amount
    _options(p, pi)
    pm_id = _pm(em, p)
    p.done()
    money_fields = set(changes) - {"description", "metadata", "receipt_email"}
    if (money_fields or pm_id) and pi["status"] not in OPEN:
        raise invalid(f"This PaymentIntent's status is {pi['status']}; only description, metadata and "
                      "receipt_email can be updated.", code="payment_intent_unexpected_state")
    if invoice and money_fields & {"amount", "currency", "customer"}:
        raise invalid("This PaymentIntent belongs to an invoice; change the invoice instead.",
                      code="payment_intent_unexpected_state")
    if pm_id is not None:
        changes.update(payment_method=pm_id, status="requires_confirmation")
    em.update(pi, changes)          # Stripe has no payment_intent.updated event
    return pi


def confirm_route(em: Emulator, req: Request, pi: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/payment_intents/{id}/confirm`` for an intent the API created."""
    p = req.params
    pm_id = _pm(em, p)
    off_session = p.bool("off_session")
    p.str("return_url")
    p.str("client_secret")
    p.bool("error_on_requires_action")
    p.get("use_stripe_sdk")
    p.get("mandate_data")
    if p.has("setup_future_usage"):
        pi["setup_future_usage"] = p.str("setup_future_usage", choices=("off_session", "on_session"),
                                         nullable=True)
    p.done()
    del off_session
    return confirm(em, pi, pm_id, req)


def confirm(em: Emulator, pi: dict[str, Any], pm_id: str | None, req: Request | None) -> dict[str, Any]:

    if pi["status"] not in OPEN:
        raise invalid(f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}.",
                      code="payment_intent_unexpected_state")
    pm = em.store.find(pm_id or pi.get("payment_method") or "")
    if pm is None:
        raise invalid("You cannot confirm this PaymentIntent because it's missing a payment method. Update the "
                      "PaymentIntent with a payment method and then confirm it again.", "payment_method",
                      code="payment_intent_unexpected_state")
    if pm["customer"] is not None and pm["customer"] != pi["customer"]:
        raise invalid(f"The provided PaymentMethod belongs to customer {pm['customer']}; pass that customer on "
                      "the PaymentIntent to use it.", "payment_method", code="payment_method_unexpected_state")
    if not reusable(em, pm):
        raise invalid("This PaymentMethod was previously used without being attached to a Customer or was "
                      "detached from a Customer, and may not be used again.", "payment_method",
                      code="payment_method_unexpected_state")
    at = em.now(pi)
    ok, decline = charge_outcome(pm)
    manual = pi["capture_method"] == "manual"
    charge = _charge(em, pi, pm, at, ok, decline)
    if ok and manual:
        charge.update(captured=False, amount_captured=0, balance_transaction=None)
    em.store.insert(charge)
    if not ok:
        em.emit("charge.failed", charge, request=req)
        err = decline_error(decline or "generic_decline")
        error = {"charge": charge["id"], "code": err.code, "decline_code": decline,
                 "doc_url": f"https://stripe.com/docs/error-codes/{(err.code or '').replace('_', '-')}",
                 "message": err.message, "payment_method": copy.deepcopy(pm), "payment_method_type": "card",
                 "type": "card_error"}
        previous = em.update(pi, {"status": "requires_payment_method", "payment_method": None,
                                  "latest_charge": charge["id"], "last_payment_error": error})
        em.emit("payment_intent.payment_failed", pi, previous, request=req)
        err.extra["charge"] = charge["id"]
        err.extra["payment_intent"] = copy.deepcopy(pi)
        raise err
    em.emit("charge.succeeded", charge, request=req)
    previous = em.update(pi, {
        "status": "requires_capture" if manual else "succeeded",
        "amount_received": 0 if manual else pi["amount"],
        "amount_capturable": pi["amount"] if manual else 0,
        "payment_method": pm["id"], "latest_charge": charge["id"], "last_payment_error": None})
    cust = em.store.find(pi["customer"]) if pi.get("customer") else None
    if pi.get("setup_future_usage") and cust is not None:
        attach_after_intent(em, pm, cust, req)
    em.emit("payment_intent.amount_capturable_updated" if manual else "payment_intent.succeeded", pi, previous,
            request=req)
    return pi


def capture(em: Emulator, req: Request) -> dict[str, Any]:

    pi = em.store.get("payment_intent", req.args["id"], label=LABEL)
    p = req.params
    amount = p.int("amount_to_capture", min=1)
    p.metadata({})
    p.str("statement_descriptor", max_length=22)
    p.str("statement_descriptor_suffix", max_length=22)
    p.bool("final_capture")
    p.done()
    if pi["status"] != "requires_capture":
        raise invalid(f"This PaymentIntent could not be captured because it has a status of {pi['status']}. "
                      "Only a PaymentIntent with one of the following statuses may be captured: requires_capture.",
                      code="payment_intent_unexpected_state")
    amount = pi["amount_capturable"] if amount is None else amount
    if amount > pi["amount_capturable"]:
        raise StripeError(f"The amount to capture ({amount}) is greater than the amount capturable "
                          f"({pi['amount_capturable']}).", param="amount_to_capture", code="amount_too_large")
    charge = em.store.objects[pi["latest_charge"]]
    prev_charge = em.update(charge, {"captured": True, "amount_captured": amount,
                                     "balance_transaction": new_id("txn", 24)})
    em.emit("charge.captured", charge, prev_charge, request=req)
    if amount < charge["amount"]:        # the rest of the authorization is released
        refund_charge(em, charge, charge["amount"] - amount, req, uncaptured=True)
    previous = em.update(pi, {"status": "succeeded", "amount_received": amount, "amount_capturable": 0})
    em.emit("payment_intent.succeeded", pi, previous, request=req)
    return pi


def cancel(em: Emulator, req: Request) -> dict[str, Any]:

    pi = em.store.get("payment_intent", req.args["id"], label=LABEL)
    p = req.params
    reason = p.str("cancellation_reason", choices=CANCEL_REASONS)
    p.done()
    if pi["id"] in em.state.payment_intent_invoices:
        raise invalid("This PaymentIntent was created by an invoice and cannot be canceled directly; void the "
                      "invoice instead.", code="payment_intent_unexpected_state")
    if pi["status"] not in CANCELABLE:
        raise invalid(f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. Only a "
                      "PaymentIntent with one of the following statuses may be canceled: "
                      f"{', '.join(CANCELABLE)}.", code="payment_intent_unexpected_state")
    if pi["status"] == "requires_capture":
        charge = em.store.objects[pi["latest_charge"]]
        refund_charge(em, charge, charge["amount"], req, uncaptured=True)
    previous = em.update(pi, {"status": "canceled", "canceled_at": em.now(pi), "cancellation_reason": reason,
                              "amount_capturable": 0})
    em.emit("payment_intent.canceled", pi, previous, request=req)
    return pi
