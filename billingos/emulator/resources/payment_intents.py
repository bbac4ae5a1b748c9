"""Payment intents and charges: retrieve, list, and confirm an invoice's intent. The objects and the
charging itself live in ``..payments``; an invoice's payment attempt in ``..invoicing``."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..cards import decline_error
from ..errors import invalid
from ..invoicing import attempt
from ..payments import default_payment_method
from ..routing import Request
from ..store import matches_range
from .payment_intent_api import confirm_route

if TYPE_CHECKING:
    from ..app import Emulator


def register(em: Emulator) -> None:
    r = em.router
    r.add("GET", "/v1/payment_intents", list_intents)
    r.add("GET", "/v1/payment_intents/{id}", retrieve_intent)
    r.add("POST", "/v1/payment_intents/{id}/confirm", confirm)
    r.add("GET", "/v1/charges", list_charges)
    r.add("GET", "/v1/charges/{id}", retrieve_charge)


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
    if pi["id"] not in em.state.payment_intent_invoices:
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
    inv = em.store.objects.get(em.state.payment_intent_invoices.get(pi["id"]) or "")
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
