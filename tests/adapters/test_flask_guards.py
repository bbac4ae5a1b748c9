"""``billingos_flask.requires_feature`` through Flask's test client: real DB, real emulator, no mocks."""

from __future__ import annotations

import pytest
from flask import Flask, redirect, request

from billingos import Billing, InvalidInputError
from billingos_flask import BillingOS, requires_feature
from tests.entitlements.conftest import Plans, plans  # noqa: F401  (the fixture)

OWNER_HEADER = "X-Owner"


def _app(billing: Billing) -> tuple[Flask, BillingOS]:
    app = Flask(__name__)
    app.config.update(TESTING=True)
    ext = BillingOS(app, billing=billing)

    @ext.customer_loader
    def owner() -> str | None:
        return request.headers.get(OWNER_HEADER)

    @app.route("/export", methods=["GET", "POST", "OPTIONS"])
    @requires_feature("export")
    def export() -> dict[str, str]:
        """Exports the owner's data."""
        return {"exported": request.headers[OWNER_HEADER]}

    @app.get("/sso")
    @requires_feature("sso")
    def sso() -> dict[str, bool]:   # views run through current_app.ensure_sync
        return {"sso": True}

    return app, ext


@pytest.fixture
def subscribed(plans: Plans) -> Plans:  # noqa: F811
    plans.sync(plans.subscription(plans.customer("org_pro"), "pro"))
    plans.sync(plans.subscription(plans.customer("org_basic"), "basic"))
    return plans


def test_granted_owner_reaches_the_view_and_wraps_keeps_its_name(subscribed: Plans) -> None:
    app, _ = _app(subscribed.billing)
    client = app.test_client()
    response = client.get("/export", headers={OWNER_HEADER: "org_pro"})
    assert response.status_code == 200 and response.get_json() == {"exported": "org_pro"}
    assert app.view_functions["export"].__name__ == "export"
    assert app.view_functions["export"].__doc__ == "Exports the owner's data."
    assert client.post("/export", headers={OWNER_HEADER: "org_pro"}).get_json() == {"exported": "org_pro"}


def test_plan_without_the_feature_gets_a_403_problem_document(subscribed: Plans) -> None:
    app, _ = _app(subscribed.billing)
    response = app.test_client().get("/export", headers={OWNER_HEADER: "org_basic"})
    assert response.status_code == 403 and response.mimetype == "application/problem+json"
    doc = response.get_json()
    assert doc["type"].endswith("/feature_not_available") and doc["feature"] == "export" and doc["status"] == 403
    assert "export" in doc["detail"]


def test_upgrade_takes_effect_on_the_next_request(subscribed: Plans) -> None:
    app, _ = _app(subscribed.billing)
    client = app.test_client()
    assert client.get("/sso", headers={OWNER_HEADER: "org_pro"}).status_code == 403
    sub = subscribed.billing.subscriptions.list("org_pro")[0]
    obj = subscribed.subscription(sub.customer, "team", sub_id=sub.id)
    subscribed.sync(obj)
    response = client.get("/sso", headers={OWNER_HEADER: "org_pro"})
    assert response.status_code == 200 and response.get_json() == {"sso": True}


@pytest.mark.parametrize("owner, status", [(None, 401), ("org_nobody", 403), (" org_pro", 403), ("x" * 300, 403),
                                           ("org_pro\x00", 403)])
def test_bad_or_missing_owner_is_denied_never_an_error(subscribed: Plans, owner: str | None, status: int) -> None:
    app, _ = _app(subscribed.billing)
    headers = {OWNER_HEADER: owner} if owner is not None else {}
    response = app.test_client().get("/export", headers=headers)
    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == status


def test_denied_handler_is_overridable_and_options_is_exempt(subscribed: Plans) -> None:
    app, ext = _app(subscribed.billing)
    seen: list[tuple[str, str | None]] = []

    @ext.feature_denied_handler
    def to_pricing(feature: str, owner_id: str | None):  # type: ignore[no-untyped-def]
        seen.append((feature, owner_id))
        return redirect(f"/pricing?feature={feature}")

    client = app.test_client()
    response = client.get("/export", headers={OWNER_HEADER: "org_basic"})
    assert response.status_code == 302 and response.headers["Location"] == "/pricing?feature=export"
    assert client.get("/export").status_code == 302
    assert seen == [("export", "org_basic"), ("export", None)]
    assert client.options("/export", headers={OWNER_HEADER: "org_basic"}).status_code == 200


@pytest.mark.parametrize("bad", ["", " export", "ex port", None, 3, "x" * 81])
def test_bad_feature_key_fails_at_decoration(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="feature"):
        requires_feature(bad)  # type: ignore[arg-type]
