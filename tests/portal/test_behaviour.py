"""Every portal scenario through both adapters (the ``portal`` fixture is Flask, then FastAPI)."""

from __future__ import annotations

import re

from sqlalchemy import select

from billingos import signals
from billingos.subscriptions.models import BillingCancellationFeedback

from .conftest import OWNER, Portal, customer_with_card


def _sub(portal: Portal):  # the owner's current subscription
    return portal.billing.subscriptions.list(OWNER)[-1]


def test_overview_says_trial_in_words_and_shows_the_next_invoice(portal: Portal) -> None:
    customer = customer_with_card(portal.billing)
    portal.billing.subscriptions.create(customer, price="pro_monthly", trial_days=14)
    page = portal.get("/billing/portal/")
    assert page.status == 200, page.text[:500]
    assert "Free trial until 29 Jan 2026." in page.text
    assert "Pro" in page.text and "Visa ending in 4242" in page.text
    assert "$30.00 on 29 Jan 2026" in page.text          # the upcoming invoice, as Stripe previews it
    assert "price_" not in page.html and "pro_monthly" not in page.text and "cus_" not in page.html


def test_upgrade_shows_stripes_preview_then_changes_the_plan(portal: Portal) -> None:
    billing = portal.billing
    customer = customer_with_card(billing)
    billing.subscriptions.create(customer, price="basic_monthly")
    billing.testing.advance(days=10)
    plans = portal.get("/billing/portal/plans")
    assert plans.status == 200 and "Your plan" in plans.text and "Upgrade" in plans.text
    preview = portal.get("/billing/portal/plans/preview?price=pro_monthly")
    assert preview.status == 200, preview.text[:400]
    expected = billing.subscriptions.preview_change(_sub(portal), price="pro_monthly", proration="always_invoice",
                                                    proration_date=billing.now())
    due = re.search(r"Due now \$([\d,.]+)", preview.text)
    assert due is not None and due.group(1) == f"{expected.amount_due / 100:,.2f}"
    assert expected.amount_due > 0
    done = portal.post("/billing/portal/plans/change", {"csrf_token": preview.field("csrf_token"),
                                                        "price": "pro_monthly", "stamp": preview.field("stamp")})
    assert done.status == 303 and done.location.endswith("/billing/portal/?done=changed")
    assert _sub(portal).price == "pro_monthly"
    latest = billing.invoices.list(OWNER)[0]
    assert latest.amount_due == expected.amount_due          # billed what the preview showed
    assert "Your plan was changed." in portal.follow(done).text


def test_downgrade_waits_for_the_period_end(portal: Portal) -> None:
    customer = customer_with_card(portal.billing)
    portal.billing.subscriptions.create(customer, price="pro_monthly")
    preview = portal.get("/billing/portal/plans/preview?price=basic_monthly")
    assert "Your plan changes on 15 Feb 2026. Nothing is charged now." in preview.text
    done = portal.submit("/billing/portal/plans/change", {"price": "basic_monthly"})
    assert done.location.endswith("done=scheduled")
    sub = _sub(portal)
    assert sub.price == "pro_monthly" and sub.scheduled_change is not None
    assert sub.scheduled_change.lookup_key == "basic_monthly"


def test_a_bad_promotion_code_gets_a_clear_message_and_a_good_one_discounts(portal: Portal) -> None:
    billing = portal.billing
    customer = customer_with_card(billing)
    billing.subscriptions.create(customer, price="basic_monthly")
    bad = portal.get("/billing/portal/plans/preview?price=pro_monthly&code=NOPE10")
    assert bad.status == 400 and "The promotion code NOPE10 is not valid or has expired." in bad.text
    coupon = billing.stripe.v1.coupons.create(params={"percent_off": 50, "duration": "once"})
    billing.stripe.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": coupon.id},
                                                     "code": "HALF"})
    plain = portal.get("/billing/portal/plans/preview?price=pro_monthly")
    half = portal.get("/billing/portal/plans/preview?price=pro_monthly&code=HALF")
    assert "Promotion code HALF applied" in half.text

    def due(page) -> float:
        return float(re.search(r"Due now \$([\d.]+)", page.text).group(1))
    assert due(half) < due(plain)


