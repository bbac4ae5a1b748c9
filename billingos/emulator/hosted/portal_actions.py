"""The portal's task pages: cancel (with reasons and a retention offer), renew, change plan, confirm a
prepared change, add / make default / remove a card, update billing information. Each POST checks the
session's form token, that the feature is enabled and that the object is the session customer's."""

from __future__ import annotations

from typing import Any

from ..errors import StripeError
from ..resources.billing_portal import CANCEL_REASONS
from . import html
from .core import Hosted, PageRequest, PageResponse, not_found
from .html import e
from .portal import Portal, finish, home, load, page, plan_line, url

_REASON_LABELS = {"customer_service": "Customer service was less than expected", "low_quality": "Quality was less "
                  "than expected", "missing_features": "Some features are missing", "other": "Other reason",
                  "switched_service": "I'm switching to a different service", "too_complex": "Ease of use was less "
                  "than expected", "too_expensive": "It's too expensive", "unused": "I don't use the service enough"}


def _open(hosted: Hosted, req: PageRequest) -> Portal | PageResponse:
    portal = load(hosted, req.args["id"])
    if portal is None:
        return not_found()
    if isinstance(portal, PageResponse):
        return portal
    if req.method == "POST" and not hosted.token_ok(portal.session["id"], req.form.get("token")):
        return PageResponse(403, html.message_page("This form has expired", "Reload the page and try again."))
    return portal


def _sub(portal: Portal, req: PageRequest, feature: str) -> dict[str, Any] | PageResponse:
    sub = portal.subscription(req.args["sub"])
    if sub is None:
        return not_found()
    if not portal.features[feature]["enabled"] and not _flow_allows(portal, sub["id"]):
        return PageResponse(403, html.message_page("Not available", "This portal does not allow that change."))
    return sub


def _flow_allows(portal: Portal, sub_id: str) -> bool:
    flow = portal.session.get("flow") or {}
    confirm = flow.get("subscription_update_confirm") or {}
    return flow.get("type") == "subscription_update_confirm" and confirm.get("subscription") == sub_id


def _try(fn: Any) -> str | None:
    """Run an API change; a 4xx becomes the message to show."""
    try:
        fn()
    except StripeError as err:
        if err.status >= 500:
            raise
        return err.message
    return None


# --- cancel, retention offer, renew ------------------------------------------------------------------
def _retention(portal: Portal, sub_id: str) -> str | None:
    flow = portal.session.get("flow") or {}
    cancel = flow.get("subscription_cancel") or {}
    if flow.get("type") == "subscription_cancel" and cancel.get("subscription") == sub_id and cancel.get("retention"):
        return str(cancel["retention"]["coupon_offer"]["coupon"])
    return None


def cancel_page(hosted: Hosted, req: PageRequest, error: str | None = None) -> PageResponse:
    portal = _open(hosted, req)
    if isinstance(portal, PageResponse):
        return portal
    sub = _sub(portal, req, "subscription_cancel")
    if isinstance(sub, PageResponse):
        return sub
    token = hosted.token(portal.session["id"])
    feature = portal.features["subscription_cancel"]
    when = "at the end of the billing period" if feature["mode"] == "at_period_end" else "now"
    inner = ""
    reasons = feature["cancellation_reason"]
    if reasons["enabled"] and reasons["options"]:
        radios = "".join(f'<div class="choice"><input type="radio" name="reason" id="r-{e(o)}" value="{e(o)}">'
                         f'<label for="r-{e(o)}">{e(_REASON_LABELS.get(o, o))}</label></div>'
                         for o in reasons["options"])
        inner = f"<fieldset><legend>Why are you canceling? (optional)</legend>{radios}</fieldset>"
    body = f"<section><p>{e(plan_line(sub))}</p><p>Your plan will be canceled {e(when)}.</p>"
    body += html.post_form(url(hosted, portal, f"/subscriptions/{sub['id']}/cancel"), token, inner, "Cancel plan",
                           button_class="danger") + "</section>"
    coupon_id = _retention(portal, sub["id"])
    if coupon_id:
        coupon = hosted.find(coupon_id)
        off = f"{coupon['percent_off']:g}% off" if coupon.get("percent_off") is not None else \
            f"{html.money(coupon.get('amount_off'), coupon.get('currency'))} off"
        body += (f"<section><h2>Before you go</h2><p>Stay and get {e(off)}.</p>"
                 + html.post_form(url(hosted, portal, f"/subscriptions/{sub['id']}/retention"), token, "",
                                  "Accept offer") + "</section>")
    return page("Cancel your plan", portal, hosted, body, error=error, status=400 if error else 200)


