"""SetupIntents (cards): create (with or without ``confirm``), retrieve, update, list, confirm, cancel.

Confirming with one of Stripe's decline test cards fails as Stripe's card verification does: 402
``card_error`` with the decline code, ``last_setup_error`` set, ``setup_intent.setup_failed``. On success
the payment method is attached to the intent's customer (``payment_method.attached``) and
``setup_intent.succeeded`` is sent. Customers confirm through the Elements stand-in page
(``hosted/elements.py``), which calls the confirm route.
"""

from __future__ import annotations

import copy
import secrets
from typing import TYPE_CHECKING, Any

from ..errors import invalid
from ..params import Params
from ..routing import Request
from ..store import matches_range, new_id
from .payment_methods import attach_after_intent, decline_error, resolve_for_intent, reusable, setup_decline

if TYPE_CHECKING:
    from ..app import Emulator

LABEL = "setup_intent"
OPEN = ("requires_payment_method", "requires_confirmation", "requires_action")
USAGES = ("off_session", "on_session")


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/setup_intents", create)
    r.add("GET", "/v1/setup_intents", list_)
    r.add("GET", "/v1/setup_intents/{id}", retrieve)
    r.add("POST", "/v1/setup_intents/{id}", update)
    r.add("POST", "/v1/setup_intents/{id}/confirm", confirm_route)
    r.add("POST", "/v1/setup_intents/{id}/cancel", cancel)


# --- the object ----------------------------------------------------------------------------------
def new_setup_intent(em: Emulator, *, customer: str | None, at: int, usage: str = "off_session",
                     description: str | None = None, metadata: dict[str, str] | None = None,
                     automatic: bool = False) -> dict[str, Any]:
    oid = new_id("seti", 24)
    return {
        "id": oid,
        "object": "setup_intent",
        "application": None,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": True} if automatic else None,
        "cancellation_reason": None,
        "client_secret": f"{oid}_secret_{secrets.token_urlsafe(24).replace('-', 'x').replace('_', 'y')}",
        "created": at,
        "customer": customer,
        "customer_account": None,
        "description": description,
        "excluded_payment_method_types": None,
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": False,
        "mandate": None,
        "metadata": dict(metadata or {}),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"mandate_options": None, "network": None,
                                            "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "single_use_mandate": None,
        "status": "requires_payment_method",
        "usage": usage,
    }


def insert(em: Emulator, seti: dict[str, Any], req: Request | None) -> dict[str, Any]:
    """Store a new SetupIntent (Checkout in setup mode makes one too) and send setup_intent.created."""
    em.store.insert(seti)
    em.emit("setup_intent.created", seti, request=req)
    return seti


# --- params --------------------------------------------------------------------------------------
def _payment_method_types(p: Params) -> None:
    types = p.list("payment_method_types")
    if types is None:
        return
    for i, t in enumerate(types):
        if t != "card":
            raise invalid(f"The payment method type {t!r} is not supported by the billingos emulator; it "
                          "implements cards only.", f"payment_method_types[{i}]",
                          code="payment_method_unactivated" if isinstance(t, str) else "parameter_invalid")


def _flow_directions(p: Params) -> list[str] | None:
    raw = p.list("flow_directions")
    if raw is None:
        return None
    for i, d in enumerate(raw):
        if d not in ("inbound", "outbound"):
            raise invalid("Invalid flow_directions: must be inbound or outbound", f"flow_directions[{i}]")
    return list(raw)


def _card_options(p: Params) -> dict[str, Any] | None:
    opts = p.sub("payment_method_options")
    if opts is None:
        return None
    card = opts.sub("card")
    opts.done()
    if card is None:
        return None
    three_ds = card.str("request_three_d_secure", choices=("any", "automatic", "challenge"))
    network = card.str("network")
    card.done()
    return {"mandate_options": None, "network": network, "request_three_d_secure": three_ds or "automatic"}


def _pm_param(em: Emulator, p: Params) -> str | None:
    pm_id = p.str("payment_method")
    if pm_id is not None and not pm_id.startswith("pm_card_"):
        em.store.get("payment_method", pm_id, param="payment_method", label="PaymentMethod")
    return pm_id


# --- routes --------------------------------------------------------------------------------------
def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    cust_id = p.str("customer")
    cust = em.store.get("customer", cust_id, param="customer") if cust_id is not None else None
    usage = p.str("usage", choices=USAGES, default="off_session")
    auto = p.sub("automatic_payment_methods")
    automatic = False
    if auto is not None:
        automatic = bool(auto.bool("enabled", default=False))
        auto.str("allow_redirects", choices=("always", "never"))
        auto.done()
    _payment_method_types(p)
    flows = _flow_directions(p)
    card_opts = _card_options(p)
    pm_id = _pm_param(em, p)
    do_confirm = bool(p.bool("confirm", default=False))
    return_url = p.str("return_url")
    if return_url is not None and not do_confirm:
        raise invalid("return_url can only be passed when confirm=true.", "return_url")
    seti = new_setup_intent(em, customer=cust_id, at=em.now(cust), usage=usage,
                            description=p.str("description", nullable=True), metadata=p.metadata({}),
                            automatic=automatic)
    p.get("use_stripe_sdk")
    p.get("mandate_data")
    p.done()
    if flows is not None:
        seti["flow_directions"] = flows
    if card_opts is not None:
        seti["payment_method_options"]["card"] = card_opts
    if pm_id is not None:
        seti["payment_method"] = _resolve(em, pm_id)["id"]
        seti["status"] = "requires_confirmation"
    insert(em, seti, req)
    if do_confirm:
        confirm(em, seti, None, req)
    return seti


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    seti = em.store.get("setup_intent", req.args["id"], label=LABEL)
    req.params.str("client_secret")
    return seti


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    customer, pm, created = p.str("customer"), p.str("payment_method"), p.get("created")
    p.bool("attach_to_self")
    items = em.store.all("setup_intent")
    if customer is not None:
        items = [x for x in items if x["customer"] == customer]
    if pm is not None:
        items = [x for x in items if x["payment_method"] == pm]
    if created is not None:
        items = [x for x in items if matches_range(x["created"], created, "created")]
    return em.store.page(p, items, "/v1/setup_intents")


