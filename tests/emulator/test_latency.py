"""``Emulator(latency=...)``: each call waits, outside the emulator's lock, so concurrent callers overlap."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from billingos.emulator import Emulator
from billingos.emulator.settings import latency_for


def test_one_number_delays_every_call() -> None:
    em = Emulator(latency=0.05)
    start = time.monotonic()
    em.client().v1.customers.create()
    assert time.monotonic() - start >= 0.05


def test_a_mapping_matches_method_and_path_patterns() -> None:
    knob = {"POST /v1/customers": 0.3, "GET /v1/customers/*": 0.2, "* /v1/invoices/**": 0.1, "/v1/prices": 0.05}
    assert latency_for(knob, "POST", "/v1/customers") == 0.3
    assert latency_for(knob, "GET", "/v1/customers") == 0.0
    assert latency_for(knob, "GET", "/v1/customers/cus_1") == 0.2
    assert latency_for(knob, "GET", "/v1/customers/cus_1/payment_methods") == 0.0
    assert latency_for(knob, "POST", "/v1/invoices/in_1/pay") == 0.1
    assert latency_for(knob, "DELETE", "/v1/prices") == 0.05
    assert latency_for(lambda method, path: 0.01 if method == "GET" else 0.0, "GET", "/v1/x") == 0.01


@pytest.mark.parametrize("bad", [-1, float("nan"), "0.1", True, {"GET /v1/x": -2}])
def test_a_knob_that_cannot_work_is_refused_at_once(bad: object) -> None:
    with pytest.raises(ValueError, match="latency"):
        Emulator(latency=bad)  # type: ignore[arg-type]


def test_concurrent_calls_wait_side_by_side_not_in_line() -> None:
    """Eight threads meet inside the latency callable: impossible if the wait held the emulator's lock."""
    barrier = threading.Barrier(8, timeout=5)

    def knob(method: str, path: str) -> float:
        if path == "/v1/customers" and method == "POST":
            barrier.wait()                       # BrokenBarrierError if calls are serialized
            return 0.2
        return 0.0

    em = Emulator(latency=knob)
    client = em.client()
    start = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda i: client.v1.customers.create(params={"name": f"c{i}"}), range(8)))
    elapsed = time.monotonic() - start
    assert len({c.id for c in made}) == 8
    assert elapsed < 8 * 0.2 / 2                 # serialized, 1.6 s; side by side, about 0.2 s
