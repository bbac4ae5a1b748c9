"""Linkshelf, the product, over real HTTP: links, the gated features, the metered API, the two kinds of API
keys, and hostile input that must be refused with a 4xx and write nothing. The pages are tested on both
apps (the ``site`` fixture: Flask's and Starlette's test clients); the Flask links API here, FastAPI's in
test_fastapi_app.py."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi import FastAPI
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from billingos import Billing
from example_app.models import Link, User

from .conftest import PASSWORD, Site, owner_of, post, shelf_of, signup, text

TOKEN = re.compile(r"lsk_[A-Za-z0-9_\-]{43}")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    c = app.test_client()
    assert signup(c).status_code == 302
    return c


@pytest.fixture
def shopper(site: Site) -> Any:
    """A browser signed up as Ada (on a Pro trial), on either app."""
    c = site.client()
    assert signup(c).status_code == 302
    return c


def _links(app: Flask | FastAPI | Site) -> list[Link]:
    with shelf_of(app).sessions() as db:
        return list(db.scalars(select(Link).order_by(Link.id)))


def _users(app: Flask) -> int:
    with app.extensions["linkshelf"].sessions() as db:
        return int(db.scalar(select(func.count()).select_from(User)) or 0)


def _api_token(client: FlaskClient) -> str:
    page = post(client, "/app/developers/token", page="/app/developers")
    assert page.status_code == 200
    match = TOKEN.search(page.get_data(as_text=True))
    assert match is not None
    return match.group(0)


def _downgrade_to_free(app: Flask | Site, billing: Billing) -> str:
    owner = owner_of(app)
    [sub] = billing.subscriptions.list(owner)
    billing.subscriptions.cancel(sub, at_period_end=False)
    billing.subscriptions.create(owner, price="free_monthly")
    billing.testing.drain()
    return owner


# --- links and the gated features ------------------------------------------------------------------
def test_a_link_is_saved_listed_followed_and_deleted(site: Site, shopper: Any) -> None:
    saved = post(shopper, "/app/links", url="https://example.com/a?b=1", title="Example", note="why", slug="ex-1")
    assert saved.status_code == 303 and saved.headers["Location"] == "/app"
    [link] = _links(site)
    assert (link.url, link.title, link.note, link.slug, link.clicks) == ("https://example.com/a?b=1", "Example",
                                                                         "why", "ex-1", 0)
    page = text(shopper.get("/app"))
    assert "Saved: http" in page and "/s/ex-1" in page and "Example" in page
    assert "Saved: http" not in text(shopper.get("/app"))           # a flash is shown once
    follow = site.client().get("/s/ex-1")         # anyone may follow a short link
    assert follow.status_code == 302 and follow.headers["Location"] == "https://example.com/a?b=1"
    assert _links(site)[0].clicks == 1
    assert post(shopper, f"/app/links/{link.id}/delete").status_code == 303
    assert "Link deleted." in text(shopper.get("/app"))
    gone = site.client().get("/s/ex-1")
    assert _links(site) == [] and gone.status_code == 404 and "No such short link." in text(gone)


def test_the_pro_trial_has_custom_names_and_export(shopper: Any) -> None:
    page = text(shopper.get("/app"))
    assert "Pro · trialing" in page and "✓ Custom short names" in page and "✓ CSV export" in page
    assert "— Single sign-on (SAML)" in page
    post(shopper, "/app/links", url="https://example.com/", title="=HYPERLINK(\"x\")", slug="mine")
    export = shopper.get("/app/export.csv")
    assert export.status_code == 200 and export.headers["Content-Type"].startswith("text/csv")
    assert export.headers["Content-Disposition"] == "attachment; filename=linkshelf-links.csv"
    lines = export.text.splitlines()
    assert lines[0] == "short_name,url,title,note,clicks,created_at"
    assert lines[1].startswith('mine,https://example.com/,"\'=HYPERLINK(""x"")",,0,')   # a formula, defused


def test_free_plan_refuses_export_and_custom_names(site: Site, shopper: Any) -> None:
    _downgrade_to_free(site, site.billing)
    refused = shopper.get("/app/export.csv")
    assert refused.status_code == 302 and refused.headers["Location"] == "/pricing"   # the FeatureDenied answer
    assert "does not include export" in text(shopper.get("/pricing"))
    page = post(shopper, "/app/links", url="https://example.com/", slug="mine")
    assert page.status_code == 403 and "part of Pro and Team" in text(page)
    assert _links(site) == []
    assert post(shopper, "/app/links", url="https://example.com/").status_code == 303   # a random name is fine
    assert len(_links(site)) == 1


def test_export_needs_a_login(site: Site) -> None:
    for path in ("/app/export.csv", "/app", "/app/developers"):
        assert site.client().get(path).headers["Location"] == "/login", path


def test_another_users_link_cannot_be_deleted(site: Site, shopper: Any) -> None:
    post(shopper, "/app/links", url="https://example.com/")
    [link] = _links(site)
    other = site.client()
    signup(other, "eve")
    refused = post(other, f"/app/links/{link.id}/delete")
    assert refused.status_code == 404 and "No such link." in text(refused)
    assert len(_links(site)) == 1


# --- the metered API ------------------------------------------------------------------------------
def test_each_api_call_spends_quota_and_is_metered_once_per_idempotency_key(app: Flask, billing: Billing,
                                                                               client: FlaskClient) -> None:
    owner = owner_of(app)
    token = _api_token(client)
    api = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    created = api.post("/api/links", json={"url": "https://example.org/", "title": "Org"},
                       headers={**auth, "Idempotency-Key": "c-1"})
    assert created.status_code == 201 and created.get_json()["link"]["title"] == "Org"
    first = api.get("/api/links", headers={**auth, "Idempotency-Key": "l-1"})
    again = api.get("/api/links", headers={**auth, "Idempotency-Key": "l-1"})
    other = api.get("/api/links", headers=auth)
    assert [r.status_code for r in (first, again, other)] == [200, 200, 200]
    assert [link["url"] for link in first.get_json()["links"]] == ["https://example.org/"]
    assert first.get_json()["quota"] == {"limit": 10_000, "used": 2, "remaining": 9_998}
    assert other.get_json()["quota"]["used"] == 3
    assert billing.usage.total(owner, "api_calls") == 3           # metered for Stripe: one per distinct call
    assert billing.check(owner, "api_calls", 0).used == 3
    page = text(client.get("/app"))
    assert "API calls this period 3 of 10,000 included" in page


def test_the_api_answers_429_once_the_quota_is_gone(app: Flask, billing: Billing, client: FlaskClient) -> None:
    owner = _downgrade_to_free(app, billing)
    billing.consume(owner, "api_calls", 1_000, idempotency_key="use-it-all")
    before = billing.usage.total(owner, "api_calls")
    refused = client.get("/api/links")
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert "1,000 of 1,000" in refused.get_json()["detail"]
    assert int(refused.headers["Retry-After"]) > 0
    assert billing.usage.total(owner, "api_calls") == before        # a refused call is not billed


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer lsk_short", "Bearer " + "lsk_" + "a" * 43,
                                    "Basic YWRhOnB3", "Bearer lsk_" + "\x00" * 43])
def test_the_api_refuses_missing_and_wrong_tokens(app: Flask, client: FlaskClient, header: str) -> None:
    _api_token(client)
    response = app.test_client().get("/api/links", headers={"Authorization": header} if header else {})
    assert response.status_code == 401 and response.mimetype == "application/problem+json"


def test_a_replaced_token_stops_working(app: Flask, client: FlaskClient) -> None:
    old = _api_token(client)
    new = _api_token(client)
    api = app.test_client()
    assert api.get("/api/links", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert api.get("/api/links", headers={"Authorization": f"Bearer {new}"}).status_code == 200


@pytest.mark.parametrize("body, status", [
    ({"url": "javascript:alert(1)"}, 400), ({"url": "ftp://x.example/"}, 400), ({"url": 5}, 400),
    ({"url": "https://e.example/", "title": "a" * 201}, 400), ({"url": "https://e.example/", "note": "\ud800"}, 400),
    ({"url": "https://e.example/\x00"}, 400), ({"url": "https://" + "a" * 3000 + ".example/"}, 400),
    ({"url": "https://e.example/", "slug": "NO SPACES"}, 400), ({"url": "https://e.example/", "slug": ["x"]}, 400),
    ([1, 2], 400), ("text", 400), ({}, 400)])
def test_hostile_api_bodies_are_refused_and_nothing_is_spent(app: Flask, billing: Billing, client: FlaskClient,
                                                            body: object, status: int) -> None:
    owner = owner_of(app)
    token = _api_token(client)
    response = app.test_client().post("/api/links", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert _links(app) == [] and billing.usage.total(owner, "api_calls") == 0


def test_a_non_json_body_and_a_huge_body_are_refused(app: Flask, client: FlaskClient) -> None:
    token = _api_token(client)
    api = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert api.post("/api/links", data=b"\xff\xfe", headers={**auth, "Content-Type": "application/json"}
                    ).status_code == 400
    assert api.post("/api/links", data=b"x" * (2 * 1024 * 1024),
                    headers={**auth, "Content-Type": "application/json"}).status_code == 413
    assert _links(app) == []


def test_the_api_with_a_session_cookie_needs_the_csrf_header_for_writes(app: Flask, client: FlaskClient) -> None:
    assert client.post("/api/links", json={"url": "https://e.example/"}).status_code == 400
    page = client.get("/app").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)    # type: ignore[union-attr]
    ok = client.post("/api/links", json={"url": "https://e.example/"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201 and len(_links(app)) == 1
    assert app.test_client().get("/api/links").status_code == 401        # nobody logged in, no token


# --- the billing API key (billingos's JSON API) ------------------------------------------------------
def test_a_customer_makes_a_billing_api_key_that_reads_only_their_own_billing(site: Site, shopper: Any) -> None:
    page = post(shopper, "/app/developers/billing-key", page="/app/developers", name="CI")
    assert page.status_code == 200
    secret = re.search(r"bos_test_[0-9a-f]{12}_[A-Za-z0-9_\-]{43}", page.text).group(0)  # type: ignore[union-attr]
    [key] = site.billing.api_keys.list(owner_id=owner_of(site))
    assert key.name == "CI" and sorted(key.scopes) == ["billing:read", "entitlements:read"]
    again = shopper.get("/app/developers")
    assert "CI" in text(again) and secret not in again.text     # shown once
    api = site.client()
    mine = api.get("/billing/api/v1/entitlements/check?feature=export", headers={"Authorization": f"Bearer {secret}"})
    assert mine.status_code == 200 and json.loads(mine.text)["allowed"] is True, mine.text
    other = site.client()
    signup(other, "eve")
    theirs = api.get(f"/billing/api/v1/customer?owner_id={owner_of(site, 'eve@example.com')}",
                     headers={"Authorization": f"Bearer {secret}"})
    assert theirs.status_code == 404


def test_the_developer_page_makes_a_linkshelf_api_token(site: Site, shopper: Any) -> None:
    first = post(shopper, "/app/developers/token", page="/app/developers")
    assert first.status_code == 200 and "Replace my API token" in text(first)
    token = TOKEN.search(first.text).group(0)       # type: ignore[union-attr]
    assert token not in shopper.get("/app/developers").text                  # shown once
    assert shelf_of(site).user_for_token(f"Bearer {token}").email == "ada@example.com"


def test_a_bad_billing_key_name_is_refused(site: Site, shopper: Any) -> None:
    page = post(shopper, "/app/developers/billing-key", page="/app/developers", name="x" * 300)
    assert page.status_code == 400 and site.billing.api_keys.list(owner_id=owner_of(site)) == []


def test_passwords_are_hashed(app: Flask, client: FlaskClient) -> None:
    with app.extensions["linkshelf"].sessions() as db:
        [user] = db.scalars(select(User))
    assert user.password_hash and PASSWORD not in user.password_hash
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


@pytest.mark.parametrize("form, status, message", [
    ({"url": ""}, 400, "starts with http"), ({"url": "https://e.example/\x00"}, 400, "starts with http"),
    ({"url": "https://e.example/", "note": "x" * 2001}, 400, "Note is too long"),
    ({"url": "https://e.example/", "title": "bad\x01"}, 400, "control characters"),
    ({"url": "https://e.example/", "slug": "../etc"}, 400, "A short name is"),
])
def test_hostile_link_forms_are_refused_and_write_nothing(site: Site, shopper: Any, form: dict[str, str],
                                                         status: int, message: str) -> None:
    page = post(shopper, "/app/links", **form)
    assert page.status_code == status and message in text(page)
    assert _links(site) == []


def test_a_taken_short_name_is_409(site: Site, shopper: Any) -> None:
    assert post(shopper, "/app/links", url="https://e.example/", slug="taken").status_code == 303
    again = post(shopper, "/app/links", url="https://f.example/", slug="taken")
    assert again.status_code == 409 and "taken" in text(again) and len(_links(site)) == 1


@pytest.mark.parametrize("path", ["/app/links/0/delete", "/app/links/99999999999999999999/delete",
                                  "/app/links/-1/delete", "/app/links/abc/delete"])
def test_odd_link_ids_are_404(shopper: Any, path: str) -> None:
    assert post(shopper, path).status_code == 404
