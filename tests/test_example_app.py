"""The example app through Flask's test client: its own users, billingos customers, the emulator's state."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from billingos import Billing, NotFoundError
from example_app import create_app
from example_app.models import User

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _app(instance: Path) -> Flask:
    return create_app({"INSTANCE_PATH": str(instance), "TESTING": True})


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return _app(tmp_path / "instance")


def _billing(app: Flask) -> Billing:
    billing: Billing = app.extensions["billingos"].billing_for(app)
    return billing


def _token(client: FlaskClient, path: str) -> str:
    match = TOKEN.search(client.get(path).get_data(as_text=True))
    assert match is not None, f"no CSRF token on {path}"
    return match.group(1)


def _post(client: FlaskClient, path: str, **form: str) -> TestResponse:
    """POST the way a browser does: with the token from the page that shows the form."""
    page = "/" if path == "/logout" else path.split("?")[0]  # the log-out button sits in the nav
    return client.post(path, data={"csrf_token": _token(client, page), **form})


PASSWORD = "correct horse battery"


def _signup(client: FlaskClient, name: str = "Ada", email: str = "ada@example.com",
            password: str = PASSWORD) -> TestResponse:
    return _post(client, "/signup", name=name, email=email, password=password)


def _login(client: FlaskClient, email: str = "ada@example.com", password: str = PASSWORD) -> TestResponse:
    return _post(client, "/login", email=email, password=password)


def _users(app: Flask) -> list[User]:
    with app.extensions["linkshelf"].sessions() as db:
        return list(db.scalars(select(User).order_by(User.id)))


def _customer_count(app: Flask) -> int:
    return len(_billing(app).customers.list().items)


def _emulator_customers(instance: Path) -> list[dict[str, object]]:
    """Customers in the emulator's saved state: what a restart would load."""
    path = instance / "stripe_emulator.json"
    if not path.exists():  # nothing was ever written to Stripe
        return []
    state = json.loads(path.read_text())
    return [state["objects"][i] for i in state["by_kind"].get("customer", []) if i not in state["deleted"]]


def test_signup_creates_a_local_user_and_a_billing_customer(app: Flask, tmp_path: Path) -> None:
    client = app.test_client()
    response = _signup(client)
    assert response.status_code == 302 and response.headers["Location"] == "/app"
    [user] = _users(app)
    assert (user.name, user.email, user.is_admin) == ("Ada", "ada@example.com", False)
    assert user.owner_id.startswith("usr_")
    customer = _billing(app).customers.get(owner_id=user.owner_id)
    assert (customer.email, customer.name, customer.owner_id) == ("ada@example.com", "Ada", user.owner_id)
    stripe_side = _billing(app).stripe.v1.customers.retrieve(customer.id)
    assert stripe_side.email == "ada@example.com"
    assert stripe_side.to_dict()["metadata"]["billingos_owner_id"] == user.owner_id
    [persisted] = _emulator_customers(tmp_path / "instance")
    assert persisted["id"] == customer.id

    assert "Your shelf" in client.get("/app").get_data(as_text=True)
    assert client.get("/billing/customer").get_json()["id"] == customer.id  # the adapter's route, logged in


def test_login_and_logout(app: Flask) -> None:
    client = app.test_client()
    _signup(client)
    assert client.get("/app").status_code == 200
    assert _post(client, "/logout").status_code == 302
    assert client.get("/app").headers["Location"] == "/login"
    assert client.get("/billing/customer").status_code == 401

    for email, password in (("other@example.com", PASSWORD), ("ada@example.com", "wrong password"),
                            ("ada@example.com", ""), ("ADA@example.com", "x" * 300)):
        wrong = _login(client, email, password)
        assert wrong.status_code == 401 and "Wrong email or password." in wrong.get_data(as_text=True)
        assert client.get("/app").status_code == 302
    ok = _login(client, "ADA@Example.com")           # emails match whatever their case
    assert ok.headers["Location"] == "/app"
    assert "Your shelf" in client.get("/app").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/signup", "/login", "/logout"])
def test_csrf_rejects_posts_without_a_valid_token(app: Flask, path: str) -> None:
    client = app.test_client()
    client.get("/signup")  # the session now has a token, which the POSTs below do not echo
    form = {"name": "Eve", "email": "eve@example.com", "password": PASSWORD}
    assert client.post(path, data=form).status_code == 400
    assert client.post(path, data={**form, "csrf_token": "forged"}).status_code == 400
    assert _users(app) == [] and _customer_count(app) == 0


