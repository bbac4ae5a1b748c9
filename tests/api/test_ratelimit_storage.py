"""The JSON API while the rate limiter's storage (Redis) is down, through both adapters, by
``rate_limit_on_storage_error``: "memory" still limits per process, "closed" answers a 503 problem document
with Retry-After, "open" lets every request through. Never a 500."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from billingos import Billing, FrozenClock
from billingos.emulator import Emulator

from .conftest import Http, World, build_world

DOWN = "redis://:hunter2@127.0.0.1:1/0"     # a closed port: connections are refused


@pytest.fixture(params=["memory", "closed", "open"])
def down(request: pytest.FixtureRequest, sqlite_engine: Engine) -> Iterator[tuple[str, World]]:
    clock = FrozenClock(__import__("datetime").datetime(2026, 1, 15, 12, tzinfo=__import__("datetime").UTC))
    billing = Billing(engine=sqlite_engine, emulator=Emulator(clock=clock), clock=clock,
                      api_rate_limit_storage=DOWN, rate_limit_on_storage_error=request.param,
                      api_rate_limits={"billing:read": "3/minute"})
    yield request.param, build_world(billing)
    billing.close()


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_api_with_its_limiter_storage_down(down: tuple[str, World], kind: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    policy, world = down
    while time.time() % 60 > 50:
        time.sleep(0.5)
    http = Http(kind, world.billing)
    seen = [http.get("customer", key=world.keys["a"]) for _ in range(4)]
    statuses = [r.status for r in seen]
    if policy == "memory":
        assert statuses == [200, 200, 200, 429]
        assert [r.headers["ratelimit-remaining"] for r in seen[:3]] == ["2", "1", "0"]
        assert 1 <= int(seen[3].headers["retry-after"]) <= 60
    elif policy == "closed":
        assert statuses == [503] * 4
        for r in seen:
            assert r.headers["content-type"] == "application/problem+json" and int(r.headers["retry-after"]) >= 1
            assert r.json["type"].endswith("/rate_limit_unavailable") and r.json["retry_after"] >= 1
    else:
        assert statuses == [200] * 4 and "ratelimit-remaining" not in seen[0].headers
    assert "hunter2" not in caplog.text
