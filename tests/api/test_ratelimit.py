"""The rate limiter alone: exact for one process, never over the limit for several sharing Redis, and, when
its storage is down, what ``on_storage_error`` says: count in memory (and go back to Redis once it answers),
refuse with RateLimitUnavailableError, or let requests through; each outage logged once, without secrets."""

from __future__ import annotations

import logging
import time
import uuid

import pytest

from billingos import RateLimitUnavailableError
from billingos.ratelimit import RateLimiter

from .tcp_proxy import TcpProxy

DOWN = "redis://:hunter2@127.0.0.1:1/0"     # a closed port: connections are refused


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


def test_storage_down_open_lets_requests_through_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter({"billing:read": "1/minute"}, DOWN, on_storage_error="open")
    with caplog.at_level(logging.WARNING, logger="billingos.ratelimit"):
        assert [limiter.hit("key_a", "billing:read") for _ in range(3)] == [None, None, None]
    assert limiter.degraded
    assert len(caplog.records) == 1 and "failed" in caplog.text and "letting requests through" in caplog.text
    assert "hunter2" not in caplog.text


def test_storage_down_memory_keeps_the_same_limits_in_this_process(caplog: pytest.LogCaptureFixture) -> None:
    _fresh_window()
    limiter = RateLimiter({"billing:read": "3/minute", "usage:write": "2/second;5/minute"}, DOWN)
    with caplog.at_level(logging.WARNING, logger="billingos.ratelimit"):
        got = [limiter.hit("key_a", "billing:read") for _ in range(4)]
    assert [(d.allowed, d.remaining) for d in got if d] == [(True, 2), (True, 1), (True, 0), (False, 0)]
    assert got[-1].headers()["Retry-After"] == str(got[-1].reset)  # type: ignore[union-attr]
    assert limiter.hit("key_b", "billing:read").allowed               # type: ignore[union-attr]  # own budget
    assert [limiter.hit("key_a", "usage:write").allowed for _ in range(3)] == [True, True, False]  # type: ignore[union-attr]
    assert len(caplog.records) == 1 and "counting in this process's memory" in caplog.text
    assert "hunter2" not in caplog.text


def test_storage_down_closed_refuses_with_retry_after() -> None:
    limiter = RateLimiter({"billing:read": "100/minute"}, DOWN, on_storage_error="closed", retry_storage_every=7)
    with pytest.raises(RateLimitUnavailableError) as refused:
        limiter.hit("key_a", "billing:read")
    assert (refused.value.status, refused.value.code) == (503, "rate_limit_unavailable")
    assert 1 <= refused.value.retry_after <= 7
    with pytest.raises(RateLimitUnavailableError):     # still refused while the storage is not tried again
        limiter.hit("key_a", "billing:read")


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="on_storage_error"):
        RateLimiter({"billing:read": "1/minute"}, "memory://", on_storage_error="sometimes")


@pytest.mark.redis
def test_memory_fallback_goes_back_to_redis_when_it_answers(redis_url: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """Redis behind a real TCP forwarder: counted in Redis, then in memory while the forwarder is down, then
    in Redis again (the same counter as before the outage) once it is back."""
    _fresh_window()
    host_port = redis_url.split("://", 1)[1].split("/", 1)
    host, port = host_port[0].rsplit(":", 1)
    proxy = TcpProxy((host, int(port)))
    proxy.start()
    key = f"key_{uuid.uuid4().hex[:12]}"
    limiter = RateLimiter({"billing:read": "5/minute"}, f"redis://127.0.0.1:{proxy.port}/{host_port[1] or 0}",
                          retry_storage_every=0)
    other = RateLimiter({"billing:read": "5/minute"}, redis_url)       # another process on the real Redis
    try:
        with caplog.at_level(logging.WARNING, logger="billingos.ratelimit"):
            assert [limiter.hit(key, "billing:read").remaining for _ in range(2)] == [4, 3]  # type: ignore[union-attr]
            proxy.stop()
            down = [limiter.hit(key, "billing:read") for _ in range(6)]
            assert limiter.degraded
            assert [d.allowed for d in down if d] == [True] * 5 + [False]    # memory: its own count from 0
            proxy.start()
            back = limiter.hit(key, "billing:read")
        assert not limiter.degraded and back is not None and back.remaining == 2   # Redis's count: 3rd of 5
        assert other.hit(key, "billing:read").remaining == 1                       # type: ignore[union-attr]
        assert "failed" in caplog.text and "is back" in caplog.text and len(caplog.records) == 2
    finally:
        proxy.stop()
