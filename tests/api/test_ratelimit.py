"""The rate limiter alone: exact for one process, never over the limit for several sharing Redis, and open
(with a warning) when its storage is down."""

from __future__ import annotations

import logging
import time
import uuid

import pytest

from billingos.api.ratelimit import RateLimiter


def _fresh_window() -> None:
    while time.time() % 60 > 50:
        time.sleep(0.5)


def test_one_process_is_exact() -> None:
    _fresh_window()
    limiter = RateLimiter({"billing:read": "250/minute"}, "memory://")
    got = [limiter.hit("key_a", "billing:read") for _ in range(260)]
    assert [d.allowed for d in got if d] == [True] * 250 + [False] * 10
    assert [got[i].remaining for i in (0, 1, 249)] == [249, 248, 0]  # type: ignore[union-attr]
    assert got[-1].headers()["Retry-After"] == str(got[-1].reset) and 1 <= got[-1].reset <= 60  # type: ignore[union-attr]


@pytest.mark.redis
def test_processes_sharing_redis_never_let_more_than_the_limit_through(redis_url: str) -> None:
    _fresh_window()
    key = f"key_{uuid.uuid4().hex[:12]}"
    processes = [RateLimiter({"usage:write": "1000/minute"}, redis_url) for _ in range(3)]   # blocks of 10
    allowed = sum(bool(p.hit(key, "usage:write").allowed) for _ in range(400)  # type: ignore[union-attr]
                  for p in processes)
    assert 1000 - 3 * 10 <= allowed <= 1000


def test_storage_down_lets_requests_through_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter({"billing:read": "1/minute"}, "redis://:hunter2@127.0.0.1:1/0")
    with caplog.at_level(logging.WARNING, logger="billingos.api"):
        assert limiter.hit("key_a", "billing:read") is None
    assert "failed" in caplog.text and "hunter2" not in caplog.text
