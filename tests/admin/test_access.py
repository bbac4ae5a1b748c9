"""Nobody but an admin sees or changes anything under {prefix}/admin/, on either adapter: every admin route
(read from the route table and checked against both apps' own tables) answers 401 to a visitor, 403 to a
logged-in customer, the host's login redirect when it has one, and writes nothing; every admin POST needs
a valid CSRF token."""

from __future__ import annotations

import re

import pytest

from billingos.pages.admin import admin_routes

from .conftest import ADMIN, CUSTOMER, Client, World, make_client


def _paths(world: World) -> list[tuple[str, str]]:
    values = {"customer_id": world.alice.id, "subscription_id": world.subscription.id,
              "invoice_id": world.invoice.id, "event_id": world.dead_event, "key_id": world.api_key,
              "insight_id": str(_insight(world))}
    out = []
    for route in admin_routes():
        path = re.sub(r"{(\w+)}", lambda m: values[m.group(1)], route.path)
        out.extend((method, "/billing" + path) for method in route.methods)
    return out


def _insight(world: World) -> int:
    """An unread insight for the insight routes (recorded once)."""
    found = world.billing.insights.alerts(limit=1).items
    if found:
        return found[0].id
    with world.billing.session_factory.begin() as s:
        return world.billing.insights.store.record(s, kind="payment_failed", owner_id="org_alice",  # type: ignore
                                                   dedupe_key="access:1", message="Payment failed.", data={})


def _state(world: World) -> tuple[object, ...]:
    b = world.billing
    _insight(world)         # the insight routes need one, before the state is taken
    sub = b.subscriptions.get(world.subscription.id)
    return (sub.status, sub.cancel_at_period_end, sub.price, len(b.refunds.list(world.invoice.id)),
            [g.feature for g in b.entitlements.grants("org_alice")], b.webhooks.events(status="dead")[0].id,
            len(b.admin.reconcile_runs()), [(k.id, k.revoked_at) for k in b.api_keys.list(include_revoked=True)],
            len(b.audit.list().items), [(a.id, a.state, a.note) for a in b.insights.alerts().items])


def _form(path: str) -> dict[str, str]:
    return {"name": "sneaky", "scope:billing:read": "1", "when": "now", "price": "pro_monthly", "proration": "none",
            "coupon": "X", "feature": "exports", "amount": "1.00", "mode": "apply", "status": "dead",
            "queue": "webhooks", "note": "sneaky"}


def test_the_route_table_is_what_both_apps_mount(world: World) -> None:
    from flask import Flask

    from billingos_fastapi import create_router
    from billingos_flask import BillingOS
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "admin-tests-secret-key-0123456789"
    BillingOS(app, billing=world.billing)
    flask_rules = {(m, r.rule.replace("<", "{").replace(">", "}")) for r in app.url_map.iter_rules()
                   if r.rule.startswith("/billing/admin") for m in r.methods - {"HEAD", "OPTIONS"}}
    router = create_router(world.billing, secret_key="admin-tests-secret-key-0123456789")
    fastapi_rules = {(m, r.path) for r in router.routes if r.path.startswith("/billing/admin")  # type: ignore[attr-defined]
                     for m in r.methods}  # type: ignore[attr-defined]
    ours = {(m, "/billing" + r.path) for r in admin_routes() for m in r.methods}
    assert flask_rules == ours == fastapi_rules
    assert len(ours) == 41


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_nobody_but_an_admin_gets_any_admin_route(world: World, kind: str) -> None:
    before = _state(world)
    client = make_client(kind, world.billing)
    token = client.token()
    no_loader = make_client(kind, world.billing, admin_loader=False)
    with_login = make_client(kind, world.billing, login_url="/login")
    for method, path in _paths(world):
        data = {"csrf_token": token, **_form(path)}
        for who, headers, status in (("visitor", {}, 401), ("customer", CUSTOMER, 403),
                                     ("admin header ignored", {**CUSTOMER, "X-Admin": ""}, 403)):
            answer = client.get(path, headers=headers) if method == "GET" else \
                client.post(path, data, headers=headers)
            assert answer.status == status, (who, method, path, answer.status)
            assert "Admins only" in answer.text and "Alice" not in answer.text, (who, path)
        # a host without an admin_loader: nobody at all, whatever the request claims
        answer = no_loader.get(path, headers=ADMIN) if method == "GET" else no_loader.post(path, data, headers=ADMIN)
        assert answer.status == 401, (method, path)
        # a host with a login page: the visitor is sent there, with the way back
        answer = with_login.get(path, headers={}) if method == "GET" else with_login.post(path, data, headers={})
        assert answer.status == 302 and answer.location.startswith("/login?next=%2Fbilling%2Fadmin"), path
    assert _state(world) == before


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_every_admin_post_needs_a_valid_csrf_token(world: World, kind: str) -> None:
    before = _state(world)
    client = make_client(kind, world.billing)
    good = client.token()
    other = make_client(kind, world.billing).token()     # a token for another browser's cookie
    posts = [(m, p) for m, p in _paths(world) if m == "POST"]
    assert len(posts) == 18
    for _, path in posts:
        for token in (None, "", "junk", good + "x", other):
            data = _form(path) if token is None else {"csrf_token": token, **_form(path)}
            answer = client.post(path, data)
            assert answer.status == 403 and "This form has expired" in answer.text, (path, token)
    assert _state(world) == before
    # and the same request with the right token goes through (here: the refund of one dollar)
    done = client.post(f"/billing/admin/invoices/{world.invoice.id}/refund", {"csrf_token": good, "amount": "1.00"})
    assert done.status == 303
    assert [r.amount for r in world.billing.refunds.list(world.invoice.id)] == [100]


def test_admin_identity_is_shown_and_never_raw_control_characters(world: World) -> None:
    client = make_client("flask", world.billing)
    client.headers = {"X-Admin": "ops@example.com"}
    page = client.get("/billing/admin/customers")
    assert page.status == 200 and "ops@example.com" in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"


def test_client_type_is_shared(world: World) -> None:
    assert isinstance(make_client("fastapi", world.billing), Client)