def test_add_a_card_on_the_test_page_then_make_default_and_remove(portal: Portal) -> None:
    billing = portal.billing
    customer_with_card(billing)
    back = portal.add_card("pm_card_mastercard")
    assert back.status == 200 and "Your card was saved." in back.text
    assert "Mastercard ending in 4444 Default" in back.text
    methods = billing.payment_methods.list(OWNER)
    assert [m.last4 for m in methods if m.default] == ["4444"] and len(methods) == 2
    visa = next(m for m in methods if m.last4 == "4242")
    done = portal.submit(f"/billing/portal/payment-methods/{visa.id}/default", {}, "/billing/portal/payment-methods")
    assert done.location.endswith("done=default_set")
    assert billing.customers.get(owner_id=OWNER).default_payment_method == visa.id
    master = next(m for m in methods if m.last4 == "4444")
    gone = portal.submit(f"/billing/portal/payment-methods/{master.id}/remove", {}, "/billing/portal/payment-methods")
    assert gone.location.endswith("done=card_removed")
    assert [m.last4 for m in billing.payment_methods.list(OWNER)] == ["4242"]


def test_a_declined_card_shows_a_clear_message_and_saves_nothing(portal: Portal) -> None:
    customer_with_card(portal.billing)
    page = portal.add_card("pm_card_chargeDeclined")
    assert page.status == 402
    assert "Your card was declined." in page.text
    assert len(portal.billing.payment_methods.list(OWNER)) == 1


def test_the_default_card_of_a_paying_plan_cannot_be_removed(portal: Portal) -> None:
    customer = customer_with_card(portal.billing)
    portal.billing.subscriptions.create(customer, price="basic_monthly")
    card = portal.billing.payment_methods.list(OWNER)[0]
    page = portal.submit(f"/billing/portal/payment-methods/{card.id}/remove", {}, "/billing/portal/payment-methods")
    assert page.status == 409 and "This card pays for your subscription." in page.text
    assert len(portal.billing.payment_methods.list(OWNER)) == 1


def test_cancel_at_period_end_with_a_reason_then_resume(portal: Portal) -> None:
    billing = portal.billing
    customer = customer_with_card(billing)
    billing.subscriptions.create(customer, price="pro_monthly")
    heard: list[dict] = []

    def on_cancel(sender, **kw) -> None:
        heard.append(kw)
    signals.subscription_cancel_requested.connect(on_cancel, sender=billing)
    form = portal.get("/billing/portal/cancel")
    assert "It's too expensive" in form.text
    done = portal.post("/billing/portal/cancel", {"csrf_token": form.field("csrf_token"), "when": "period_end",
                                                  "feedback": "too_expensive", "comment": "Pricey for a team of 2"})
    assert done.location.endswith("done=cancels")
    sub = _sub(portal)
    assert sub.cancel_at_period_end and sub.status == "active"
    stripe_sub = billing.stripe.v1.subscriptions.retrieve(sub.id)
    assert stripe_sub.cancellation_details.feedback == "too_expensive"
    with billing.session_factory() as s:
        row = s.scalars(select(BillingCancellationFeedback)).one()
    assert (row.owner_id, row.feedback, row.comment, row.at_period_end) == (OWNER, "too_expensive",
                                                                          "Pricey for a team of 2", True)
    assert [(k["feedback"], k["comment"], k["at_period_end"]) for k in heard] == [
        ("too_expensive", "Pricey for a team of 2", True)]
    overview = portal.follow(done)
    assert "Active until 15 Feb 2026, then it cancels." in overview.text
    resumed = portal.submit("/billing/portal/resume", {})
    assert resumed.location.endswith("done=resumed")
    assert not _sub(portal).cancel_at_period_end
    assert "Renews on 15 Feb 2026." in portal.follow(resumed).text
    audit = billing.audit.list(target_type="subscription").items      # the audit log names the owner
    assert [(e.action, e.actor_kind, e.actor_id, e.target_id) for e in audit] == [
        ("subscription.resume", "owner", OWNER, sub.id), ("subscription.cancel", "owner", OWNER, sub.id),
        ("subscription.create", "system", None, sub.id)]                # made by the test, not the portal
    assert all(len(e.request_id or "") == 32 and e.client_address for e in audit[:2])    # from the HTTP request


def test_cancel_now_then_a_canceled_customer_may_pick_any_plan(portal: Portal) -> None:
    billing = portal.billing
    customer = customer_with_card(billing)
    billing.subscriptions.create(customer, price="pro_monthly")
    done = portal.submit("/billing/portal/cancel", {"when": "now"}, "/billing/portal/cancel")
    assert done.location.endswith("done=canceled")
    assert _sub(portal).status == "canceled"
    plans = portal.get("/billing/portal/plans")
    assert "Choose" in plans.text and "Your previous plan has ended" in plans.text
    preview = portal.get("/billing/portal/plans/preview?price=team_monthly")
    assert "Your plan starts now" in preview.text
    started = portal.post("/billing/portal/plans/change", {"csrf_token": preview.field("csrf_token"),
                                                           "price": "team_monthly"})
    assert started.location.endswith("done=started")
    assert _sub(portal).price == "team_monthly" and _sub(portal).status == "active"


