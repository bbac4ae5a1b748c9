"""Checkout Sessions: create (``subscription``, ``setup`` and ``payment`` mode), retrieve, update, list,
expire, line items. Customers complete a session on the stand-in page (``hosted/checkout.py``), which
creates what Stripe's Checkout creates and then calls ``mark_complete`` here
(``checkout.session.completed``). Open sessions expire at ``expires_at`` (``checkout.session.expired``):
when the billing clock passes it, or when the session is next read after it.
"""

from __future__ import annotations

import secrets
import string
from fractions import Fraction
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..billing_common import DAY, currency_param
from ..errors import StripeError, invalid
from ..params import Params
from ..rating import round_line as round_half_up
from ..routing import Request
from ..state import CheckoutSessionState
from ..store import matches_range
from .setup_intents import insert, new_setup_intent

if TYPE_CHECKING:
    from ..app import Emulator

LABEL = "checkout.session"
MODES = ("payment", "setup", "subscription")
UI_MODES = ("hosted_page", "hosted")
_ALNUM = string.ascii_letters + string.digits


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/checkout/sessions", create)
    r.add("GET", "/v1/checkout/sessions", list_)
    r.add("GET", "/v1/checkout/sessions/{id}", retrieve)
    r.add("POST", "/v1/checkout/sessions/{id}", update)
    r.add("POST", "/v1/checkout/sessions/{id}/expire", expire_route)
    r.add("GET", "/v1/checkout/sessions/{id}/line_items", line_items)


# --- params --------------------------------------------------------------------------------------
def url_param(p: Params, key: str, *, required: bool = False) -> str | None:
    value = p.str(key, required=required, max_length=5000)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise invalid(f"Not a valid URL: {p._name(key)} must be an absolute http(s) URL.", p._name(key),
                      code="url_invalid")
    return value


def _line_items(em: Emulator, p: Params, mode: str) -> list[dict[str, Any]]:
    entries = p.hashes("line_items")
    if mode == "setup":
        if entries:
            raise invalid("line_items cannot be used in setup mode.", "line_items")
        return []
    if not entries:
        raise StripeError("Missing required param: line_items.", param="line_items", code="parameter_missing")
    out = []
    for e in entries:
        if e.has("price_data"):
            raise invalid("price_data is not supported by the billingos emulator; create the price first and pass "
                          "its id.", f"{e.prefix}[price_data]")
        price = em.store.get("price", e.str("price", required=True), param=f"{e.prefix}[price]")
        qty = e.int("quantity", min=1, max=999_999, default=1)
        adjustable = e.sub("adjustable_quantity")
        if adjustable is not None:
            adjustable.bool("enabled")
            adjustable.int("minimum", min=0)
            adjustable.int("maximum", min=1)
            adjustable.done()
        e.metadata({})
        e.get("tax_rates")
        e.done()
        if not price["active"]:
            raise invalid(f"The price specified ({price['id']}) is inactive. This field only accepts active "
                          "prices.", f"{e.prefix}[price]")
        recurring = price.get("type") == "recurring"
        if mode == "payment" and recurring:
            raise invalid("You specified `payment` mode but passed a recurring price. Either switch to "
                          "`subscription` mode or use only one-time prices.", f"{e.prefix}[price]")
        if mode == "subscription" and not recurring:
            raise invalid("One-time prices in subscription mode are not supported by the billingos emulator; use "
                          "recurring prices only.", f"{e.prefix}[price]")
        out.append({"price": price["id"], "quantity": qty})
    prices = [em.store.objects[i["price"]] for i in out]
    if len({pr["currency"] for pr in prices}) > 1:
        raise invalid("All prices in a Checkout Session must share one currency.", "line_items")
    if mode == "subscription":
        cycles = {(pr["recurring"]["interval"], pr["recurring"]["interval_count"]) for pr in prices}
        if len(cycles) > 1:
            raise invalid("Checkout cannot combine recurring prices with different billing intervals.",
                          "line_items")
    return out


def _sub_data(p: Params, mode: str) -> dict[str, Any]:
    sub = p.sub("subscription_data")
    if sub is None:
        return {}
    if mode != "subscription":
        raise invalid("subscription_data can only be used in subscription mode.", "subscription_data")
    data = {"trial_period_days": sub.int("trial_period_days", min=1, max=730), "trial_end": sub.int("trial_end"),
            "metadata": sub.metadata({}) or {}, "description": sub.str("description", max_length=500)}
    if data["trial_period_days"] is not None and data["trial_end"] is not None:
        raise invalid("You may only specify one of these parameters: trial_end, trial_period_days.",
                      "subscription_data[trial_end]", code="parameters_exclusive")
    sub.done()
    return data