@pytest.mark.parametrize("name, email, password, message", [
    ("", "a@example.com", PASSWORD, "Enter your name"),
    ("x" * 81, "a@example.com", PASSWORD, "Name is too long"),
    ("Bob\x00", "a@example.com", PASSWORD, "Name contains control characters"),
    ("Bob\x7f", "a@example.com", PASSWORD, "Name contains control characters"),
    ("Bob", "not-an-email", PASSWORD, "Enter an email"),
    ("Bob", "", PASSWORD, "Enter an email"),
    ("Bob", "a@b", PASSWORD, "Enter an email"),
    ("Bob", "a@example.com\x00", PASSWORD, "Enter an email"),
    ("Bob", "a" * 300 + "@example.com", PASSWORD, "Email is too long"),
    ("Bob", "a@example.com", "short", "at least 8 characters"),
    ("Bob", "a@example.com", "x" * 201, "Password is too long"),
    ("Bob", "a@example.com", "pass\x00word12", "control characters"),
])
def test_bad_signup_input_shows_an_error_and_writes_nothing(app: Flask, tmp_path: Path, name: str,
                                                           email: str, password: str, message: str) -> None:
    response = _signup(app.test_client(), name, email, password)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _users(app) == [] and _customer_count(app) == 0
    assert _emulator_customers(tmp_path / "instance") == []


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@example.com", " ada@example.com "])
def test_duplicate_signup_shows_an_error_and_writes_nothing(app: Flask, tmp_path: Path, email: str) -> None:
    _signup(app.test_client())
    response = _signup(app.test_client(), "Ada two", email)
    assert response.status_code == 409
    assert "already registered" in response.get_data(as_text=True)
    assert [u.email for u in _users(app)] == ["ada@example.com"]
    assert _customer_count(app) == 1 and len(_emulator_customers(tmp_path / "instance")) == 1


def test_restart_keeps_users_customers_and_stripe_state_consistent(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    first = _app(instance)
    _signup(first.test_client())
    [user] = _users(first)
    before = _billing(first).customers.get(owner_id=user.owner_id)

    second = _app(instance)  # a restart: new engine, new Billing, emulator state loaded from disk
    assert _billing(second) is not _billing(first)
    [again] = _users(second)
    assert again.owner_id == user.owner_id
    after = _billing(second).customers.get(owner_id=user.owner_id)
    assert after.id == before.id
    stripe_side = _billing(second).stripe.v1.customers.retrieve(after.id)
    assert stripe_side.to_dict()["metadata"]["billingos_owner_id"] == user.owner_id
    assert [c["id"] for c in _emulator_customers(instance)] == [before.id]

    client = second.test_client()
    assert _login(client).status_code == 302
    assert client.get("/billing/customer").get_json()["id"] == before.id
    _signup(client, "Grace", "grace@example.com")
    assert len(_emulator_customers(instance)) == 2 and _customer_count(second) == 2


def test_account_requires_login_and_unknown_pages_404(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/app").headers["Location"] == "/login"
    assert client.get("/nope").status_code == 404
    home = client.get("/").get_data(as_text=True)
    assert 'href="/signup"' in home and 'lang="en"' in home and "<main" in home
    with pytest.raises(NotFoundError):
        _billing(app).customers.get(owner_id="usr_missing")


def test_pricing_lists_the_synced_catalog(app: Flask) -> None:
    from billingos.catalog import load_catalog
    from example_app.catalog import CATALOG_PATH
    catalog = load_catalog(CATALOG_PATH)
    declared = {p.lookup_key for product in catalog.products for p in product.prices if p.active}
    assert {p.lookup_key for p in _billing(app).catalog.prices()} == declared  # synced at start-up
    page = app.test_client().get("/pricing")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for product in catalog.products:
        assert f">{product.name}</h2>" in html
    for key in declared:
        assert f"<code>{key}</code>" in html
    for text in ("$29.00</strong> per month", "$290.00</strong> per year", "$0.002</strong> per unit used",
                 "1–5: $99.00 flat; 6+: $15.00 each</strong> per month",
                 "API calls: 10,000 per billing period"):
        assert text in html, text


def test_restart_does_not_resync_the_catalog_into_new_stripe_objects(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    first = _app(instance)
    prices = {p.lookup_key: p.id for p in _billing(first).catalog.prices()}
    second = _app(instance)
    assert {p.lookup_key: p.id for p in _billing(second).catalog.prices()} == prices
    state = json.loads((instance / "stripe_emulator.json").read_text())
    assert len(state["by_kind"]["price"]) == len(prices)


def test_port_must_be_a_number(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from example_app.__main__ import main
    monkeypatch.setenv("PORT", "http")
    assert main() == 2
    assert "PORT must be a TCP port number" in capsys.readouterr().err


def test_signup_when_stripe_is_down_writes_nothing(app: Flask, tmp_path: Path) -> None:
    _billing(app).emulator.faults.down = True
    response = _signup(app.test_client())
    assert response.status_code == 503
    assert "Billing could not set up your account" in response.get_data(as_text=True)
    assert _users(app) == [] and _customer_count(app) == 0
    _billing(app).emulator.faults.down = False
    assert _signup(app.test_client()).status_code == 302
    assert [u.email for u in _users(app)] == ["ada@example.com"]


def test_huge_and_nul_form_input_is_refused_without_a_500(app: Flask) -> None:
    client = app.test_client()
    huge = client.post("/signup", data={"csrf_token": _token(client, "/signup"), "name": "A",
                                        "email": "a@example.com", "password": "x" * (2 * 1024 * 1024)})
    assert huge.status_code == 413
    nul = client.post("/login", data={"csrf_token": _token(client, "/login"), "email": "a\x00@example.com",
                                      "password": "p\x00ssword"})
    assert nul.status_code == 401 and "Wrong email or password." in nul.get_data(as_text=True)
    assert client.get("/login?next=%00%2F%2Fevil").status_code == 200
    assert _users(app) == [] and _customer_count(app) == 0
