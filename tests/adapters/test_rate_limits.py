"""``billing.rate_limits`` through both adapters: the portal's POSTs per owner, the admin pages' POSTs per
admin (a styled 429 page in the layout, with Retry-After) and the webhook route per client address (a 429
problem document with Retry-After); off with None; the storage-down policies; bad options refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from billingos import Billing, ConfigurationError, FrozenClock, InvalidInputError
from billingos.emulator import Emulator
from tests.admin.conftest import make_client
from tests.conftest import WEBHOOK_SECRET
from tests.portal.conftest import OTHER, OWNER, Portal, customer_with_card

from .test_webhook_routes import FastAPIClient, FlaskClient, _event, _signed

DOWN = "redis://127.0.0.1:1/0"     # a closed port: the limiter's storage is down


def _fresh_window() -> None:
    """Windows are aligned to the clock: start well inside a minute."""
    while time.time() % 60 > 50:
        time.sleep(0.5)


@pytest.fixture
def make_billing(sqlite_engine: Engine) -> Iterator[Any]:
    made: list[Billing] = []

    def build(**options: Any) -> Billing:
        clock = FrozenClock(__import__("datetime").datetime(2026, 1, 15, 12, tzinfo=__import__("datetime").UTC))
        billing = Billing(engine=sqlite_engine, emulator=Emulator(clock=clock), clock=clock,
                          webhook_secrets=[WEBHOOK_SECRET], **options)
        made.append(billing)
        return billing

    yield build
    for billing in made:
        billing.close()


def _limited_page(answer: Any, status: int = 429) -> None:
    assert answer.status == status, (answer.status, answer.text[:300])
    assert 1 <= int(answer.headers["retry-after"]) <= 60
    assert answer.headers["content-type"].startswith("text/html")
    assert 'class="container bos-header"' in answer.html        # the layout, not a bare error


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_portal_posts_are_limited_per_owner(make_billing: Any, kind: str) -> None:
    billing = make_billing(portal_rate_limit="2/minute")
    mine = customer_with_card(billing, OWNER).default_payment_method
    theirs = customer_with_card(billing, OTHER).default_payment_method
    _fresh_window()
    portal = Portal(kind, billing)
    path = f"/billing/portal/payment-methods/{mine}/default"
    assert portal.post(path, {"csrf_token": "forged"}).status == 403          # a refused form does not count
    assert [portal.submit(path, {}).status for _ in range(2)] == [303, 303]
    refused = portal.submit(path, {})
    _limited_page(refused)
    assert "Too many changes" in refused.text and f"wait {refused.headers['retry-after']} seconds" in refused.text
    assert portal.get("/billing/portal/payment-methods").status == 200      # pages still show
    other = Portal(kind, billing)
    other.owner = OTHER                                                      # another owner: its own budget
    assert other.submit(f"/billing/portal/payment-methods/{theirs}/default", {},
                        "/billing/portal/payment-methods").status == 303


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_admin_posts_are_limited_per_admin(make_billing: Any, kind: str) -> None:
    billing = make_billing(admin_rate_limit="2/minute")
    _fresh_window()
    client = make_client(kind, billing)
    assert [client.submit("/billing/admin/jobs/replay", {"queue": "nope"}).status for _ in range(2)] == [400, 400]
    refused = client.submit("/billing/admin/jobs/replay", {"queue": "nope"})
    assert refused.status == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    assert "Too many changes" in refused.text and 'class="container bos-header"' in refused.text
    client.headers = {"X-Admin": "another@example.com"}                     # another admin: its own budget
    assert client.submit("/billing/admin/jobs/replay", {"queue": "nope"}).status == 400


def _webhook_client(kind: str, billing: Billing) -> Any:
    return FlaskClient(billing) if kind == "flask" else FastAPIClient(billing)


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_webhook_route_is_limited_per_client_address(make_billing: Any, kind: str) -> None:
    billing = make_billing(webhook_rate_limit="3/minute")
    http = _webhook_client(kind, billing)
    body, headers = _signed(billing, _event(billing))
    _fresh_window()
    statuses = [http.post("/billing/webhooks", body, headers)[0] for _ in range(3)]
    assert statuses == [200, 200, 200]
    status, doc, answer_headers = http.post("/billing/webhooks", body, headers)
    assert status == 429 and answer_headers["content-type"] == "application/problem+json"
    assert 1 <= int(answer_headers["retry-after"]) <= 60 and doc["retry_after"] == int(answer_headers["retry-after"])
    assert doc["type"].endswith("/rate_limited") and doc["status"] == 429


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_limits_set_to_none_are_off(make_billing: Any, kind: str) -> None:
    billing = make_billing(webhook_rate_limit=None, portal_rate_limit=None)
    http = _webhook_client(kind, billing)
    body, headers = _signed(billing, _event(billing))
    assert {http.post("/billing/webhooks", body, headers)[0] for _ in range(8)} == {200}
    assert billing.rate_limits.check("webhook", "127.0.0.1") is None
    assert billing.rate_limits.check("portal", OWNER) is None


def test_the_defaults_are_generous() -> None:
    from billingos import BillingConfig
    config = BillingConfig(database_url="sqlite://", stripe_emulator=True)
    assert (config.portal_rate_limit, config.admin_rate_limit, config.webhook_rate_limit) == (
        "30/minute", "120/minute", "100/second")
    assert config.rate_limit_on_storage_error == "memory"


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_storage_down_closed_answers_503_with_retry_after(make_billing: Any, kind: str) -> None:
    billing = make_billing(api_rate_limit_storage=DOWN, rate_limit_on_storage_error="closed")
    http = _webhook_client(kind, billing)
    body, headers = _signed(billing, _event(billing))
    status, doc, answer_headers = http.post("/billing/webhooks", body, headers)
    assert status == 503 and answer_headers["content-type"] == "application/problem+json"
    assert doc["type"].endswith("/rate_limit_unavailable") and int(answer_headers["retry-after"]) >= 1
    customer_with_card(billing, OWNER)
    portal = Portal(kind, billing)
    _limited_page(portal.submit("/billing/portal/payment-methods/add", {}, "/billing/portal/payment-methods"), 503)


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_storage_down_memory_still_limits(make_billing: Any, kind: str) -> None:
    billing = make_billing(api_rate_limit_storage=DOWN, webhook_rate_limit="2/minute")
    http = _webhook_client(kind, billing)
    body, headers = _signed(billing, _event(billing))
    _fresh_window()
    assert [http.post("/billing/webhooks", body, headers)[0] for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_storage_down_open_lets_everything_through(make_billing: Any, kind: str) -> None:
    billing = make_billing(api_rate_limit_storage=DOWN, webhook_rate_limit="1/minute",
                           rate_limit_on_storage_error="open")
    http = _webhook_client(kind, billing)
    body, headers = _signed(billing, _event(billing))
    assert [http.post("/billing/webhooks", body, headers)[0] for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize(("option", "value", "says"), [
    ("rate_limit_on_storage_error", "sometimes", "'memory', 'closed' or 'open'"),
    ("rate_limit_on_storage_error", "", "'memory', 'closed' or 'open'"),
    ("portal_rate_limit", "lots", "portal_rate_limit must read like '30/minute'"),
    ("admin_rate_limit", "0/minute", "at least 1"),
    ("webhook_rate_limit", "5/fortnight", "webhook_rate_limit must read like"),
    ("webhook_rate_limit", "", "webhook_rate_limit must read like"),
    ("portal_rate_limit", 30, "portal_rate_limit"),
])
def test_bad_options_are_a_configuration_error(option: str, value: Any, says: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Billing(database_url="sqlite://", stripe_emulator=True, **{option: value})
    assert says in str(refused.value)


@pytest.mark.parametrize(("scope", "key"), [("api", "k"), ("", "k"), (["portal"], "k"), ("portal", 42), (None, "k"),
                                            ("portal", ""), ("webhook", "x" * 300), ("admin", "a\x00")])
def test_check_refuses_an_unknown_scope_or_key(make_billing: Any, scope: Any, key: Any) -> None:
    billing = make_billing()
    with pytest.raises(InvalidInputError, match=r"scope|key"):
        billing.rate_limits.check(scope, key)