def _intent_data(p: Params, key: str, mode: str, want: str) -> dict[str, Any]:
    sub = p.sub(key)
    if sub is None:
        return {}
    if mode != want:
        raise invalid(f"{key} can only be used in {want} mode.", key)
    data: dict[str, Any] = {"metadata": sub.metadata({}) or {}, "description": sub.str("description")}
    if key == "payment_intent_data":
        data["setup_future_usage"] = sub.str("setup_future_usage", choices=("off_session", "on_session"))
        data["receipt_email"] = sub.str("receipt_email")
        data["statement_descriptor"] = sub.str("statement_descriptor", max_length=22)
    sub.done()
    return data


def _discounts(em: Emulator, p: Params) -> list[dict[str, str]] | None:
    entries = p.hashes("discounts")
    if entries is None:
        return None
    out = []
    for e in entries:
        coupon, promo = e.str("coupon"), e.str("promotion_code")
        e.done()
        if (coupon is None) == (promo is None):
            raise invalid("Each discount needs exactly one of coupon or promotion_code.", e.prefix)
        if coupon is not None:
            em.store.get("coupon", coupon, param=f"{e.prefix}[coupon]")
            out.append({"coupon": coupon})
        else:
            em.store.get("promotion_code", promo, param=f"{e.prefix}[promotion_code]", label="promotion code")
            out.append({"promotion_code": promo})
    if len(out) > 1:
        raise invalid("Checkout Sessions take at most one discount.", "discounts")
    return out


def _expires_at(p: Params, at: int) -> int:
    value = p.int("expires_at", min=0)
    if value is None:
        return at + DAY
    if value < at + 30 * 60 - 1:
        raise invalid("The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
                      "expires_at")
    if value > at + DAY:
        raise invalid("The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
                      "expires_at")
    return value


# --- amounts -------------------------------------------------------------------------------------
def _discount_off(em: Emulator, discounts: list[dict[str, str]] | None, subtotal: int) -> int:
    if not discounts:
        return 0
    spec = discounts[0]
    coupon_id = spec.get("coupon")
    if coupon_id is None:
        coupon_id = em.store.objects[spec["promotion_code"]]["promotion"]["coupon"]
    coupon = em.store.objects.get(coupon_id or "")
    if coupon is None:
        return 0
    if coupon.get("percent_off") is not None:
        return round_half_up(Fraction(subtotal) * Fraction(str(coupon["percent_off"])) / 100)
    return min(subtotal, int(coupon.get("amount_off") or 0))


def amounts(em: Emulator, cs: dict[str, Any], items: list[dict[str, Any]], trial: bool) -> None:
    if cs["mode"] == "setup":
        return
    subtotal = sum((em.store.objects[i["price"]].get("unit_amount") or 0) * i["quantity"] for i in items)
    off = _discount_off(em, cs["discounts"], subtotal)
    due = 0 if trial else subtotal - off
    cs["amount_subtotal"] = 0 if trial else subtotal
    cs["amount_total"] = due
    cs["total_details"] = {"amount_discount": 0 if trial else off, "amount_shipping": 0, "amount_tax": 0}


# --- the object ----------------------------------------------------------------------------------
def _new_id() -> str:
    return "cs_test_" + "".join(secrets.choice(_ALNUM) for _ in range(58))


def _blank(em: Emulator, mode: str, at: int) -> dict[str, Any]:
    oid = _new_id()
    return {
        "id": oid, "object": "checkout.session", "adaptive_pricing": {"enabled": False},
        "after_expiration": None, "allow_promotion_codes": None, "amount_subtotal": None, "amount_total": None,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None, "cancel_url": None, "client_reference_id": None,
        "client_secret": None, "collected_information": None, "consent": None, "consent_collection": None,
        "created": at, "currency": None, "currency_conversion": None, "custom_fields": [],
        "custom_text": {"after_submit": None, "shipping_address": None, "submit": None,
                        "terms_of_service_acceptance": None},
        "customer": None, "customer_account": None, "customer_creation": None, "customer_details": None,
        "customer_email": None, "discounts": [], "expires_at": at + DAY, "integration_identifier": None,
        "invoice": None, "invoice_creation": None, "livemode": False, "locale": None, "managed_payments": None,
        "metadata": {}, "mode": mode, "origin_context": None, "payment_intent": None, "payment_link": None,
        "payment_method_collection": None, "payment_method_configuration_details": None,
        "payment_method_options": {}, "payment_method_types": ["card"],
        "payment_status": "no_payment_required" if mode == "setup" else "unpaid", "permissions": None,
        "phone_number_collection": {"enabled": False}, "recovered_from": None,
        "saved_payment_method_options": None, "setup_intent": None, "shipping_address_collection": None,
        "shipping_cost": None, "shipping_options": [], "status": "open", "submit_type": None,
        "subscription": None, "success_url": None, "total_details": None, "ui_mode": "hosted_page",
        "url": em.hosted.url(f"/checkout/{oid}"), "wallet_options": None,
    }


