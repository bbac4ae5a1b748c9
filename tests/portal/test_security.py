"""The portal's security promises, through both adapters: other owners' ids are 404 on every route, every
POST needs a valid CSRF token (and changes nothing without one), return URLs stay on allowed origins, and
nobody logged in gets a 401 (or the host's login redirect), never a page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from billingos import Billing
from billingos.models import metadata
from billingos.pages import safe_return_url

from .conftest import OTHER, OWNER, Portal, customer_with_card

EVIL = ["//evil.example", "/\\evil.example", "https:evil.example", "https://evil.example",
        "javascript:alert(1)", "https://evil.example/billing/portal/", "http://app.example.com@evil.example/",
        "/\tevil", " https://app.example.com/x", "JAVASCRIPT:alert(1)", "//app.example.com"]


def _all_routes(portal: Portal) -> list[tuple[str, str]]:
    """(method, path template) of every portal page route, read from the app's own route table."""
    out = []
    if portal.kind == "flask":
        for rule in portal.app.url_map.iter_rules():
            if "/portal" in rule.rule:
                path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
                out += [(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}]
    else:
        for route in portal.router.routes:
            if "/portal" in getattr(route, "path", ""):
                out += [(m, route.path) for m in route.methods - {"HEAD"}]
    return sorted(out)


def _world(billing: Billing) -> dict[str, str]:
    """Owner A with a plan and a card; owner B with a plan, two cards and invoices. Returns B's ids."""
    a = customer_with_card(billing, OWNER)
    billing.subscriptions.create(a, price="basic_monthly")
    b = customer_with_card(billing, OTHER)
    billing.subscriptions.create(b, price="pro_monthly")
    pm = billing.stripe.v1.payment_methods.attach("pm_card_mastercard", params={"customer": b.id})
    billing.payment_methods.sync(pm)
    return {"invoice_id": billing.invoices.list(OTHER)[0].id, "payment_method_id": pm.id}


def _snapshot(billing: Billing) -> Any:
    with billing.session_factory() as s:
        tables = {t.name: sorted(map(repr, s.execute(select(t)).all())) for t in metadata.sorted_tables
                  if t.name not in ("billing_locks",)}
    return tables, len(billing.emulator.store.objects)


def test_every_route_with_another_owners_ids_is_404(portal: Portal) -> None:
    theirs = _world(portal.billing)
    routes = _all_routes(portal)
    with_ids = [(m, p) for m, p in routes if "{" in p]
    assert len(with_ids) == 4, routes          # invoice, its PDF, make a card default, remove a card
    before = _snapshot(portal.billing)
    for method, template in with_ids:
        path = template.format(**theirs)
        answer = portal.get(path) if method == "GET" else portal.submit(path, {})
        assert answer.status == 404, (method, path, answer.status, answer.text[:200])
        assert "Page not found" in answer.text
        assert theirs["invoice_id"] not in answer.text and "Mastercard" not in answer.text
    assert _snapshot(portal.billing) == before
    pdf = portal.get(f"/billing/portal/invoices/{theirs['invoice_id']}/pdf")
    assert pdf.status == 404 and not pdf.body.startswith(b"%PDF")


@pytest.mark.parametrize("token", ["missing", "empty", "forged", "other browser"])
def test_every_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(portal: Portal, token: str) -> None:
    ids = _world(portal.billing)
    mine = portal.billing.payment_methods.list(OWNER)[0].id
    other = Portal(portal.kind, portal.billing)          # another browser: its own cookie, its own tokens
    values = {"missing": None, "empty": "", "forged": "x" * 40, "other browser": other.token()}[token]
    posts = [p for m, p in _all_routes(portal) if m == "POST"]
    assert len(posts) >= 6, posts
    portal.token()                                         # this browser has its cookie
    before = _snapshot(portal.billing)
    sent = len(portal.billing.emulator.request_log)
    for template in posts:
        path = template.format(invoice_id=ids["invoice_id"], payment_method_id=mine)
        data = {"price": "pro_monthly", "when": "now", "feedback": "other"}
        if values is not None:
            data["csrf_token"] = values
        answer = portal.post(path, data)
        assert answer.status == 403, (path, answer.status, answer.text[:200])
        assert "This form has expired" in answer.text
    assert _snapshot(portal.billing) == before
    assert [r for r in portal.billing.emulator.request_log[sent:] if r[0] != "GET"] == []


