"""Each operation of the JSON API, through both adapters, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from .conftest import Http, World


def test_check_answers_like_billing_check(http: Http, world: World) -> None:
    r = http.get("entitlements/check", key=world.keys["a"], params={"feature": "api_calls", "amount": "5"})
    assert r.status == 200 and r.headers["content-type"].startswith("application/json")
    expected = world.billing.check("org_a", "api_calls", 5)
    assert r.json == {"feature": "api_calls", "allowed": True, "limit": 1000, "used": 0, "remaining": 1000,
                      "resets_at": r.json["resets_at"], "reason": expected.reason}
    assert expected.limit == 1000 and r.json["resets_at"] is not None
    assert http.get("entitlements/check", key=world.keys["a"], params={"feature": "export"}).json["allowed"] is True
    unknown = http.get("entitlements/check", key=world.keys["a"], params={"feature": "teleport"}).json
    assert unknown["allowed"] is False and unknown["reason"] == world.billing.check("org_a", "teleport").reason


def test_usage_one_event_is_recorded_once(http: Http, world: World) -> None:
    event = {"meter": "api_calls", "value": 7, "idempotency_key": "req-1"}
    first = http.post("usage", key=world.keys["a"], body=event)
    assert (first.status, first.json) == (200, {"accepted": 1, "duplicates": 0})
    again = http.post("usage", key=world.keys["a"], body=event)
    assert again.json == {"accepted": 0, "duplicates": 1}
    assert world.billing.usage.total("org_a", "api_calls") == 7
    check = http.get("entitlements/check", key=world.keys["a"], params={"feature": "api_calls"}).json
    expected = world.billing.check("org_a", "api_calls")
    assert (check["used"], check["remaining"]) == (expected.used, expected.remaining)


def test_usage_batch_is_all_or_nothing(http: Http, world: World) -> None:
    events = [{"meter": "api_calls", "value": v, "idempotency_key": f"b-{v}"} for v in (1, 2, 3)]
    r = http.post("usage", key=world.keys["a"], body={"events": [*events, events[0]]})
    assert r.json == {"accepted": 3, "duplicates": 1}
    before = world.rows("billing_usage_events")
    bad = [{"meter": "api_calls", "value": 1, "idempotency_key": "b-9"},
           {"meter": "api_calls", "value": -4, "idempotency_key": "b-10"}]
    refused = http.post("usage", key=world.keys["a"], body={"events": bad})
    assert refused.status == 400 and refused.json["param"] == "events[1].value"
    assert world.rows("billing_usage_events") == before and world.billing.usage.total("org_a", "api_calls") == 6


def test_server_key_names_the_owner(http: Http, world: World) -> None:
    r = http.post("usage", key=world.keys["server"],
                  body={"events": [{"meter": "api_calls", "value": 2, "idempotency_key": "s-1", "owner_id": "org_b"}]})
    assert r.json["accepted"] == 1 and world.billing.usage.total("org_b", "api_calls") == 2
    missing = http.get("customer", key=world.keys["server"])
    assert missing.status == 400 and missing.json["param"] == "owner_id"
    assert http.get("customer", key=world.keys["server"], params={"owner_id": "org_b"}).json["owner_id"] == "org_b"


def test_subscription_invoices_and_customer_are_the_owners(http: Http, world: World) -> None:
    sub = http.get("subscription", key=world.keys["a"])
    assert sub.status == 200 and sub.json["id"] == world.subs["org_a"] and sub.json["status"] == "active"
    invoices = http.get("invoices", key=world.keys["a"], params={"limit": "5"}).json["items"]
    expected = world.billing.invoices.list("org_a", limit=5)
    assert [i["id"] for i in invoices] == [i.id for i in expected] and expected
    assert {i["owner_id"] for i in invoices} == {"org_a"} and invoices[0]["total"] == expected[0].total
    customer = http.get("customer", key=world.keys["read"]).json
    assert (customer["owner_id"], customer["email"]) == ("org_a", "org_a@example.com")
    none = http.get("subscription", key=world.keys["server"], params={"owner_id": "org_none"})
    assert none.status == 404 and none.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path, params, param", [
    ("entitlements/check", {}, "feature"),
    ("entitlements/check", {"feature": "api_calls", "amount": "lots"}, "amount"),
    ("entitlements/check", {"feature": "api calls"}, "feature"),
    ("invoices", {"limit": "0"}, "limit"),
    ("invoices", {"status": "lost"}, "status"),
    ("customer", {"owner_id": " org_a"}, "owner_id"),
    ("customer", {"colour": "red"}, "colour"),
])
def test_bad_query_is_a_400_problem_naming_the_parameter(http: Http, world: World, path: str, params: dict,  # type: ignore[type-arg]
                                                         param: str) -> None:
    r = http.get(path, key=world.keys["a"], params=params)
    assert r.status == 400 and r.headers["content-type"] == "application/problem+json"
    assert r.json["param"] == param and r.json["type"].endswith("/invalid_input") and r.json["detail"]


@pytest.mark.parametrize("raw, param", [
    (b"not json", "body"), (b"[1, 2]", "body"), (b'{"meter": "api_calls"}', "value"),
    (b'{"meter": "api_calls", "value": 1, "idempotency_key": "k", "extra": 1}', "extra"),
    (b'{"events": []}', "events"), (b'{"meter": "nope", "value": 1, "idempotency_key": "k"}', "meter"),
])
def test_bad_usage_body_is_a_400_and_writes_nothing(http: Http, world: World, raw: bytes, param: str) -> None:
    before = world.rows("billing_usage_events")
    r = http.post("usage", key=world.keys["a"], raw=raw)
    assert r.status == 400 and r.json["param"] == param
    assert world.rows("billing_usage_events") == before


def test_unknown_paths_and_methods_are_problems(http: Http, world: World) -> None:
    r = http.get("teleport", key=world.keys["a"])
    assert r.status == 404 and r.headers["content-type"] == "application/problem+json"
    r = http.request("DELETE", "usage", key=world.keys["a"])
    assert r.status == 405 and r.headers["allow"] == "POST"


def test_request_id_is_echoed_or_made(http: Http, world: World) -> None:
    r = http.get("customer", key=world.keys["a"], headers={"X-Request-ID": "req-abc.1"})
    assert r.headers["x-request-id"] == "req-abc.1"
    made = http.get("customer", key=world.keys["a"], headers={"X-Request-ID": "bad id\t"}).headers["x-request-id"]
    assert len(made) == 32 and made != "bad id"
    problem = http.get("customer").json
    assert len(problem["request_id"]) == 32
