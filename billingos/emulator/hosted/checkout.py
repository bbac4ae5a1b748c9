"""The Checkout stand-in: ``GET /checkout/{cs_id}`` shows the order and the test cards; ``POST`` completes.

Completing does what Stripe's Checkout does, through the emulator's API: in ``subscription`` mode it
creates the customer (unless the session has one), attaches the card, and creates the subscription with
the session's ``subscription_data`` (a trial, metadata) and ``payment_behavior=error_if_incomplete``, so
a declined first payment shows Stripe's message and creates no subscription; in ``setup`` mode it
confirms the session's SetupIntent; in ``payment`` mode it confirms a PaymentIntent. Then it sends
``checkout.session.completed`` and redirects to ``success_url``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..errors import StripeError
from ..resources import checkout_sessions as sessions
from ..resources.payment_methods import decline_error, test_card
from . import html
from .core import PageRequest, PageResponse, not_found
from .html import e

if TYPE_CHECKING:
    from .core import Hosted

SESSION_ID_TEMPLATE = "{CHECKOUT_SESSION_ID}"


def _load(hosted: Hosted, oid: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The session (expired first if its time has passed) and what it was created with."""
    em = hosted.em

    def load() -> tuple[dict[str, Any], dict[str, Any]] | None:
        cs = em.store.find(oid)
        if cs is None or cs.get("object") != "checkout.session":
            return None
        sessions.expire_if_due(em, cs)
        return copy.deepcopy(cs), dict(copy.deepcopy(sessions.private(em, oid)))

    def due() -> bool:
        cs = em.store.find(oid) or {}
        return cs.get("status") == "open" and em.now(cs) >= cs["expires_at"]

    return hosted.run(load) if hosted.read(due) else hosted.read(load)   # a write only when it expires now


def _success(cs: dict[str, Any]) -> PageResponse:
    if cs.get("success_url"):
        return PageResponse(303, location=cs["success_url"].replace(SESSION_ID_TEMPLATE, cs["id"]))
    return PageResponse(200, html.message_page("Thank you", "Your order is complete. You can close this page."))


def _closed(cs: dict[str, Any]) -> PageResponse | None:
    if cs["status"] == "complete":
        return _success(cs)
    if cs["status"] == "expired":
        link = (cs["cancel_url"], "Return to the site") if cs.get("cancel_url") else None
        return PageResponse(410, html.message_page("This checkout has expired",
                                                   "Start again from the site to get a new checkout page.",
                                                   link=link))
    return None


def _card_needed(cs: dict[str, Any]) -> bool:
    return not (cs["payment_method_collection"] == "if_required" and (cs["amount_total"] or 0) == 0)


def _summary(hosted: Hosted, cs: dict[str, Any], private: dict[str, Any]) -> str:
    if cs["mode"] == "setup":
        return "<p>Save a card for future payments. You will not be charged now.</p>"
    rows = []
    for item in private.get("items", []):
        price = hosted.find(item["price"])
        prod = hosted.find(price.get("product"))
        name = prod.get("name") or price.get("nickname") or "Item"
        each = html.money(price.get("unit_amount"), price["currency"])
        per = f" {html.interval(price)}" if price.get("recurring") else ""
        rows.append(f"<tr><td>{e(name)}</td><td class=\"num\">{e(item['quantity'])}</td>"
                    f"<td class=\"num\">{e(each)}{e(per)}</td></tr>")
    sub_data = private.get("subscription_data") or {}
    trial = ""
    if sub_data.get("trial_period_days"):
        trial = (f"<p><strong>{e(sub_data['trial_period_days'])} days free.</strong> "
                 "You will be charged after the trial.</p>")
    elif sub_data.get("trial_end"):
        trial = f"<p><strong>Free until {e(html.date(sub_data['trial_end']))}.</strong></p>"
    discount = (cs.get("total_details") or {}).get("amount_discount") or 0
    off = f"<p>Discount: −{e(html.money(discount, cs['currency']))}</p>" if discount else ""
    return ('<table><caption class="note">Order summary</caption><thead><tr><th scope="col">Item</th>'
            '<th scope="col" class="num">Qty</th><th scope="col" class="num">Price</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>{trial}{off}"
            f"<p><strong>Due today: {e(html.money(cs['amount_total'], cs['currency']))}</strong></p>")


