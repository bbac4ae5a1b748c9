"""Linkshelf's pages on both web apps (the ``site`` fixture: Flask, then FastAPI), over real HTTP through each
framework's test client: the same templates, the same CSRF tokens, the same refusals."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from example_app.bootstrap import reopen, seeded_app
from example_app.domain import DEMO_PASSWORD, Linkshelf, ProductError
from example_app.fastapi_app import create_app as create_fastapi_app
from example_app.models import User

from .conftest import PASSWORD, Site, login, post, signup, text, token


def _users(site: Site) -> list[User]:
    with site.shelf.sessions() as db:
        return list(db.scalars(select(User).order_by(User.id)))


def test_home_and_pricing_render_the_shared_templates(site: Site) -> None:
    client = site.client()
    home = client.get("/")
    assert home.status_code == 200 and home.headers["Content-Type"].startswith("text/html")
    assert 'href="/signup"' in home.text and 'href="/static/linkshelf.css"' in home.text
    assert "Your links, shelved." in text(home) and "Take the tour" in text(home)       # demo mode: the emulator
    pricing = client.get("/pricing")
    assert pricing.status_code == 200
    assert "Plans and prices" in text(pricing) and "$29.00 per month" in text(pricing)
    for static in ("/static/linkshelf.css", "/billing/static/billingos.css"):
        assert client.get(static).status_code == 200, static
    for page in (home, pricing, client.get("/no-such-page")):       # the same headers as billingos's pages
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self' https://js.stripe.com;" in csp and "frame-ancestors 'none'" in csp
        assert (page.headers["X-Frame-Options"], page.headers["X-Content-Type-Options"]) == ("DENY", "nosniff")


def test_signup_logs_in_and_starts_a_trial(site: Site) -> None:
    client = site.client()
    made = signup(client, "ada")
    assert made.status_code == 302 and made.headers["Location"] == "/app"
    [user] = _users(site)
    assert (user.name, user.email) == ("ada", "ada@example.com")
    [sub] = site.billing.subscriptions.list(user.owner_id)
    assert (sub.status, sub.price) == ("trialing", "pro_monthly")
    page = client.get("/app")
    assert page.status_code == 200 and "Your shelf" in text(page) and "Log out" in text(page)
    assert client.get("/billing/portal/").status_code == 200        # billingos's portal sees the same login


def test_login_with_a_wrong_password_and_logout(site: Site) -> None:
    client = site.client()
    signup(client)
    assert post(client, "/logout", page="/app").headers["Location"] == "/"
    assert client.get("/app").headers["Location"] == "/login"
    for email, password in (("ada@example.com", "wrong password"), ("nobody@example.com", PASSWORD),
                            ("ada@example.com", "x" * 300)):
        wrong = login(client, email, password)
        assert wrong.status_code == 401 and "Wrong email or password." in text(wrong)
        assert client.get("/app").status_code == 302
    ok = login(client, "ADA@example.com")
    assert ok.status_code == 302 and ok.headers["Location"] == "/app"
    assert client.get("/app").status_code == 200


@pytest.mark.parametrize("path", ["/signup", "/login", "/logout", "/app/links"])
def test_a_post_without_the_forms_token_is_refused(site: Site, path: str) -> None:
    client = site.client()
    signup(client)
    form = {"name": "Eve", "email": "eve@example.com", "password": PASSWORD, "url": "https://e.example/"}
    for sent in ({}, {"csrf_token": "forged"}, {"csrf_token": token(site.client(), "/signup")}):  # another's token
        refused = client.post(path, data={**form, **sent})
        assert refused.status_code == 400 and "security token is missing or stale" in text(refused)
    assert [u.email for u in _users(site)] == ["ada@example.com"] and client.get("/app").status_code == 200
    assert site.shelf.links(_users(site)[0]) == []


@pytest.mark.parametrize("nxt", ["%2F%2Fevil.example", "https%3A%2F%2Fevil.example%2F", "%2F%5Cevil.example",
                                 "javascript%3Aalert(1)", "%00%2F%2Fevil"])
def test_an_off_site_next_is_refused(site: Site, nxt: str) -> None:
    client = site.client()
    signup(client)
    post(client, "/logout", page="/app")
    assert client.get(f"/login?next={nxt}").status_code == 200
    evil = login(client, path=f"/login?next={nxt}")
    assert evil.status_code == 302 and evil.headers["Location"] == "/app"


def test_the_portal_sends_a_visitor_to_login_and_back(site: Site) -> None:
    client = site.client()
    signup(client)
    post(client, "/logout", page="/app")
    away = client.get("/billing/portal/invoices")
    assert away.status_code == 302 and away.headers["Location"] == "/login?next=%2Fbilling%2Fportal%2Finvoices"
    form = client.get(away.headers["Location"])
    assert 'name="next" value="/billing/portal/invoices"' in form.text
    back = post(client, "/login", page="/login", email="ada@example.com", password=PASSWORD,
                next="/billing/portal/invoices")
    assert back.headers["Location"] == "/billing/portal/invoices"


@pytest.mark.parametrize("name, email, password, message", [
    ("", "a@example.com", PASSWORD, "Enter your name"),
    ("Bob\x00", "a@example.com", PASSWORD, "Name contains control characters"),
    ("Bob", "a@example.com\x00", PASSWORD, "Enter an email"),
    ("Bob", "a" * 300 + "@example.com", PASSWORD, "Email is too long"),
    ("Bob", "a@example.com", "pass\x00word12", "control characters"),
    ("Bob\ud800", "a@example.com", PASSWORD, "could not be read"),         # not UTF-8 once encoded
])
def test_hostile_signups_get_a_400_page_and_write_nothing(site: Site, name: str, email: str, password: str,
                                                          message: str) -> None:
    client = site.client()
    form = {"csrf_token": token(client, "/signup"), "name": name, "email": email, "password": password}
    body = "&".join(f"{k}={_quote(v)}" for k, v in form.items()).encode("utf-8", "surrogatepass")
    page = client.post("/signup", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}) \
        if site.kind == "fastapi" else client.post("/signup", data=body,
                                                   content_type="application/x-www-form-urlencoded")
    assert page.status_code == 400 and message in text(page), text(page)[:300]
    assert _users(site) == [] and site.billing.customers.list().items == []


def _quote(value: str) -> str:
    from urllib.parse import quote
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def test_huge_and_odd_bodies_are_refused_with_a_page(site: Site) -> None:
    client = site.client()
    tok = token(client, "/signup")
    huge = client.post("/signup", data={"csrf_token": tok, "name": "A", "email": "a@example.com",
                                        "password": "x" * (200 * 1024)})
    assert huge.status_code == 413 and "too large" in text(huge).lower()
    many = client.post("/signup", data={f"f{i}": "x" for i in range(40)} | {"csrf_token": tok})
    assert many.status_code == 400 and "could not be read" in text(many)
    nul = client.post("/login", data={"csrf_token": tok, "email": "a\x00@example.com", "password": "p\x00ss"})
    assert nul.status_code == 401 and "Wrong email or password." in text(nul)
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith("text/html")
    assert "Page not found" in text(missing)
    assert client.get("/signup?name=%00").status_code == 200
    assert _users(site) == []


# --- the demo: seeded customers, their password, the one-click logins ---------------------------------------
@pytest.fixture(params=["flask", "fastapi"], scope="module")
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A seeded instance (6 customers, 3 months: some already pay) served by either app; one per app for
    the module, as seeding takes a while."""
    tmp_path = tmp_path_factory.mktemp("seeded")
    app, _ = seeded_app(tmp_path / "instance", customers=6, months=3, progress=False, config={"TESTING": True})
    if request.param == "flask":
        yield Site("flask", app)
        app.extensions["billingos"].billing_for(app).close()
        return
    app.extensions["billingos"].billing_for(app).close()     # one app at a time on an instance
    with TestClient(create_fastapi_app(tmp_path / "instance")) as running:
        yield Site("fastapi", running.app)   # type: ignore[arg-type]