def cancel(hosted: Hosted, req: PageRequest) -> PageResponse:
    portal = _open(hosted, req)
    if isinstance(portal, PageResponse):
        return portal
    sub = _sub(portal, req, "subscription_cancel")
    if isinstance(sub, PageResponse):
        return sub
    feature = portal.features["subscription_cancel"]
    reason = req.form.get("reason") or None
    if reason is not None and reason not in CANCEL_REASONS:
        return cancel_page(hosted, req, "Choose one of the listed reasons.")
    details = {"feedback": reason} if reason else {}
    if feature["mode"] == "at_period_end":
        params: dict[str, Any] = {"cancel_at_period_end": True, "cancellation_details": details}
        problem = _try(lambda: hosted.api("POST", f"/v1/subscriptions/{sub['id']}", params))
        notice = "cancel_scheduled"
    else:
        proration = feature["proration_behavior"]
        params = {"prorate": proration != "none", "invoice_now": proration == "always_invoice",
                  "cancellation_details": details}
        problem = _try(lambda: hosted.api("DELETE", f"/v1/subscriptions/{sub['id']}", params))
        notice = "canceled"
    return cancel_page(hosted, req, problem) if problem else finish(hosted, portal, notice)


def accept_offer(hosted: Hosted, req: PageRequest) -> PageResponse:
    portal = _open(hosted, req)
    if isinstance(portal, PageResponse):
        return portal
    coupon = _retention(portal, req.args["sub"])
    if portal.subscription(req.args["sub"]) is None or coupon is None:
        return not_found()
    problem = _try(lambda: hosted.api("POST", f"/v1/subscriptions/{req.args['sub']}",
                                      {"discounts": [{"coupon": coupon}]}))
    return cancel_page(hosted, req, problem) if problem else finish(hosted, portal, "offer_accepted")


def renew(hosted: Hosted, req: PageRequest) -> PageResponse:
    portal = _open(hosted, req)
    if isinstance(portal, PageResponse):
        return portal
    sub = _sub(portal, req, "subscription_cancel")
    if isinstance(sub, PageResponse):
        return sub
    problem = _try(lambda: hosted.api("POST", f"/v1/subscriptions/{sub['id']}", {"cancel_at_period_end": False}))
    if problem:
        return page("Renew your plan", portal, hosted, "", error=problem, status=400)
    return finish(hosted, portal, "renewed")


# --- change plan -----------------------------------------------------------------------------------------
def _choices(hosted: Hosted, portal: Portal) -> list[dict[str, Any]]:
    ids = [pid for prod in portal.features["subscription_update"]["products"] for pid in prod["prices"]]
    return hosted.read(lambda: [dict(hosted.em.store.objects[i]) for i in ids if i in hosted.em.store.objects])


