"""The JSON API's security list, through both adapters: 401/401/401/403 with nothing written, another
owner's data is a 404, 429 per key after the configured number, no secret in logs or the audit table."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import text

from billingos import Billing

from .conftest import ALL, Http, World, build_world

GETS = [("entitlements/check", {"feature": "export"}), ("subscription", {}), ("invoices", {}), ("customer", {})]
EVENT = {"meter": "api_calls", "value": 1, "idempotency_key": "sec-1"}


def _refusals(world: World) -> dict[str, dict[str, str]]:
    revoked = world.billing.api_keys.create("to revoke", ALL, owner_id="org_a")
    world.billing.api_keys.revoke(revoked.key.id)
    good = world.keys["a"]
    flipped = good[:-1] + ("A" if good[-1] != "A" else "B")
    return {"missing": {}, "malformed: no scheme": {"Authorization": good},
            "malformed: basic": {"Authorization": f"Basic {good}"},
            "malformed: empty bearer": {"Authorization": "Bearer "},
            "malformed: two tokens": {"Authorization": f"Bearer {good} {good}"},
            "malformed: not a key": {"Authorization": "Bearer sk_test_123"},
            "wrong key": {"Authorization": f"Bearer {flipped}"},
            "revoked key": {"Authorization": f"Bearer {revoked.secret}"},
            "live key in test mode": {"Authorization": f"Bearer {good.replace('bos_test_', 'bos_live_')}"}}


def test_wrong_revoked_and_malformed_keys_are_401_and_write_nothing(http: Http, world: World) -> None:
    cases = _refusals(world)
    usage, audit = world.rows("billing_usage_events"), world.rows("billing_audit_events")
    with world.billing.engine.connect() as c:
        last_used = c.execute(text("SELECT key_id, last_used_at FROM billing_api_keys ORDER BY id")).all()
    for label, headers in cases.items():
        for path, params in GETS:
            r = http.get(path, headers=headers, params=params)
            assert r.status == 401, (label, path, r.text)
            assert r.headers["www-authenticate"].startswith('Bearer realm="billingos"')
            assert r.headers["content-type"] == "application/problem+json" and r.json["status"] == 401
        r = http.post("usage", headers=headers, body=EVENT)
        assert r.status == 401, (label, r.text)
        tokens = [t for v in headers.values() for t in v.split() if len(t) > 12]
        assert all(t not in r.text for t in tokens), "a refusal repeats the presented credential"
    assert (world.rows("billing_usage_events"), world.rows("billing_audit_events")) == (usage, audit)
    with world.billing.engine.connect() as c:
        assert c.execute(text("SELECT key_id, last_used_at FROM billing_api_keys ORDER BY id")).all() == last_used


def test_wrong_scope_is_403_and_writes_nothing(http: Http, world: World) -> None:
    before = world.rows("billing_usage_events")
    r = http.post("usage", key=world.keys["read"], body=EVENT)
    assert r.status == 403 and r.json["scope"] == "usage:write"
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    r = http.get("entitlements/check", key=world.keys["read"], params={"feature": "export"})
    assert r.status == 403 and r.json["scope"] == "entitlements:read"
    assert world.rows("billing_usage_events") == before


def test_an_owners_key_never_reads_or_writes_another_owners_data(http: Http, world: World) -> None:
    for path, params in GETS:
        r = http.get(path, key=world.keys["a"], params={**params, "owner_id": "org_b"})
        assert r.status == 404 and "org_b" not in r.text.replace('"param": "owner_id"', ""), (path, r.text)
        nobody = http.get(path, key=world.keys["a"], params={**params, "owner_id": "org_nobody"})
        assert (nobody.status, nobody.json["detail"]) == (404, r.json["detail"])   # indistinguishable
    before = world.rows("billing_usage_events")
    r = http.post("usage", key=world.keys["a"], body={**EVENT, "owner_id": "org_b"})
    assert r.status == 404
    batch = {"events": [EVENT, {**EVENT, "idempotency_key": "sec-2", "owner_id": "org_b"}]}
    assert http.post("usage", key=world.keys["a"], body=batch).status == 404
    assert world.rows("billing_usage_events") == before and world.billing.usage.total("org_b", "api_calls") == 0
    # naming its own owner is fine; the other owner's key sees its own
    assert http.get("customer", key=world.keys["a"], params={"owner_id": "org_a"}).json["owner_id"] == "org_a"
    assert http.get("subscription", key=world.keys["b"]).json["id"] == world.subs["org_b"]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limited(request: pytest.FixtureRequest, engine, emulator, clock) -> Billing:  # type: ignore[no-untyped-def]
    storage = "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")
    return Billing(engine=engine, emulator=emulator, clock=clock, api_rate_limit_storage=storage,
                   api_rate_limits={"billing:read": "3/minute", "entitlements:read": "5/second;4/minute"})


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_rate_limit_answers_429_per_key_after_the_configured_number(limited: Billing, kind: str) -> None:
    world = build_world(limited)
    while time.time() % 60 > 55:     # windows are aligned to the clock: start well inside one minute
        time.sleep(0.5)
    http = Http(kind, limited)
    seen = [http.get("customer", key=world.keys["a"]) for _ in range(3)]
    assert [r.status for r in seen] == [200, 200, 200]
    assert [r.headers["ratelimit-remaining"] for r in seen] == ["2", "1", "0"]
    assert {r.headers["ratelimit-limit"] for r in seen} == {"3"} and seen[0].headers["ratelimit-policy"] == "3;w=60"
    refused = http.get("customer", key=world.keys["a"])
    assert refused.status == 429 and refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60 and refused.json["retry_after"] == int(
        refused.headers["retry-after"])
    assert http.get("customer", key=world.keys["read"]).status == 200          # another key: its own budget
    assert http.get("invoices", key=world.keys["a"]).status == 429             # same key, same scope
    checks = [http.get("entitlements/check", key=world.keys["a"], params={"feature": "export"}).status
              for _ in range(5)]
    assert checks == [200, 200, 200, 200, 429]                                 # the tighter of two windows
    limited.entitlements.close()


def test_no_secret_in_logs_or_the_audit_table(http: Http, world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    created = world.billing.api_keys.create("logged", ALL, owner_id="org_a")
    secrets = [*world.keys.values(), created.secret]
    http.get("customer", key=created.secret)
    http.post("usage", key=created.secret, body=EVENT)
    http.get("customer", headers={"Authorization": f"Bearer {created.secret[:-1]}x"})
    world.billing.api_keys.revoke(created.key.id)
    http.get("customer", key=created.secret)
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    with world.billing.engine.connect() as c:
        table = str(c.execute(text("SELECT * FROM billing_audit_events")).all())
        keys_table = str(c.execute(text("SELECT * FROM billing_api_keys")).all())
    for secret in secrets:
        tail = secret[-43:]        # the random part (token_urlsafe: it may itself hold "_", so not split)
        for haystack in (logged, table, keys_table):
            assert secret not in haystack and tail[:20] not in haystack
    assert "whsec_" not in table and "4242424242424242" not in table
    assert world.billing.audit.list(target_id=created.key.id).items[0].action == "api_key.revoked"