def test_invoices_list_detail_and_pdf(portal: Portal) -> None:
    billing = portal.billing
    customer = customer_with_card(billing)
    billing.subscriptions.create(customer, price="pro_monthly")
    invoice = billing.invoices.list(OWNER)[0]
    listing = portal.get("/billing/portal/invoices")
    assert listing.status == 200 and invoice.number in listing.text and "$30.00" in listing.text
    assert "15 Jan 2026" in listing.text and "Paid" in listing.text
    detail = portal.get(f"/billing/portal/invoices/{invoice.id}")
    assert detail.status == 200 and "Total $30.00" in detail.text and "Amount due $0.00" in detail.text
    pdf = portal.get(f"/billing/portal/invoices/{invoice.id}/pdf")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body.startswith(b"%PDF") and invoice.number.encode() in pdf.body
    assert f'filename="invoice-{invoice.number}.pdf"' in pdf.headers["content-disposition"]


def test_usage_page_and_its_htmx_fragment(portal: Portal) -> None:
    customer = customer_with_card(portal.billing)
    portal.billing.subscriptions.create(customer, price="pro_monthly")
    page = portal.get("/billing/portal/usage")
    assert page.status == 200 and 'hx-trigger="every 30s"' in page.html
    bars = portal.get("/billing/portal/usage/bars")
    assert bars.status == 200 and bars.html.lstrip().startswith('<section id="bos-usage"')


def test_static_assets_and_favicon_are_served(portal: Portal) -> None:
    css = portal.get("/billing/static/vendor/pico/pico.min.css", owner=None)
    assert css.status == 200 and css.headers["content-type"].startswith("text/css") and b"Pico" in css.body[:400]
    assert portal.get("/billing/static/favicon.svg", owner=None).body.startswith(b"<svg")
    assert portal.get("/billing/static/../billing.py", owner=None).status == 404
    assert portal.get("/billing/static/vendor/nope.js", owner=None).status == 404


def test_unknown_page_and_another_owners_invoice_are_the_styled_404(portal: Portal) -> None:
    page = portal.get("/billing/portal/invoices/in_nope")
    assert page.status == 404 and "Page not found" in page.text and "pico.min.css" in page.html


def test_an_upgrade_during_the_trial_charges_nothing_now_and_shows_the_first_invoice(portal: Portal) -> None:
    customer = customer_with_card(portal.billing)
    portal.billing.subscriptions.create(customer, price="basic_monthly", trial_days=14)
    preview = portal.get("/billing/portal/plans/preview?price=team_monthly")
    assert "Due now $0.00" in preview.text
    assert "Next invoice $90.00 on 29 Jan 2026" in preview.text
    done = portal.post("/billing/portal/plans/change", {"csrf_token": preview.field("csrf_token"),
                                                        "price": "team_monthly", "stamp": preview.field("stamp")})
    assert done.location.endswith("done=changed")
    sub = _sub(portal)
    assert (sub.price, sub.status) == ("team_monthly", "trialing")
    assert [i.amount_due for i in portal.billing.invoices.list(OWNER)] == [0]     # nothing billed during the trial


def test_a_host_restyles_and_rebrands_with_its_own_templates(pbilling, tmp_path) -> None:
    folder = tmp_path / "billingos"
    folder.mkdir()
    (folder / "theme.html").write_text("<style>:root { --pico-primary: #7c3aed; }</style>")
    (folder / "brand.html").write_text('<a href="/" class="bos-brand">ACME <b>Cloud</b></a>')
    (folder / "error.html").write_text("{{ title }}: our own error page")
    from .conftest import Portal
    for portal in (Portal("fastapi", pbilling, templates=str(tmp_path)), _flask_with_templates(pbilling, tmp_path)):
        page = portal.get("/billing/portal/")
        assert page.status == 200 and "--pico-primary: #7c3aed" in page.html and "ACME <b>Cloud</b>" in page.html
        assert portal.get("/billing/portal/invoices/in_nope").text == "Page not found: our own error page"


def _flask_with_templates(pbilling, folder):
    from .conftest import Portal
    portal = Portal("flask", pbilling)
    portal.app.template_folder = str(folder)       # the app's own templates come before billingos's
    portal.app.jinja_env.cache.clear() if portal.app.jinja_env.cache else None
    return portal