def update_page(hosted: Hosted, req: PageRequest, error: str | None = None) -> PageResponse:
    portal = _open(hosted, req)
    if isinstance(portal, PageResponse):
        return portal
    sub = _sub(portal, req, "subscription_update")
    if isinstance(sub, PageResponse):
        return sub
    if len(sub["items"]["data"]) != 1:
        return page("Update your plan", portal, hosted, "<p>Plans with several items cannot be changed here.</p>")
    item = sub["items"]["data"][0]
    rows = []
    for i, price in enumerate(_choices(hosted, portal)):
        prod = hosted.find(price["product"])
        amount = html.money(price.get("unit_amount"), price["currency"])
        label = f"{prod.get('name') or price.get('nickname') or 'Plan'}: {amount} {html.interval(price)}"
        checked = " checked" if price["id"] == item["price"]["id"] else ""
        rows.append(f'<div class="choice"><input type="radio" name="price" id="p-{i}" value="{e(price["id"])}"'
                    f'{checked} required><label for="p-{i}">{e(label)}</label></div>')
    inner = f"<fieldset><legend>Choose a plan</legend>{''.join(rows)}</fieldset>"
    if "quantity" in portal.features["subscription_update"]["default_allowed_updates"]:
        inner += ('<label for="quantity">Quantity</label><input type="text" inputmode="numeric" id="quantity" '
                  f'name="quantity" value="{e(item.get("quantity") or 1)}" pattern="[0-9]{{1,4}}">')
    form = html.post_form(url(hosted, portal, f"/subscriptions/{sub['id']}/update"), hosted.token(portal.session["id"]),
                          inner, "Update plan")
    return page("Update your plan", portal, hosted, f"<section><p>Now: {e(plan_line(sub))}</p>{form}</section>",
                error=error, status=400 if error else 200)


def update(hosted: Hosted, req: PageRequest) -> PageResponse:
    portal = _open(hosted, req)
    if isinstance(portal, PageResponse):
        return portal
    sub = _sub(portal, req, "subscription_update")
    if isinstance(sub, PageResponse):
        return sub
    price = req.form.get("price", "")
    if price not in {p["id"] for p in _choices(hosted, portal)} or len(sub["items"]["data"]) != 1:
        return update_page(hosted, req, "Choose one of the listed plans.")
    item: dict[str, Any] = {"id": sub["items"]["data"][0]["id"], "price": price}
    if "quantity" in portal.features["subscription_update"]["default_allowed_updates"]:
        raw = req.form.get("quantity", "1")
        if not raw.isdigit() or not 1 <= int(raw) <= 9999:
            return update_page(hosted, req, "Enter a quantity between 1 and 9999.")
        item["quantity"] = int(raw)
    params = {"items": [item], "proration_behavior": portal.features["subscription_update"]["proration_behavior"]}
    problem = _try(lambda: hosted.api("POST", f"/v1/subscriptions/{sub['id']}", params))
    return update_page(hosted, req, problem) if problem else finish(hosted, portal, "updated")


def confirm_page(hosted: Hosted, req: PageRequest, error: str | None = None) -> PageResponse:
    portal = _open(hosted, req)
    if isinstance(portal, PageResponse):
        return portal
    sub = portal.subscription(req.args["sub"])
    if sub is None or not _flow_allows(portal, sub["id"]):
        return not_found()
    changes = portal.session["flow"]["subscription_update_confirm"]
    lines = []
    for item in changes["items"]:
        price = hosted.find(item["price"])
        what = f"{html.money(price.get('unit_amount'), price.get('currency'))} {html.interval(price)}" if price else ""
        qty = f", quantity {item['quantity']}" if item.get("quantity") else ""
        lines.append(f"<li>{e(what)}{e(qty)}</li>")
    form = html.post_form(url(hosted, portal, f"/subscriptions/{sub['id']}/confirm_update"),
                          hosted.token(portal.session["id"]), "", "Confirm")
    body = f"<section><p>Now: {e(plan_line(sub))}</p><p>New:</p><ul>{''.join(lines)}</ul>{form}</section>"
    return page("Confirm your plan change", portal, hosted, body, error=error, status=400 if error else 200)


def confirm_update(hosted: Hosted, req: PageRequest) -> PageResponse:
    portal = _open(hosted, req)
    if isinstance(portal, PageResponse):
        return portal
    sub = portal.subscription(req.args["sub"])
    if sub is None or not _flow_allows(portal, sub["id"]):
        return not_found()
    changes = portal.session["flow"]["subscription_update_confirm"]
    params: dict[str, Any] = {"items": [{k: v for k, v in i.items() if v is not None} for i in changes["items"]],
                              "proration_behavior": portal.features["subscription_update"]["proration_behavior"]}
    if changes.get("discounts"):
        params["discounts"] = [{k: v for k, v in d.items() if v} for d in changes["discounts"]]
    problem = _try(lambda: hosted.api("POST", f"/v1/subscriptions/{sub['id']}", params))
    return confirm_page(hosted, req, problem) if problem else finish(hosted, portal, "updated")