def update(em: Emulator, req: Request) -> dict[str, Any]:
    seti = em.store.get("setup_intent", req.args["id"], label=LABEL)
    p = req.params
    changes: dict[str, Any] = {}
    if p.has("description"):
        changes["description"] = p.str("description", nullable=True)
    metadata = p.metadata(seti["metadata"]) if p.has("metadata") else None
    if metadata is not None:
        changes["metadata"] = metadata
    other: dict[str, Any] = {}
    if p.has("customer"):
        cust_id = p.str("customer", required=True)
        em.store.get("customer", cust_id, param="customer")
        if seti["customer"] not in (None, cust_id):
            raise invalid("You cannot change the customer of a SetupIntent once it is set.", "customer")
        other["customer"] = cust_id
    pm_id = _pm_param(em, p)
    _payment_method_types(p)
    flows = _flow_directions(p)
    if flows is not None:
        other["flow_directions"] = flows
    p.done()
    if (other or pm_id is not None) and seti["status"] not in OPEN:
        raise invalid(f"You cannot update this SetupIntent because it has a status of {seti['status']}.",
                      code="setup_intent_unexpected_state")
    if pm_id is not None:
        other["payment_method"] = _resolve(em, pm_id)["id"]
        other["status"] = "requires_confirmation"
    em.update(seti, {**changes, **other})      # Stripe has no setup_intent.updated event
    return seti


def confirm_route(em: Emulator, req: Request) -> dict[str, Any]:
    seti = em.store.get("setup_intent", req.args["id"], label=LABEL)
    p = req.params
    pm_id = _pm_param(em, p)
    p.str("return_url")
    card_opts = _card_options(p)
    p.get("use_stripe_sdk")
    p.get("mandate_data")
    p.str("client_secret")
    p.done()
    if card_opts is not None:
        seti["payment_method_options"]["card"] = card_opts
    return confirm(em, seti, pm_id, req)


def cancel(em: Emulator, req: Request) -> dict[str, Any]:
    seti = em.store.get("setup_intent", req.args["id"], label=LABEL)
    p = req.params
    reason = p.str("cancellation_reason", choices=("abandoned", "duplicate", "requested_by_customer"))
    p.done()
    if seti["status"] not in OPEN:
        raise invalid(f"You cannot cancel this SetupIntent because it has a status of {seti['status']}. Only a "
                      "SetupIntent with one of the following statuses may be canceled: "
                      "requires_payment_method, requires_confirmation, requires_action.",
                      code="setup_intent_unexpected_state")
    previous = em.update(seti, {"status": "canceled", "cancellation_reason": reason})
    em.emit("setup_intent.canceled", seti, previous, request=req)
    return seti


# --- confirming ----------------------------------------------------------------------------------
def _resolve(em: Emulator, pm_id: str) -> dict[str, Any]:

    return resolve_for_intent(em, pm_id)


def confirm(em: Emulator, seti: dict[str, Any], pm_id: str | None, req: Request | None) -> dict[str, Any]:
    """Verify the card and save it: succeeded (attached to the customer) or a 402 card_error."""

    if seti["status"] not in OPEN:
        what = "already succeeded" if seti["status"] == "succeeded" else f"a status of {seti['status']}"
        raise invalid(f"You cannot confirm this SetupIntent because it has {what}.",
                      code="setup_intent_unexpected_state")
    pm = _resolve(em, pm_id) if pm_id is not None else None
    if pm is None and seti["payment_method"] is not None:
        pm = em.store.find(seti["payment_method"])
    if pm is None:
        raise invalid("You cannot confirm this SetupIntent because it's missing a payment method. Update the "
                      "SetupIntent with a payment method and then confirm it again.", "payment_method",
                      code="setup_intent_unexpected_state")
    cust = em.store.find(seti["customer"]) if seti["customer"] else None
    if pm["customer"] is not None and pm["customer"] != seti["customer"]:
        raise invalid("The provided PaymentMethod was previously attached to a different Customer; it cannot be "
                      "used with this SetupIntent.", "payment_method", code="payment_method_unexpected_state")
    if not reusable(em, pm):
        raise invalid("This PaymentMethod was previously used without being attached to a Customer or was "
                      "detached from a Customer, and may not be used again.", "payment_method",
                      code="payment_method_unexpected_state")
    decline = setup_decline(pm)
    if decline is not None:
        err = decline_error(decline)
        error = {"code": err.code, "decline_code": decline,
                 "doc_url": f"https://stripe.com/docs/error-codes/{(err.code or '').replace('_', '-')}",
                 "message": err.message, "payment_method": copy.deepcopy(pm), "payment_method_type": "card",
                 "type": "card_error"}
        previous = em.update(seti, {"status": "requires_payment_method", "payment_method": None,
                                    "last_setup_error": error})
        em.emit("setup_intent.setup_failed", seti, previous, request=req)
        err.extra["setup_intent"] = copy.deepcopy(seti)
        raise err
    if cust is not None:
        attach_after_intent(em, pm, cust, req)
    previous = em.update(seti, {"status": "succeeded", "payment_method": pm["id"], "last_setup_error": None})
    em.emit("setup_intent.succeeded", seti, previous, request=req)
    return seti