def _form(hosted: Hosted, cs: dict[str, Any], private: dict[str, Any], error: str | None,
          values: dict[str, str], status: int = 200) -> PageResponse:
    title = {"subscription": "Subscribe", "setup": "Set up a payment method", "payment": "Pay"}[cs["mode"]]
    fields = []
    cust = hosted.find(cs["customer"]) if cs["customer"] else {}
    fixed_email = cust.get("email") or cs.get("customer_email")
    if fixed_email:
        fields.append(f"<p>Email: <strong>{e(fixed_email)}</strong></p>")
    elif not cs["customer"]:
        fields.append('<label for="email">Email</label><input type="email" id="email" name="email" required '
                      f'autocomplete="email" maxlength="512" value="{e(values.get("email", ""))}">')
    fields.append('<label for="name">Name on card</label><input type="text" id="name" name="name" '
                  f'autocomplete="cc-name" maxlength="200" value="{e(values.get("name", ""))}">')
    if cs["phone_number_collection"]["enabled"]:
        fields.append('<label for="phone">Phone</label><input type="text" id="phone" name="phone" required '
                      f'autocomplete="tel" inputmode="tel" maxlength="40" value="{e(values.get("phone", ""))}">')
    if _card_needed(cs):
        fields.append(html.card_picker(values.get("card")))
    else:
        fields.append('<p class="note">No card is needed now.</p>')
    trial = bool((private.get("subscription_data") or {}).get("trial_period_days")
                 or (private.get("subscription_data") or {}).get("trial_end"))
    button = {"subscription": "Start trial" if trial else "Subscribe", "setup": "Save card",
              "payment": "Pay"}[cs["mode"]]
    back = f'<p><a href="{e(cs["cancel_url"])}">Back to the site</a></p>' if cs.get("cancel_url") else ""
    form = html.post_form(hosted.url(f"/checkout/{cs['id']}"), hosted.token(cs["id"]), "".join(fields), button)
    body = (f"<h1>{e(title)}</h1>{html.alert(error)}<section aria-label=\"Order\">"
            f"{_summary(hosted, cs, private)}</section><section aria-label=\"Payment details\">{form}</section>{back}")
    return PageResponse(status, html.layout(title, body))


def show(hosted: Hosted, req: PageRequest) -> PageResponse:
    loaded = _load(hosted, req.args["id"])
    if loaded is None:
        return not_found()
    cs, private = loaded
    return _closed(cs) or _form(hosted, cs, private, None, {})


def _values(cs: dict[str, Any], form: dict[str, str]) -> tuple[dict[str, str], str | None]:
    values = {k: form.get(k, "").strip() for k in ("email", "name", "phone", "card")}
    if not cs["customer"] and not cs.get("customer_email"):
        email = values["email"]
        if not email or "@" not in email or len(email) > 512 or any(c.isspace() for c in email):
            return values, "Enter a valid email address."
    if len(values["name"]) > 200 or len(values["phone"]) > 40:
        return values, "The name or phone number is too long."
    if cs["phone_number_collection"]["enabled"] and not values["phone"]:
        return values, "Enter a phone number."
    if _card_needed(cs) and values["card"] not in html.CARD_TOKENS:
        return values, "Choose one of the test cards."
    return values, None


def submit(hosted: Hosted, req: PageRequest) -> PageResponse:
    loaded = _load(hosted, req.args["id"])
    if loaded is None:
        return not_found()
    cs, private = loaded
    if not hosted.token_ok(cs["id"], req.form.get("token")):
        return PageResponse(403, html.message_page("This form has expired", "Reload the page and try again."))
    closed = _closed(cs)
    if closed is not None:
        return closed
    values, problem = _values(cs, req.form)
    if problem:
        return _form(hosted, cs, private, problem, values, status=400)
    with hosted.submitting():
        loaded = _load(hosted, cs["id"])
        assert loaded is not None
        cs, private = loaded
        closed = _closed(cs)
        if closed is not None:
            return closed
        try:
            changes = _complete(hosted, cs, private, values)
        except StripeError as err:
            if err.status >= 500:
                raise
            return _form(hosted, cs, private, err.message, values, status=402 if err.status == 402 else 400)
        hosted.run(lambda: sessions.mark_complete(hosted.em, hosted.em.store.objects[cs["id"]], changes))
        cs = {**cs, **changes}
    return _success(cs)