# --- payment methods -----------------------------------------------------------------------------------
def _cards_allowed(portal: Portal) -> bool:
    flow = portal.session.get("flow") or {}
    return bool(portal.features["payment_method_update"]["enabled"] or flow.get("type") == "payment_method_update")


def card_page(hosted: Hosted, req: PageRequest, error: str | None = None, selected: str | None = None) -> PageResponse:
    portal = _open(hosted, req)
    if isinstance(portal, PageResponse):
        return portal
    if not _cards_allowed(portal):
        return not_found()
    inner = html.card_picker(selected) + ('<div class="choice"><input type="checkbox" id="default" name="default" '
                                          'value="1" checked><label for="default">Use as default payment method'
                                          "</label></div>")
    form = html.post_form(url(hosted, portal, "/payment_methods/new"), hosted.token(portal.session["id"]), inner,
                          "Add card")
    return page("Add a payment method", portal, hosted, f"<section>{form}</section>", error=error,
                status=402 if error else 200)


def _set_default(hosted: Hosted, portal: Portal, pm_id: str) -> None:
    settings = {"invoice_settings": {"default_payment_method": pm_id}}
    hosted.api("POST", f"/v1/customers/{portal.customer['id']}", settings)
    for sub in portal.subscriptions:           # as Stripe's portal: live subscriptions follow the new default
        if sub.get("default_payment_method"):
            hosted.api("POST", f"/v1/subscriptions/{sub['id']}", {"default_payment_method": pm_id})


def add_card(hosted: Hosted, req: PageRequest) -> PageResponse:
    portal = _open(hosted, req)
    if isinstance(portal, PageResponse):
        return portal
    if not _cards_allowed(portal):
        return not_found()
    card = req.form.get("card", "")
    if card not in html.CARD_TOKENS:
        return card_page(hosted, req, "Choose one of the test cards.")
    make_default = req.form.get("default") == "1" or not portal.default_card
    with hosted.submitting():
        try:
            seti = hosted.api("POST", "/v1/setup_intents", {"customer": portal.customer["id"], "payment_method": card,
                                                             "confirm": True, "usage": "off_session"})
            if make_default:
                _set_default(hosted, portal, seti["payment_method"])
        except StripeError as err:
            if err.status >= 500:
                raise
            return card_page(hosted, req, err.message, card)
    return finish(hosted, portal, "card_added")


def make_default(hosted: Hosted, req: PageRequest) -> PageResponse:
    portal = _open(hosted, req)
    if isinstance(portal, PageResponse):
        return portal
    if not _cards_allowed(portal) or portal.card(req.args["pm"]) is None:
        return not_found()
    problem = _try(lambda: _set_default(hosted, portal, req.args["pm"]))
    if problem:
        return page("Payment methods", portal, hosted, "", error=problem, status=400)
    return finish(hosted, portal, "default_set")


def remove_card(hosted: Hosted, req: PageRequest) -> PageResponse:
    portal = _open(hosted, req)
    if isinstance(portal, PageResponse):
        return portal
    if not _cards_allowed(portal) or portal.card(req.args["pm"]) is None:
        return not_found()
    if portal.in_use(req.args["pm"]):
        return page("Payment methods", portal, hosted, "", status=400,
                    error="This card pays for an active plan; add another and make it the default first.")
    problem = _try(lambda: hosted.api("POST", f"/v1/payment_methods/{req.args['pm']}/detach"))
    if problem:
        return page("Payment methods", portal, hosted, "", error=problem, status=400)
    return finish(hosted, portal, "card_removed")


