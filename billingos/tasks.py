"""Where background work runs: inline right after the commit (the default), or on the host's huey."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from .errors import BillingClosedError

__all__ = ["TaskRunner"]

log = logging.getLogger("billingos.tasks")


class TaskRunner:
    """billingos names its jobs; ``register(huey)`` turns each into a huey task on the host's instance."""

    def __init__(self) -> None:
        self.jobs: dict[str, Callable[..., Any]] = {}
        self.periodic: dict[str, tuple[timedelta, Callable[[], Any]]] = {}
        self._huey_tasks: dict[str, Any] | None = None
        self.huey: Any = None
        self.deferred = False               # hold inline jobs in ``queued`` until run_queued() (tests, demos)
        self.queued: list[tuple[str, tuple[Any, ...]]] = []
        self.closed = False

    def job(self, name: str, fn: Callable[..., Any]) -> None:
        self.jobs[name] = fn

    def every(self, name: str, interval: timedelta, fn: Callable[[], Any]) -> None:
        self.periodic[name] = (interval, fn)

    def enqueue(self, name: str, *args: Any) -> None:
        """Run ``name`` in the background (huey) or now (inline). Call it only after a commit."""
        if self.closed:
            raise BillingClosedError(f"billingos job {name!r} was not run: this Billing is closed.")
        if self._huey_tasks is not None:
            self._huey_tasks[name](*args)
        elif self.deferred:
            self.queued.append((name, args))
        else:
            self.jobs[name](*args)

    def run_queued(self) -> int:
        """Run held jobs (and any they enqueue) until none are left. Returns how many ran."""
        if self.closed:
            raise BillingClosedError("Cannot run queued jobs: this Billing is closed.")
        count = 0
        while self.queued:
            name, args = self.queued.pop(0)
            self.jobs[name](*args)
            count += 1
        return count

    def close(self) -> None:
        """Drop held jobs and refuse new ones. The host's huey (and jobs already on it) is left alone."""
        self.closed = True
        if self.queued:
            log.warning("billingos: %d held job(s) dropped by close(): %s", len(self.queued),
                        ", ".join(sorted({name for name, _ in self.queued})))
            self.queued.clear()

    def register(self, huey: Any) -> dict[str, Any]:
        """Add billingos's jobs and periodic jobs to the host's huey. Returns the huey task objects."""
        if self._huey_tasks is not None:
            raise RuntimeError("billingos tasks are already registered on a huey instance.")
        from huey import crontab

        tasks: dict[str, Any] = {}
        for name, fn in self.jobs.items():
            tasks[name] = huey.task(name=f"billingos.{name}")(fn)
        for name, (interval, fn) in self.periodic.items():
            minutes = max(1, int(interval.total_seconds() // 60))
            cron = crontab(minute=f"*/{minutes}") if minutes < 60 else crontab(minute="0",
                                                                                hour=f"*/{minutes // 60}")
            tasks[name] = huey.periodic_task(cron, name=f"billingos.{name}")(fn)
        self._huey_tasks, self.huey = tasks, huey
        return tasks
