"""The Billing Portal stand-in: ``/billing_portal/{bps_id}`` and its task pages.

The home page shows what the session's configuration enables: plans (cancel, renew, change),
payment methods (add with a test card, make default, remove), billing information, invoice history,
and a link back to ``return_url``. With ``flow_data`` the session opens on that one task and, once done,
follows ``after_completion``. The task pages live in ``portal_actions.py``; every change goes through
the emulator's API. A session's pages work for an hour of emulator time.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..resources.billing_portal import SESSION_SECONDS
from . import html
from .core import PageRequest, PageResponse, not_found
from .html import e

if TYPE_CHECKING:
    from .core import Hosted

LIVE = ("active", "trialing", "past_due", "unpaid", "incomplete", "paused")
NOTICES = {
    "cancel_scheduled": "Your plan will be canceled at the end of the billing period.",
    "canceled": "Your plan has been canceled.",
    "renewed": "Your plan will renew as usual.",
    "updated": "Your plan has been updated.",
    "offer_accepted": "The offer has been applied to your plan.",
    "card_added": "Your card has been added.",
    "default_set": "Your default payment method has been updated.",
    "card_removed": "The card has been removed.",
    "details_saved": "Your billing information has been saved.",
}


@dataclass
class Portal:
    """One portal session's view of the emulator (copies, read under the lock)."""

    session: dict[str, Any]
    config: dict[str, Any]
    customer: dict[str, Any]
    subscriptions: list[dict[str, Any]]
    cards: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    flow_done: bool

    @property
    def features(self) -> dict[str, Any]:
        return self.config["features"]

    def subscription(self, sid: str) -> dict[str, Any] | None:
        return next((s for s in self.subscriptions if s["id"] == sid), None)

    def card(self, pm_id: str) -> dict[str, Any] | None:
        return next((c for c in self.cards if c["id"] == pm_id), None)

    @property
    def default_card(self) -> str | None:
        """The customer's default card, else the one a plan pays with (Checkout sets it on the subscription)."""
        own = (self.customer.get("invoice_settings") or {}).get("default_payment_method")
        return own or next((s["default_payment_method"] for s in self.subscriptions
                            if s.get("default_payment_method")), None)

    def in_use(self, pm_id: str) -> bool:
        """Whether a live plan pays with ``pm_id``: it cannot be removed then."""
        return bool(self.subscriptions) and (pm_id == self.default_card or any(
            s.get("default_payment_method") == pm_id for s in self.subscriptions))


def load(hosted: Hosted, oid: str) -> Portal | PageResponse | None:
    em = hosted.em

    def read() -> Portal | PageResponse | None:
        session = em.store.find(oid)
        if session is None or session.get("object") != "billing_portal.session":
            return None
        cust = em.store.find(session["customer"])
        if cust is None:
            return None
        if em.now(session) > session["created"] + SESSION_SECONDS:
            link = (session["return_url"], "Return to the site") if session.get("return_url") else None
            return PageResponse(410, html.message_page("This session has expired",
                                                       "Open the billing portal again from the site.", link=link))
        subs = [copy.deepcopy(s) for s in em.store.all("subscription")
                if s["customer"] == cust["id"] and s["status"] in LIVE]
        for sub in subs:
            for item in sub["items"]["data"]:
                prod = em.store.objects.get(item["price"].get("product") or "") or {}
                item["_product_name"] = prod.get("name") or item["price"].get("nickname") or "Plan"
        cards = [copy.deepcopy(pm) for pm in em.store.all("payment_method") if pm["customer"] == cust["id"]]
        invoices = [copy.deepcopy(i) for i in reversed(em.store.all("invoice"))
                    if i["customer"] == cust["id"] and i["status"] != "draft"][:24]
        done = oid in em.state.portal_flows_done
        return Portal(copy.deepcopy(session), copy.deepcopy(em.store.objects[session["configuration"]]),
                      copy.deepcopy(cust), subs, cards, invoices, done)

    return hosted.read(read)


def url(hosted: Hosted, portal: Portal, path: str = "") -> str:
    return hosted.url(f"/billing_portal/{portal.session['id']}{path}")


