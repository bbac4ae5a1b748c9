"""The demo's huey consumer, in a thread of the web process.

In production run the consumer as its own process (``huey_consumer yourapp.tasks.huey -w 4``) on a
RedisHuey; billingos's jobs are registered on it by the same ``billing.register_tasks(huey)`` call."""

from __future__ import annotations

import signal
from typing import Any

from huey import Huey
from huey.consumer import Consumer


def start_consumer(huey: Huey, *, workers: int = 2) -> Consumer:
    """Leave immediate mode and start the consumer's worker and scheduler threads. huey's consumer installs
    its own SIGINT/SIGTERM handlers for the process it owns; here the web server owns the process, so
    its handlers are put back (Ctrl+C still stops the dev server, which then stops this consumer)."""
    huey.immediate = False
    consumer: Consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True)
    saved: dict[int, Any] = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        consumer.start()
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    return consumer


def stop_consumer(consumer: Consumer) -> None:
    consumer.stop(graceful=True)