# --- completing ------------------------------------------------------------------------------------
def _details(hosted: Hosted, cs: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    cust = hosted.find(cs["customer"])
    return {"address": None, "business_name": None, "individual_name": None,
            "email": cust.get("email") or cs.get("customer_email") or values["email"] or None,
            "name": values["name"] or cust.get("name"), "phone": values["phone"] or cust.get("phone"),
            "tax_exempt": cust.get("tax_exempt", "none"), "tax_ids": []}


def _customer(hosted: Hosted, cs: dict[str, Any], private: dict[str, Any], values: dict[str, str]) -> str:
    """The session's customer, else the one an earlier, declined attempt made, else a new one."""
    if cs["customer"]:
        return str(cs["customer"])
    if private.get("customer_made"):
        return str(private["customer_made"])
    params = {k: v for k, v in (("email", cs.get("customer_email") or values["email"]), ("name", values["name"]),
                                ("phone", values["phone"])) if v}
    cust = hosted.api("POST", "/v1/customers", params)
    hosted.run(lambda: sessions.remember(hosted.em, cs["id"], customer_made=str(cust["id"])))
    return str(cust["id"])


def _check_card(card: str) -> None:
    """Saving a decline card fails before anything is made, as Stripe's card check does."""
    tc = test_card(card)
    if tc is not None and tc.decline is not None and tc.at_attach:
        raise decline_error(tc.decline)


def _complete(hosted: Hosted, cs: dict[str, Any], private: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    card = values["card"] if _card_needed(cs) else ""
    details = _details(hosted, cs, values)
    if cs["mode"] == "setup":
        seti = hosted.api("POST", f"/v1/setup_intents/{cs['setup_intent']}/confirm", {"payment_method": card})
        return {"customer_details": details, "customer": seti["customer"]}
    if cs["mode"] == "payment":
        return _pay(hosted, cs, private, values, card, details)
    if card:
        _check_card(card)
    customer = _customer(hosted, cs, private, values)
    pm_id = hosted.api("POST", f"/v1/payment_methods/{card}/attach", {"customer": customer})["id"] if card else None
    data = private.get("subscription_data") or {}
    params: dict[str, Any] = {
        "customer": customer, "items": [{"price": i["price"], "quantity": i["quantity"]} for i in private["items"]],
        "payment_behavior": "error_if_incomplete", "metadata": data.get("metadata") or {},
        "description": data.get("description"), "default_payment_method": pm_id,
        "trial_period_days": data.get("trial_period_days"), "trial_end": data.get("trial_end"),
    }
    if cs["discounts"]:
        params["discounts"] = [{k: v for k, v in d.items() if v} for d in cs["discounts"]]
    sub = hosted.api("POST", "/v1/subscriptions", params)
    inv = hosted.api("GET", f"/v1/invoices/{sub['latest_invoice']}")
    discount = sum(d["amount"] for d in inv["total_discount_amounts"])
    tax = sum(t["amount"] for t in inv["total_taxes"] if t["tax_behavior"] == "exclusive")
    return {"customer": customer, "subscription": sub["id"], "invoice": inv["id"], "customer_details": details,
            "payment_status": "paid" if inv["amount_paid"] > 0 else "no_payment_required",
            "amount_subtotal": inv["subtotal"], "amount_total": inv["total"],
            "total_details": {"amount_discount": discount, "amount_shipping": 0, "amount_tax": tax}}


def _pay(hosted: Hosted, cs: dict[str, Any], private: dict[str, Any], values: dict[str, str], card: str,
         details: dict[str, Any]) -> dict[str, Any]:
    customer = cs["customer"] or (_customer(hosted, cs, private, values) if cs["customer_creation"] == "always"
                                  else None)
    if not cs["amount_total"]:          # a 100% discount: nothing to charge
        return {"customer": customer, "payment_status": "no_payment_required", "customer_details": details}
    pi_id = private.get("payment_intent")
    if pi_id is None:
        data = private.get("payment_intent_data") or {}
        params = {"amount": cs["amount_total"], "currency": cs["currency"], "customer": customer,
                  "metadata": data.get("metadata") or {}, "description": data.get("description"),
                  "setup_future_usage": data.get("setup_future_usage") if customer else None,
                  "receipt_email": data.get("receipt_email") or details["email"],
                  "statement_descriptor": data.get("statement_descriptor")}
        pi_id = hosted.api("POST", "/v1/payment_intents", params)["id"]
        hosted.run(lambda: sessions.remember(hosted.em, cs["id"], payment_intent=str(pi_id)))
    hosted.api("POST", f"/v1/payment_intents/{pi_id}/confirm", {"payment_method": card})
    return {"customer": customer, "payment_intent": pi_id, "payment_status": "paid", "customer_details": details}


ROUTES = [
    ("GET", r"/checkout/(?P<id>cs_test_[A-Za-z0-9]+)", show),
    ("POST", r"/checkout/(?P<id>cs_test_[A-Za-z0-9]+)", submit),
]