def page(title: str, portal: Portal, hosted: Hosted, body: str, *, error: str | None = None,
         status: int = 200, home_link: bool = True) -> PageResponse:
    back = ""
    if home_link:
        back = f'<p><a href="{e(url(hosted, portal))}">Back to billing</a></p>'
    return PageResponse(status, html.layout(title, f"<h1>{e(title)}</h1>{html.alert(error)}{body}{back}"))


def finish(hosted: Hosted, portal: Portal, notice: str) -> PageResponse:
    """After a task: the flow's after_completion, else back home with a notice."""
    flow = portal.session.get("flow")
    if flow and not portal.flow_done:
        hosted.run(lambda: hosted.em.state.portal_flows_done.add(portal.session["id"]))
        after = flow["after_completion"]
        if after["type"] == "redirect":
            return PageResponse(303, location=after["redirect"]["return_url"])
        if after["type"] == "hosted_confirmation":
            message = (after.get("hosted_confirmation") or {}).get("custom_message") or NOTICES[notice]
            ret = portal.session.get("return_url")
            link = f'<p><a href="{e(ret)}">Return to the site</a></p>' if ret else ""
            return PageResponse(200, html.layout("Done", f"<h1>Done</h1><p>{e(message)}</p>{link}"))
    return PageResponse(303, location=f"{url(hosted, portal)}?notice={notice}")


def _flow_start(hosted: Hosted, portal: Portal) -> PageResponse | None:
    flow = portal.session.get("flow")
    if not flow or portal.flow_done:
        return None
    kind = flow["type"]
    if kind == "payment_method_update":
        return PageResponse(303, location=url(hosted, portal, "/payment_methods/new"))
    sub = (flow.get(kind) or {}).get("subscription")
    action = {"subscription_cancel": "cancel", "subscription_update": "update",
              "subscription_update_confirm": "confirm_update"}[kind]
    return PageResponse(303, location=url(hosted, portal, f"/subscriptions/{sub}/{action}"))


def plan_line(sub: dict[str, Any]) -> str:
    parts = []
    for item in sub["items"]["data"]:
        price = item["price"]
        qty = f"{item['quantity']} × " if (item.get("quantity") or 1) != 1 else ""
        amount = html.money(price.get("unit_amount"), price["currency"])
        parts.append(f"{qty}{item['_product_name']}: {amount} {html.interval(price)}".strip())
    return "; ".join(parts)


def _status_line(sub: dict[str, Any]) -> str:
    end = sub["items"]["data"][0].get("current_period_end") if sub["items"]["data"] else None
    if sub["status"] == "trialing":
        return f"Trial ends on {html.date(sub.get('trial_end'))}."
    if sub.get("cancel_at_period_end") or sub.get("cancel_at"):
        return f"Cancels on {html.date(sub.get('cancel_at') or end)}."
    if sub["status"] in ("past_due", "unpaid"):
        return "Payment is past due. Update your payment method."
    return f"Renews on {html.date(end)}." if end else ""


def _plans(hosted: Hosted, portal: Portal) -> str:
    if not portal.subscriptions:
        return "<section><h2>Current plan</h2><p>You have no active plan.</p></section>"
    token = hosted.token(portal.session["id"])
    blocks = []
    for sub in portal.subscriptions:
        actions = []
        if portal.features["subscription_update"]["enabled"] and len(sub["items"]["data"]) == 1:
            actions.append(html.button_link(url(hosted, portal, f"/subscriptions/{sub['id']}/update"), "Update plan"))
        if portal.features["subscription_cancel"]["enabled"]:
            if sub.get("cancel_at_period_end"):
                actions.append(html.post_form(url(hosted, portal, f"/subscriptions/{sub['id']}/renew"), token, "",
                                              "Renew plan", css="inline"))
            else:
                actions.append(html.button_link(url(hosted, portal, f"/subscriptions/{sub['id']}/cancel"),
                                                "Cancel plan"))
        blocks.append(f"<section><h2>Current plan</h2><p><strong>{e(plan_line(sub))}</strong></p>"
                      f"<p>{e(_status_line(sub))}</p><div class=\"actions\">{''.join(actions)}</div></section>")
    return "".join(blocks)