def create(em: Emulator, req: Request) -> dict[str, Any]:

    p = req.params
    mode = p.str("mode", required=True, choices=MODES)
    ui = p.str("ui_mode", default="hosted_page")
    if ui not in UI_MODES:
        raise invalid(f"ui_mode {ui!r} is not supported by the billingos emulator: its stand-in Checkout is a hosted "
                      "page (ui_mode=hosted_page).", "ui_mode")
    cust_id, email = p.str("customer"), p.str("customer_email", max_length=800)
    if cust_id is not None and email is not None:
        raise invalid("You may only specify one of these parameters: customer, customer_email.", "customer_email",
                      code="parameters_exclusive")
    cust = em.store.get("customer", cust_id, param="customer") if cust_id else None
    if email is not None and ("@" not in email or any(c.isspace() for c in email)):
        raise invalid(f"Invalid email address: {email}", "customer_email", code="email_invalid")
    at = em.now(cust)
    cs = _blank(em, mode, at)
    items = _line_items(em, p, mode)
    cs.update(success_url=url_param(p, "success_url"), cancel_url=url_param(p, "cancel_url"),
              customer=cust_id, customer_email=email,
              client_reference_id=p.str("client_reference_id", max_length=200),
              metadata=p.metadata({}) or {}, expires_at=_expires_at(p, at),
              locale=p.str("locale"), submit_type=p.str("submit_type", choices=("auto", "book", "donate", "pay",
                                                                                  "subscribe")))
    if cs["submit_type"] is not None and mode != "payment":
        raise invalid("submit_type can only be used in payment mode.", "submit_type")
    creation = p.str("customer_creation", choices=("always", "if_required"))
    if creation is not None and mode != "payment":
        raise invalid("customer_creation can only be used in payment mode.", "customer_creation")
    cs["customer_creation"] = creation or ("if_required" if mode == "payment" and cust is None else None)
    collection = p.str("payment_method_collection", choices=("always", "if_required"))
    if collection is not None and mode == "setup":
        raise invalid("payment_method_collection can only be used in payment or subscription mode.",
                      "payment_method_collection")
    cs["payment_method_collection"] = collection or ("always" if mode != "payment" else None)
    promo = p.bool("allow_promotion_codes")
    discounts = _discounts(em, p)
    if promo and discounts:
        raise invalid("You may only specify one of these parameters: allow_promotion_codes, discounts.", "discounts",
                      code="parameters_exclusive")
    cs["allow_promotion_codes"] = promo
    cs["discounts"] = [{"coupon": d.get("coupon"), "promotion_code": d.get("promotion_code")}
                       for d in discounts or []]
    cs["billing_address_collection"] = p.str("billing_address_collection", choices=("auto", "required"))
    phone = p.sub("phone_number_collection")
    if phone is not None:
        cs["phone_number_collection"] = {"enabled": bool(phone.bool("enabled", default=False))}
        phone.done()
    _refuse_automatic_tax(p)
    for key in ("payment_method_types",):
        for i, t in enumerate(p.list(key) or []):
            if t != "card":
                raise invalid(f"The payment method type {t!r} is not supported by the billingos emulator.",
                              f"{key}[{i}]")
    currency = currency_param(p, "currency")
    sub_data = _sub_data(p, mode)
    seti_data = _intent_data(p, "setup_intent_data", mode, "setup")
    pi_data = _intent_data(p, "payment_intent_data", mode, "payment")
    p.done()
    prices = [em.store.objects[i["price"]] for i in items]
    cs["currency"] = prices[0]["currency"] if prices else currency
    trial = bool(sub_data.get("trial_period_days") or sub_data.get("trial_end"))
    amounts(em, cs, items, trial)
    em.store.insert(cs)
    em.state.checkout_sessions[cs["id"]] = CheckoutSessionState(items=items, subscription_data=sub_data,
                                                                payment_intent_data=pi_data)
    if mode == "setup":
        seti = new_setup_intent(em, customer=cust_id, at=at, description=seti_data.get("description"),
                                metadata=seti_data.get("metadata"))
        insert(em, seti, req)
        cs["setup_intent"] = seti["id"]
    return cs


def _refuse_automatic_tax(p: Params) -> None:
    auto = p.sub("automatic_tax")
    if auto is None:
        return
    enabled = auto.bool("enabled", default=False)
    auto.get("liability")
    auto.done()
    if enabled:
        raise invalid("automatic_tax is not implemented by the billingos emulator (it has fixed tax rates only).",
                      "automatic_tax[enabled]")


