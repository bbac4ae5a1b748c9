"""Payment methods (cards only): create, retrieve, update, attach, detach, list. Test cards in ``..cards``.

``pm_card_visa`` and friends are not objects: attaching one (or using it at a customer's creation)
makes a new ``pm_...`` as Stripe does.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..cards import TestCard, card_behaviour, card_from_number, card_object, decline_error, test_card
from ..errors import StripeError, invalid, missing
from ..params import Params
from ..routing import Request
from ..store import new_id

if TYPE_CHECKING:
    from ..app import Emulator

LABEL = "PaymentMethod"


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/payment_methods", create)
    r.add("GET", "/v1/payment_methods", list_)
    r.add("GET", "/v1/payment_methods/{id}", retrieve)
    r.add("POST", "/v1/payment_methods/{id}", update)
    r.add("POST", "/v1/payment_methods/{id}/attach", attach)
    r.add("POST", "/v1/payment_methods/{id}/detach", detach)
    r.add("GET", "/v1/customers/{customer}/payment_methods", list_for_customer)
    r.add("GET", "/v1/customers/{customer}/payment_methods/{id}", retrieve_for_customer)


# --- building objects ------------------------------------------------------------------------
def _billing_details() -> dict[str, Any]:
    return {"address": {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None,
                        "state": None},
            "email": None, "name": None, "phone": None, "tax_id": None}


def _new_pm(em: Emulator, card: dict[str, Any], created: int | None = None) -> dict[str, Any]:
    return {"id": new_id("pm"), "object": "payment_method", "allow_redisplay": "unspecified",
            "billing_details": _billing_details(), "card": card, "created": created or em.now(),
            "customer": None, "customer_account": None, "livemode": False, "metadata": {}, "type": "card"}


def _token_view(em: Emulator, token: str, card: TestCard) -> dict[str, Any]:
    """What retrieving ``pm_card_visa`` shows: the shape of the pm an attach would create."""
    pm = _new_pm(em, card_object(card))
    pm["id"] = token
    return pm


def _resolve(em: Emulator, pm_id: Any, param: str = "id") -> tuple[dict[str, Any], bool]:
    """(payment method, is_new): a test token becomes a new, not yet stored, pm_ object."""
    card = test_card(pm_id) if isinstance(pm_id, str) and pm_id.startswith("pm_card_") else None
    if card is not None:
        return _new_pm(em, card_object(card)), True
    return em.store.get("payment_method", pm_id, param=param, label=LABEL), False


# --- params ---------------------------------------------------------------------------------
def _billing_params(p: Params, current: dict[str, Any]) -> dict[str, Any] | None:
    sub = p.sub("billing_details")
    if sub is None:
        return None
    out = copy.deepcopy(current)
    for key in ("email", "name", "phone"):
        if sub.has(key):
            out[key] = sub.str(key, nullable=True)
    if sub.has("tax_id"):
        out["tax_id"] = sub.str("tax_id", nullable=True)
    addr = sub.dict("address", nullable=True)
    if addr == "":
        out["address"] = _billing_details()["address"]
    elif addr is not None:
        ap = Params(addr, "billing_details[address]")
        for key in ("city", "country", "line1", "line2", "postal_code", "state"):
            if ap.has(key):
                out["address"][key] = ap.str(key, nullable=True, max_length=200)
        ap.done()
    sub.done()
    return out


def _card_params(p: Params) -> dict[str, Any]:
    """``card[token]=tok_visa``, or raw test numbers (``card[number]``, ``exp_month``, ``exp_year``)."""
    sub = p.sub("card", required=True)
    assert sub is not None
    token = sub.str("token")
    if token is not None:
        sub.done()
        card = test_card(token) if token.startswith("tok_") else None
        if card is None:
            raise missing("token", token, "card[token]")
        return card_object(card)
    number = sub.str("number", required=True).replace(" ", "")
    month = sub.int("exp_month", required=True, min=1, max=12)
    year = sub.int("exp_year", required=True, min=2000, max=2100)
    sub.str("cvc", max_length=4)
    sub.done()
    return card_object(card_from_number(number), month, year)


# --- attach / detach -------------------------------------------------------------------------
def _check_attachable(em: Emulator, pm: dict[str, Any], cust: dict[str, Any]) -> None:
    """Refuse what Stripe refuses; raises before anything is written."""
    card = card_behaviour(pm)
    if card is not None and card.decline is not None and card.at_attach:
        raise decline_error(card.decline)
    if pm["id"] in em.state.detached_payment_methods:
        raise invalid("This PaymentMethod was previously used without being attached to a Customer or was "
                      "detached from a Customer, and may not be used again.",
                      code="payment_method_unexpected_state")
    if pm["customer"] is not None and pm["customer"] != cust["id"]:
        raise invalid("The payment method you provided has already been attached to a customer.",
                      code="payment_method_unexpected_state")


def _attach(em: Emulator, pm: dict[str, Any], is_new: bool, cust: dict[str, Any],
            req: Request) -> dict[str, Any]:
    if pm["customer"] == cust["id"]:
        return pm                    # attaching twice to the same customer changes nothing
    if is_new:
        pm["created"] = em.now(cust)
        em.store.insert(pm)
    pm["customer"] = cust["id"]
    em.emit("payment_method.attached", pm, request=req)
    return pm


def attach_to_new_customer(em: Emulator, pm_id: str, cust: dict[str, Any], req: Request) -> None:
    """``POST /v1/customers`` with ``payment_method``: customers.py has already stored the customer."""
    try:
        pm, is_new = _resolve(em, pm_id, "payment_method")
        _check_attachable(em, pm, cust)
    except StripeError:
        _unstore(em, cust["id"])     # the create fails as a whole, as Stripe's does
        raise
    _attach(em, pm, is_new, cust, req)


def _unstore(em: Emulator, oid: str) -> None:
    obj = em.store.objects.pop(oid, None)
    if obj is not None:
        em.store.by_kind[obj["object"]].remove(oid)


def attach(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    pm, is_new = _resolve(em, req.args["id"])
    cust = em.store.get("customer", p.str("customer", required=True), param="customer")
    p.done()
    _check_attachable(em, pm, cust)
    return _attach(em, pm, is_new, cust, req)


def detach(em: Emulator, req: Request) -> dict[str, Any]:
    pm = em.store.get("payment_method", req.args["id"], label=LABEL)
    req.params.done()
    cust_id = pm["customer"]
    if cust_id is None:
        raise invalid("The payment method you provided is not attached to a customer so detachment is "
                      "impossible.", code="payment_method_unexpected_state")
    pm["customer"] = None
    em.state.detached_payment_methods.add(pm["id"])
    em.emit("payment_method.detached", pm, {"customer": cust_id}, request=req)
    cust = em.store.find(cust_id)
    settings = (cust or {}).get("invoice_settings") or {}
    if cust is not None and settings.get("default_payment_method") == pm["id"]:
        previous = em.update(cust, {"invoice_settings": {**settings, "default_payment_method": None}})
        em.emit("customer.updated", cust, previous, request=req)
    return pm


# --- create / retrieve / update / list -------------------------------------------------------
def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    p.str("type", required=True, choices=("card",))
    card = _card_params(p)
    billing = _billing_params(p, _billing_details())
    metadata = p.metadata({})
    redisplay = p.str("allow_redisplay", choices=("always", "limited", "unspecified"))
    p.done()
    pm = _new_pm(em, card)
    if billing is not None:
        pm["billing_details"] = billing
    pm["metadata"] = metadata or {}
    pm["allow_redisplay"] = redisplay or "unspecified"
    return em.store.insert(pm)


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    req.params.done()
    oid = req.args["id"]
    card = test_card(oid) if oid.startswith("pm_card_") else None
    if card is not None:
        return _token_view(em, oid, card)
    return em.store.get("payment_method", oid, label=LABEL)


def update(em: Emulator, req: Request) -> dict[str, Any]:
    pm = em.store.get("payment_method", req.args["id"], label=LABEL)
    p = req.params
    changes: dict[str, Any] = {}
    billing = _billing_params(p, pm["billing_details"])
    if billing is not None:
        changes["billing_details"] = billing
    metadata = p.metadata(pm["metadata"])
    if metadata is not None:
        changes["metadata"] = metadata
    if p.has("allow_redisplay"):
        changes["allow_redisplay"] = p.str("allow_redisplay", choices=("always", "limited", "unspecified"))
    card_changes = _card_update(p, pm)
    if card_changes is not None:
        changes["card"] = card_changes
    p.done()
    if pm["customer"] is None:
        raise invalid("You must save this PaymentMethod to a customer before you can update it.",
                      code="payment_method_unexpected_state")
    previous = em.update(pm, changes)
    if previous:
        em.emit("payment_method.updated", pm, previous, request=req)
    return pm


def _card_update(p: Params, pm: dict[str, Any]) -> dict[str, Any] | None:
    sub = p.sub("card")
    if sub is None:
        return None
    card = dict(pm["card"])
    month = sub.int("exp_month", min=1, max=12)
    year = sub.int("exp_year", min=2000, max=2100)
    sub.get("networks")
    sub.done()
    if month is not None:
        card["exp_month"] = month
    if year is not None:
        card["exp_year"] = year
    return card


def _filtered(em: Emulator, p: Params, customer: str | None) -> list[dict[str, Any]]:
    kind = p.str("type")
    redisplay = p.str("allow_redisplay", choices=("always", "limited", "unspecified"))
    items = em.store.all("payment_method")
    if customer is not None:
        items = [pm for pm in items if pm["customer"] == customer]
    if kind is not None:
        items = [pm for pm in items if pm["type"] == kind]
    if redisplay is not None:
        items = [pm for pm in items if pm["allow_redisplay"] == redisplay]
    return items


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    customer = p.str("customer")
    if customer is not None:
        em.store.get("customer", customer, param="customer")
    return em.store.page(p, _filtered(em, p, customer), "/v1/payment_methods")


def list_for_customer(em: Emulator, req: Request) -> dict[str, Any]:
    cust = em.store.get("customer", req.args["customer"], param="customer")
    url = f"/v1/customers/{cust['id']}/payment_methods"
    return em.store.page(req.params, _filtered(em, req.params, cust["id"]), url)


def retrieve_for_customer(em: Emulator, req: Request) -> dict[str, Any]:
    cust = em.store.get("customer", req.args["customer"], param="customer")
    req.params.done()
    pm = em.store.find(req.args["id"])
    if pm is None or pm["object"] != "payment_method" or pm["customer"] != cust["id"]:
        raise missing(LABEL, req.args["id"])
    return pm


# --- for intents (setup intents, payment intents, Checkout) ------------------------------------
def setup_decline(pm: dict[str, Any]) -> str | None:
    """The decline code with which saving ``pm`` fails (Stripe verifies the card), or None."""
    card = card_behaviour(pm)
    return card.decline if card is not None and card.decline is not None and card.at_attach else None


def resolve_for_intent(em: Emulator, pm_id: Any, param: str = "payment_method") -> dict[str, Any]:
    """The payment method an intent uses: a stored one, or a test token (``pm_card_visa``) made into a new,
    stored, unattached ``pm_...`` as Stripe does."""
    pm, is_new = _resolve(em, pm_id, param)
    if is_new:
        em.store.insert(pm)
    return pm


def attach_after_intent(em: Emulator, pm: dict[str, Any], cust: dict[str, Any], req: Request | None) -> None:
    """Attach ``pm`` to ``cust`` once an intent saved it (setup_future_usage, SetupIntent success)."""
    if pm["customer"] == cust["id"]:
        return
    pm["customer"] = cust["id"]
    em.emit("payment_method.attached", pm, request=req)


def reusable(em: Emulator, pm: dict[str, Any]) -> bool:
    """False for a payment method Stripe refuses to use again (detached, or consumed unattached)."""
    return pm["id"] not in em.state.detached_payment_methods