def _cards(hosted: Hosted, portal: Portal) -> str:
    if not portal.features["payment_method_update"]["enabled"]:
        return ""
    token = hosted.token(portal.session["id"])
    rows = []
    for pm in portal.cards:
        card = pm.get("card") or {}
        label = f"{card.get('brand', 'card').title()} ending {card.get('last4', '')}, expires " \
                f"{card.get('exp_month')}/{card.get('exp_year')}"
        forms = []
        if pm["id"] == portal.default_card:
            label += " (default)"
        else:
            forms.append(html.post_form(url(hosted, portal, f"/payment_methods/{pm['id']}/default"), token, "",
                                        "Make default", css="inline", button_class="secondary"))
        if not portal.in_use(pm["id"]):
            forms.append(html.post_form(url(hosted, portal, f"/payment_methods/{pm['id']}/remove"), token, "",
                                        "Remove", css="inline", button_class="secondary"))
        rows.append(f"<li><p>{e(label)}</p><div class=\"actions\">{''.join(forms)}</div></li>")
    listing = f"<ul>{''.join(rows)}</ul>" if rows else "<p>No saved payment methods.</p>"
    add = html.button_link(url(hosted, portal, "/payment_methods/new"), "Add payment method", secondary=False)
    add = f"<p>{add}</p>"
    return f"<section><h2>Payment methods</h2>{listing}{add}</section>"


def _details(hosted: Hosted, portal: Portal) -> str:
    cu = portal.features["customer_update"]
    c = portal.customer
    addr = c.get("address") or {}
    address = ", ".join(str(addr[k]) for k in ("line1", "line2", "city", "state", "postal_code", "country")
                        if addr.get(k))
    rows = [("Name", c.get("name")), ("Email", c.get("email")), ("Phone", c.get("phone")), ("Address", address)]
    shown = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in rows if v)
    edit = (f'<p><a class="button secondary" href="{e(url(hosted, portal, "/customer"))}">Update information</a></p>'
            if cu["enabled"] and cu["allowed_updates"] else "")
    return f"<section><h2>Billing information</h2><dl>{shown}</dl>{edit}</section>"


def _invoices(portal: Portal) -> str:
    if not portal.features["invoice_history"]["enabled"]:
        return ""
    if not portal.invoices:
        return "<section><h2>Invoice history</h2><p>No invoices yet.</p></section>"
    rows = "".join(f"<tr><td>{e(html.short_date(i.get('effective_at') or i['created']))}</td>"
                   f"<td>{e(i.get('number'))}</td>"
                   f"<td class=\"num\">{e(html.money(i['total'], i['currency']))}</td><td>{e(i['status'])}</td></tr>"
                   for i in portal.invoices)
    return ('<section><h2>Invoice history</h2><table><thead><tr><th scope="col">Date</th><th scope="col">Number</th>'
            '<th scope="col" class="num">Amount</th><th scope="col">Status</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></section>")


def home(hosted: Hosted, req: PageRequest) -> PageResponse:
    portal = load(hosted, req.args["id"])
    if portal is None:
        return not_found()
    if isinstance(portal, PageResponse):
        return portal
    started = _flow_start(hosted, portal)
    if started is not None:
        return started
    bp = portal.config["business_profile"]
    notice = NOTICES.get(req.query.get("notice", ""))
    status = f'<div class="card" role="status"><p>{e(notice)}</p></div>' if notice else ""
    ret = portal.session.get("return_url")
    back = f'<p><a href="{e(ret)}">Return to the site</a></p>' if ret else ""
    headline = f"<p>{e(bp['headline'])}</p>" if bp.get("headline") else ""
    legal = "".join(f'<a href="{e(bp[k])}">{e(label)}</a> ' for k, label in
                    (("terms_of_service_url", "Terms of service"), ("privacy_policy_url", "Privacy policy"))
                    if bp.get(k))
    body = (f"<h1>Billing</h1>{headline}{back}{status}{_plans(hosted, portal)}{_cards(hosted, portal)}"
            f"{_details(hosted, portal)}{_invoices(portal)}"
            f"{f'<p class=note>{legal}</p>' if legal else ''}")
    return PageResponse(200, html.layout("Billing", body))