def test_demo_logins_and_the_demo_password(seeded: Site) -> None:
    client = seeded.client()
    home = text(client.get("/"))
    assert "6 made-up customers and 3 months of their history" in home and f"password {DEMO_PASSWORD}" in home
    as_customer = post(client, "/demo-login/customer", page="/")
    assert as_customer.status_code == 302 and as_customer.headers["Location"] == "/billing/portal/"
    assert client.get("/billing/portal/").status_code == 200
    assert client.get("/billing/admin/").status_code == 403                  # a customer is not staff
    as_admin = post(seeded.client(), "/demo-login/admin", page="/")
    assert as_admin.headers["Location"] == "/billing/admin/"
    assert seeded.client().post("/demo-login/admin").status_code == 400      # no CSRF token
    assert post(seeded.client(), "/demo-login/root", page="/").status_code == 404

    customers = [u for u in _users(seeded) if not u.is_admin]
    assert len(customers) == 6 and len({u.password_hash for u in customers}) == 1     # hashed once
    assert customers[0].password_hash.startswith(("scrypt:", "pbkdf2:"))
    assert DEMO_PASSWORD not in customers[0].password_hash
    visitor = seeded.client()
    assert login(visitor, customers[1].email, DEMO_PASSWORD).headers["Location"] == "/app"
    assert "Your shelf" in text(visitor.get("/app"))
    assert login(seeded.client(), customers[1].email, "linkshelf-dem0").status_code == 401


def test_the_demo_password_is_never_accepted_against_real_stripe(seeded: Site) -> None:
    """A demo database pointed at real Stripe: the public password opens nothing."""
    from billingos import Billing
    email = next(u.email for u in _users(seeded) if not u.is_admin)
    real = Billing(database_url="sqlite://", stripe_api_key="sk_test_not_used")
    try:
        shelf = Linkshelf(seeded.shelf.sessions, real)
        with pytest.raises(ProductError, match="Wrong email or password"):
            shelf.authenticate(email, DEMO_PASSWORD)
        with pytest.raises(ProductError, match="only while Stripe is the emulator"):
            shelf.set_demo_password()
    finally:
        real.close()


def test_reopening_an_older_seeded_instance_gives_its_users_the_demo_password(tmp_path: Any) -> None:
    """Instances seeded before seeded users had a password: reopening sets it for them, and only them."""
    instance = tmp_path / "instance"
    app, _ = seeded_app(instance, customers=3, months=2, progress=False, config={"TESTING": True})
    shelf: Linkshelf = app.extensions["linkshelf"]
    with shelf.sessions() as db, db.begin():
        seeded = list(db.scalars(select(User).where(User.is_admin.is_(False))))
        db.execute(update(User).where(User.id != seeded[0].id, User.is_admin.is_(False)).values(password_hash=None))
        kept = db.scalar(select(User.password_hash).where(User.id == seeded[0].id))
    app.extensions["billingos"].billing_for(app).close()
    again = reopen(instance)
    try:
        with again.extensions["linkshelf"].sessions() as db:
            users = {u.id: u.password_hash for u in db.scalars(select(User).where(User.is_admin.is_(False)))}
        assert len(users) == 3 and all(users.values())
        assert users[seeded[0].id] == kept                    # a password it already had is left alone
        email = seeded[1].email
        assert again.extensions["linkshelf"].authenticate(email, DEMO_PASSWORD).email == email
    finally:
        again.extensions["billingos"].billing_for(again).close()