@pytest.mark.parametrize("bad", EVIL)
def test_bad_return_urls_are_refused(portal: Portal, bad: str) -> None:
    assert safe_return_url(bad, ["https://app.example.com"]) is None
    customer_with_card(portal.billing)
    page = portal.get("/billing/portal/payment-methods?next=" + _quote(bad))
    assert page.status == 200 and 'name="next"' not in page.html
    back = portal.get("/billing/portal/payment-methods/added?setup_intent=seti_nope&next=" + _quote(bad))
    assert "evil" not in back.location and "javascript" not in back.location.lower()


def test_good_return_urls_are_kept() -> None:
    origins = ["https://app.example.com"]
    assert safe_return_url("/account?tab=billing", origins) == "/account?tab=billing"
    assert safe_return_url("https://app.example.com/account", origins) == "https://app.example.com/account"
    assert safe_return_url("HTTPS://APP.EXAMPLE.COM/x", origins) == "HTTPS://APP.EXAMPLE.COM/x"   # same origin
    assert safe_return_url("https://app.example.com.evil.example/", origins) is None


def test_a_host_option_pointing_elsewhere_is_refused(pbilling: Billing) -> None:
    from billingos import ConfigurationError
    for bad in ("//evil.example", "https://evil.example/back", "javascript:alert(1)"):
        with pytest.raises(ConfigurationError, match="return_url"):
            Portal("fastapi", pbilling, return_url=bad)


def test_nobody_logged_in_gets_401_on_every_route(portal: Portal) -> None:
    ids = _world(portal.billing)
    mine = portal.billing.payment_methods.list(OWNER)[0].id
    for method, template in _all_routes(portal):
        path = template.format(invoice_id=ids["invoice_id"], payment_method_id=mine)
        answer = portal.get(path, owner=None) if method == "GET" else portal.post(
            path, {"csrf_token": portal.token()}, owner=None)
        assert answer.status == 401, (method, path, answer.status)
        assert "Please log in" in answer.text and "Visa" not in answer.text


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_nobody_logged_in_goes_to_the_hosts_login_page(pbilling: Billing, kind: str) -> None:
    portal = Portal(kind, pbilling, login_url="/login")
    answer = portal.get("/billing/portal/invoices", owner=None)
    assert answer.status == 302 and answer.location.endswith("/login?next=%2Fbilling%2Fportal%2Finvoices")


def test_csrf_cookie_is_lax_and_http_only(portal: Portal) -> None:
    answer = portal.get("/billing/portal/", owner=None)
    cookie = answer.headers.get("set-cookie", "")
    assert "billingos_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert answer.headers["x-frame-options"] == "DENY" and answer.headers["cache-control"] == "no-store"


def _quote(value: str) -> str:
    from urllib.parse import quote
    return quote(value, safe="")


def test_without_a_secret_key_the_emulator_mount_does_not_sign_with_its_public_key(billing: Billing) -> None:
    """The emulator's API key is published in the docs: a CSRF secret derived from it could be forged."""
    import hashlib
    import hmac

    from billingos.pages.mount import mount_pages
    from billingos.pages.safety import Csrf

    public = hmac.new(billing.config.api_key.encode(), b"billingos.pages.csrf", hashlib.sha256).hexdigest()
    browser = Csrf.new_id()
    forged = Csrf(public).token(browser)
    first = mount_pages(billing, prefix="/billing", render=lambda name, data: name)
    second = mount_pages(billing, prefix="/billing", render=lambda name, data: name)
    assert not first.csrf.valid(browser, forged)
    assert not second.csrf.valid(browser, forged)
    assert first.csrf.valid(browser, first.csrf.token(browser))
    assert not second.csrf.valid(browser, first.csrf.token(browser))      # a random key per mount