def private(em: Emulator, oid: str) -> CheckoutSessionState:
    """What the session was created with that Stripe keeps server side (line items, subscription_data)."""
    return em.state.checkout_sessions.setdefault(oid, CheckoutSessionState())


def remember(em: Emulator, oid: str, *, customer_made: str | None = None, payment_intent: str | None = None) -> None:
    """What completing the session made: a customer (reused after a decline), a PaymentIntent."""
    st = private(em, oid)
    if customer_made is not None:
        st["customer_made"] = customer_made
    if payment_intent is not None:
        st["payment_intent"] = payment_intent


# --- lifecycle -----------------------------------------------------------------------------------
def expire(em: Emulator, cs: dict[str, Any], req: Request | None) -> None:
    previous = em.update(cs, {"status": "expired", "url": None})
    em.emit("checkout.session.expired", cs, previous, request=req)


def expire_if_due(em: Emulator, cs: dict[str, Any]) -> None:
    if cs["status"] == "open" and em.now(cs) >= cs["expires_at"]:
        expire(em, cs, None)


def due_expiries(em: Emulator, clock_id: str | None) -> list[tuple[int, int, dict[str, Any], Any]]:
    out = []
    for cs in em.store.all("checkout.session"):
        cust = em.store.objects.get(cs.get("customer") or "") or {}
        if cs["status"] == "open" and cust.get("test_clock") == clock_id:
            out.append((cs["expires_at"], 0, cs, lambda e, obj, t: expire_if_due(e, obj)))
    return out


def mark_complete(em: Emulator, cs: dict[str, Any], changes: dict[str, Any]) -> None:
    """The session completed on the stand-in page: record what it made, send checkout.session.completed."""
    em.update(cs, {**changes, "status": "complete", "url": None})
    em.emit("checkout.session.completed", cs)


# --- routes --------------------------------------------------------------------------------------
def _get(em: Emulator, req: Request) -> dict[str, Any]:
    cs = em.store.get("checkout.session", req.args["id"], label=LABEL)
    expire_if_due(em, cs)
    return cs


def _items_list(em: Emulator, cs: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for n, item in enumerate(private(em, cs["id"]).get("items", [])):
        price = em.store.objects[item["price"]]
        amount = (price.get("unit_amount") or 0) * item["quantity"]
        prod = em.store.objects.get(price.get("product") or "") or {}
        out.append({"id": f"li_{cs['id'][8:32]}{n:04d}", "object": "item", "adjustable_quantity": None,
                    "amount_discount": 0, "amount_subtotal": amount, "amount_tax": 0, "amount_total": amount,
                    "currency": price["currency"], "description": prod.get("name") or price.get("nickname"),
                    "metadata": {}, "price": price, "quantity": item["quantity"]})
    return out


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    cs = _get(em, req)
    if "line_items" in req.expand:
        return {**cs, "line_items": em.store.page(Params({}), list(reversed(_items_list(em, cs))),
                                                  f"/v1/checkout/sessions/{cs['id']}/line_items")}
    return cs


def line_items(em: Emulator, req: Request) -> dict[str, Any]:
    cs = _get(em, req)
    url = f"/v1/checkout/sessions/{cs['id']}/line_items"
    return em.store.page(req.params, list(reversed(_items_list(em, cs))), url)


def update(em: Emulator, req: Request) -> dict[str, Any]:
    cs = _get(em, req)
    p = req.params
    metadata = p.metadata(cs["metadata"])
    p.done()
    em.update(cs, {"metadata": metadata})
    return cs


def expire_route(em: Emulator, req: Request) -> dict[str, Any]:
    cs = _get(em, req)
    req.params.done()
    if cs["status"] != "open":
        raise StripeError(f"Only Checkout Sessions with a status of open can be expired; this one is "
                          f"{cs['status']}.")
    expire(em, cs, req)
    return cs


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    customer, status = p.str("customer"), p.str("status", choices=("complete", "expired", "open"))
    pi, sub, created = p.str("payment_intent"), p.str("subscription"), p.get("created")
    p.get("customer_details")
    p.str("payment_link")
    items = em.store.all("checkout.session")
    for cs in items:
        expire_if_due(em, cs)
    for key, value in (("customer", customer), ("status", status), ("payment_intent", pi), ("subscription", sub)):
        if value is not None:
            items = [x for x in items if x[key] == value]
    if created is not None:
        items = [x for x in items if matches_range(x["created"], created, "created")]
    return em.store.page(p, items, "/v1/checkout/sessions")
