"""billingos_flask through Flask's test client: real SQLite/PostgreSQL, real emulator, no mocks."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask, request

from billingos import Billing, ConfigurationError
from billingos_flask import CONFIG_DEFAULTS, BillingOS, current_billing, current_owner_id

OWNER_HEADER = "X-Owner"


def _app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(TESTING=True, **config)
    return app


def _with_loader(ext: BillingOS) -> BillingOS:
    @ext.customer_loader
    def owner() -> str | None:
        return request.headers.get(OWNER_HEADER)
    return ext


def test_registers_itself_and_exposes_billing(billing: Billing) -> None:
    app = _app()
    ext = BillingOS(app, billing=billing)
    assert app.extensions["billingos"] is ext
    with app.app_context():
        assert ext.billing is billing
        assert current_billing.customers is billing.customers


def test_init_app_later_and_one_extension_for_two_apps(billing: Billing) -> None:
    ext = BillingOS(billing=billing)
    first, second = _app(), _app()
    ext.init_app(first)
    ext.init_app(second)
    assert first.extensions["billingos"] is ext and second.extensions["billingos"] is ext
    with second.app_context():
        assert current_billing.stripe is billing.stripe


def test_double_registration_raises(billing: Billing) -> None:
    app = _app()
    ext = BillingOS(app, billing=billing)
    with pytest.raises(RuntimeError, match="already been registered"):
        BillingOS(app, billing=billing)
    with pytest.raises(RuntimeError, match="already been registered"):
        ext.init_app(app)
    assert app.extensions["billingos"] is ext
    with pytest.raises(RuntimeError, match="init_app"):
        BillingOS().billing_for(app)


def test_config_keys_build_the_billing(tmp_path: Path) -> None:
    app = _app(BILLINGOS_DATABASE_URL=f"sqlite:///{tmp_path / 'cfg.db'}", BILLINGOS_STRIPE_EMULATOR=True,
               BILLINGOS_EMULATOR_STATE_PATH=str(tmp_path / "em.json"),
               BILLINGOS_WEBHOOK_SECRETS="whsec_first_0123456789, whsec_second_0123456789",
               BILLINGOS_WEBHOOK_TOLERANCE=120, BILLINGOS_DEFAULT_CURRENCY="EUR", BILLINGOS_URL_PREFIX="/pay")
    ext = _with_loader(BillingOS(app))
    for key, default in CONFIG_DEFAULTS.items():
        assert key in app.config, key
        if key in ("BILLINGOS_REDIS_URL", "BILLINGOS_STRIPE_API_BASE", "BILLINGOS_STRIPE_API_KEY"):
            assert app.config[key] == default is None
    with app.app_context():
        cfg = ext.billing.config
        assert cfg.database_url == f"sqlite:///{tmp_path / 'cfg.db'}"
        assert cfg.uses_emulator and cfg.emulator_state_path == str(tmp_path / "em.json")
        assert cfg.webhook_secrets == ["whsec_first_0123456789", "whsec_second_0123456789"]
        assert (cfg.webhook_tolerance, cfg.default_currency) == (120, "eur")
        ext.billing.migrate()
        created = ext.billing.customers.create(owner_id="org_cfg", email="cfg@example.com")
    client = app.test_client()
    assert client.get("/pay/customer", headers={OWNER_HEADER: "org_cfg"}).get_json()["id"] == created.id
    assert client.get("/billing/customer", headers={OWNER_HEADER: "org_cfg"}).status_code == 404
    assert (tmp_path / "em.json").exists()  # the emulator persisted the customer


def test_each_app_builds_its_own_billing_from_its_config(tmp_path: Path) -> None:
    ext = BillingOS()
    one = _app(BILLINGOS_DATABASE_URL=f"sqlite:///{tmp_path / 'one.db'}", BILLINGOS_STRIPE_EMULATOR=True)
    two = _app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'two.db'}", BILLINGOS_STRIPE_EMULATOR=True)
    ext.init_app(one)
    ext.init_app(two)
    with one.app_context():
        first = ext.billing
    with two.app_context():
        second = ext.billing
    assert first is not second
    assert (ext.billing_for(one), ext.billing_for(two)) == (first, second)
    assert str(first.config.database_url).endswith("one.db")
    assert str(second.config.database_url).endswith("two.db")  # SQLALCHEMY_DATABASE_URI is the fallback


@pytest.mark.parametrize("config, reason", [
    ({}, "database_url"),
    ({"BILLINGOS_DATABASE_URL": "sqlite://", "BILLINGOS_WEBHOOK_SECRETS": ["not-a-secret"]}, "at least 16"),
    ({"BILLINGOS_DATABASE_URL": "sqlite://", "BILLINGOS_STRIPE_API_KEY": "pk_test_x"}, "stripe_api_key"),
    ({"BILLINGOS_DATABASE_URL": "sqlite://", "BILLINGOS_DEFAULT_CURRENCY": "dollars"}, "default_currency"),
])
def test_bad_config_raises_configuration_error(config: dict[str, object], reason: str) -> None:
    app = _app(**config)
    with pytest.raises(ConfigurationError, match=reason):
        BillingOS(app)
    assert "billingos" not in app.extensions


def test_customer_route_returns_the_loaded_owners_customer(billing: Billing) -> None:
    app = _app()
    ext = _with_loader(BillingOS(app, billing=billing))
    customer = billing.customers.create(owner_id="org_42", email="a@acme.co", name="Acme")
    response = app.test_client().get("/billing/customer", headers={OWNER_HEADER: "org_42"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert (body["id"], body["owner_id"], body["email"], body["name"]) == (customer.id, "org_42", "a@acme.co",
                                                                          "Acme")
    assert body["id"].startswith("cus_") and body["deleted"] is False
    with app.test_request_context(headers={OWNER_HEADER: "org_42"}):
        assert current_owner_id() == "org_42" == ext.load_owner_id()


@pytest.mark.parametrize("owner, status, code", [
    (None, 401, "unauthenticated"),
    ("org_nobody", 404, "not_found"),
    (" org_42", 400, "invalid_input"),
    ("x" * 256, 400, "invalid_input"),
])
def test_customer_route_bad_input_is_a_problem_document(billing: Billing, owner: str | None, status: int,
                                                        code: str) -> None:
    app = _app()
    _with_loader(BillingOS(app, billing=billing))
    billing.customers.create(owner_id="org_42", email="a@acme.co")
    headers = {OWNER_HEADER: owner} if owner is not None else {}
    response = app.test_client().get("/billing/customer", headers=headers)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    doc = response.get_json()
    assert doc["status"] == status and doc["type"].endswith("/" + code) and doc["detail"]
    if code == "invalid_input":
        assert doc["param"] == "owner_id"


def test_customer_route_refuses_other_methods(billing: Billing) -> None:
    app = _app()
    _with_loader(BillingOS(app, billing=billing))
    client = app.test_client()
    for method in ("POST", "PUT", "DELETE"):
        response = client.open("/billing/customer", method=method, headers={OWNER_HEADER: "org_42"})
        assert response.status_code == 405


def test_customer_route_without_a_loader_says_how_to_fix_it(billing: Billing) -> None:
    app = _app()
    BillingOS(app, billing=billing)
    with pytest.raises(RuntimeError, match="customer_loader"):
        app.test_client().get("/billing/customer")


def test_billing_errors_in_host_views_are_left_to_the_host(billing: Billing) -> None:
    app = _app()
    BillingOS(app, billing=billing)

    @app.get("/mine")
    def mine() -> str:
        return current_billing.customers.get(owner_id="org_missing").id

    from billingos import NotFoundError
    with pytest.raises(NotFoundError):
        app.test_client().get("/mine")