# --- billing information ---------------------------------------------------------------------------------
_ADDRESS = (("line1", "Address line 1"), ("line2", "Address line 2"), ("city", "City"), ("state", "State or region"),
            ("postal_code", "Postal code"), ("country", "Country (two-letter code)"))


def customer_page(hosted: Hosted, req: PageRequest, error: str | None = None,
                  values: dict[str, str] | None = None) -> PageResponse:
    portal = _open(hosted, req)
    if isinstance(portal, PageResponse):
        return portal
    allowed = portal.features["customer_update"]["allowed_updates"] if portal.features["customer_update"]["enabled"] \
        else []
    if not allowed:
        return not_found()
    c, v = portal.customer, values or {}
    fields = []
    for key, label, kind in (("name", "Name", "text"), ("email", "Email", "email"), ("phone", "Phone", "text")):
        if key in allowed:
            fields.append(f'<label for="{key}">{label}</label><input type="{kind}" id="{key}" name="{key}" '
                          f'maxlength="200" value="{e(v.get(key, c.get(key) or ""))}">')
    if "address" in allowed:
        addr = c.get("address") or {}
        for key, label in _ADDRESS:
            fields.append(f'<label for="a-{key}">{e(label)}</label><input type="text" id="a-{key}" name="address_{key}"'
                          f' maxlength="200" value="{e(v.get("address_" + key, addr.get(key) or ""))}">')
    form = html.post_form(url(hosted, portal, "/customer"), hosted.token(portal.session["id"]), "".join(fields), "Save")
    return page("Billing information", portal, hosted, f"<section>{form}</section>", error=error,
                status=400 if error else 200)


def update_customer(hosted: Hosted, req: PageRequest) -> PageResponse:
    portal = _open(hosted, req)
    if isinstance(portal, PageResponse):
        return portal
    cu = portal.features["customer_update"]
    allowed = cu["allowed_updates"] if cu["enabled"] else []
    if not allowed:
        return not_found()
    params: dict[str, Any] = {}
    for key in ("name", "email", "phone"):
        if key in allowed and key in req.form:
            params[key] = req.form[key].strip()
    if "address" in allowed:
        params["address"] = {key: req.form.get(f"address_{key}", "").strip() for key, _ in _ADDRESS}
    fields = [*params.items(), *params.get("address", {}).items()]
    too_long = [k for k, v in fields if isinstance(v, str) and len(v) > 200]
    if too_long:
        return customer_page(hosted, req, f"{too_long[0].replace('_', ' ').capitalize()} is too long (200 "
                             "characters at most).", req.form)
    if "email" in params and not params["email"]:
        return customer_page(hosted, req, "Enter an email address.", req.form)
    problem = _try(lambda: hosted.api("POST", f"/v1/customers/{portal.customer['id']}", params))
    return customer_page(hosted, req, problem, req.form) if problem else finish(hosted, portal, "details_saved")


# --- the portal's routes (its home page lives in portal.py) ---------------------------------------
def _routes() -> list[tuple[str, str, Any]]:
    base = r"/billing_portal/(?P<id>bps_[A-Za-z0-9]+)"
    sub = base + r"/subscriptions/(?P<sub>sub_[A-Za-z0-9]+)"
    pm = base + r"/payment_methods/(?P<pm>pm_[A-Za-z0-9]+)"
    return [
        ("GET", base, home),
        ("GET", sub + "/cancel", cancel_page), ("POST", sub + "/cancel", cancel),
        ("POST", sub + "/retention", accept_offer), ("POST", sub + "/renew", renew),
        ("GET", sub + "/update", update_page), ("POST", sub + "/update", update),
        ("GET", sub + "/confirm_update", confirm_page), ("POST", sub + "/confirm_update", confirm_update),
        ("GET", base + "/payment_methods/new", card_page), ("POST", base + "/payment_methods/new", add_card),
        ("POST", pm + "/default", make_default), ("POST", pm + "/remove", remove_card),
        ("GET", base + "/customer", customer_page), ("POST", base + "/customer", update_customer),
    ]


ROUTES = _routes()
