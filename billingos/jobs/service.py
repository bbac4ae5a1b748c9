"""``billing.jobs``: the one durable-work primitive. Webhook processing, usage pushes and later dunning,
notifications and scoring are queues on it.

- ``enqueue(session, queue, key=..., payload=...)`` writes a row in the caller's transaction (the
  transactional outbox); ``(queue, key)`` is unique, so the same work enqueued twice is stored once.
  After the commit the queue's trigger runs: the host's huey task, or the work inline.
- A worker claims due jobs atomically (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) under a lease with a
  token. A grouped queue hands a worker every due job of a group together (events about one object).
- The handler gets each claimed batch (and isolates failures inside it if it wants, with ``fail`` and
  ``failed``). Success marks the batch done; ``done(session, jobs)`` marks them done
  inside the handler's own transaction instead, fenced by the lease token, so the work's effects and the
  job's status commit together (exactly once). An exception backs off exponentially; after
  ``max_attempts`` (or at once for ``PermanentJobError``) the job is dead, until ``replay``.
- ``retry_due()`` (periodic) re-triggers failed jobs whose backoff passed, expired leases, and pending
  jobs whose trigger was lost after the commit.
"""

from __future__ import annotations

import secrets
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from .. import validation
from ..db import insert_ignore, on_commit
from ..errors import InvalidInputError, NotFoundError
from ..insert_many import insert_new
from .models import STATUSES, BillingJob
from .schemas import JobInfo

if TYPE_CHECKING:
    from ..context import Context

__all__ = ["Job", "Jobs", "LeaseLostError", "NewJob", "PermanentJobError", "Queue"]

STRANDED_AFTER = timedelta(seconds=30)     # a pending job this old lost its trigger: retry_due runs it


class PermanentJobError(Exception):
    """Raised by a handler for work that can never succeed (e.g. Stripe refused it): dead at once."""


class LeaseLostError(Exception):
    """Another worker took the job over (this worker's lease expired); its transaction must roll back."""


@dataclass
class Job:
    """A claimed job, as its handler sees it."""

    id: int
    queue: str
    key: str
    group_key: str | None
    payload: dict[str, Any]
    attempts: int
    token: str
    finished: bool = False


Handler = Callable[[list[Job]], Any]


@dataclass(frozen=True)
class NewJob:
    """One job for ``enqueue_many``: its key, payload and group (due now)."""

    key: str
    payload: dict[str, Any] | None = None
    group: str | None = None


@dataclass
class Queue:
    name: str
    handler: Handler
    max_attempts: int | None = 8                 # None: transient failures retry for ever (with the backoff)
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=6)
    lease: timedelta = timedelta(minutes=5)
    batch: int = 100                             # jobs one claim takes
    grouped: bool = False
    trigger: Callable[[str], Any] | None = None  # runs after the commit that enqueued job ``key``
    on_dead: Callable[[JobInfo], Any] | None = None
    running: set[int] = field(default_factory=set)   # thread ids inside run(): an inline trigger must not recurse
    poked: set[int] = field(default_factory=set)     # ...and those whose handler triggered more: claim again

    def backoff(self, attempts: int) -> timedelta:
        return min(self.base_delay * (2 ** max(0, attempts - 1)), self.max_delay)


class Jobs:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self.queues: dict[str, Queue] = {}
        ctx.tasks.job("jobs.run", self.run)
        ctx.tasks.every("jobs.retry_due", timedelta(minutes=1), self.retry_due)

    # --- declaring and enqueueing -------------------------------------------------------------------
    def define(self, name: str, handler: Handler, **options: Any) -> Queue:
        """Declare queue ``name``; see ``Queue`` for the options."""
        if name in self.queues:
            raise ValueError(f"job queue {name!r} is already defined")
        queue = self.queues[name] = Queue(name, handler, **options)
        return queue

    def enqueue(self, session: Session, queue: str, *, key: str, payload: dict[str, Any] | None = None,
                group: str | None = None, run_at: datetime | None = None, trigger: bool = True) -> bool:
        """Store a job in ``session``'s transaction; after its commit, trigger it (unless ``trigger=False``:
        the caller runs it, or ``retry_due`` will). False when ``(queue, key)`` was already enqueued
        (nothing new is stored or triggered)."""
        q = self._queue(queue)
        now = self._ctx.now()
        inserted = insert_ignore(session, BillingJob, {
            "queue": queue, "key": key, "group_key": group, "payload": payload or {}, "status": "pending",
            "attempts": 0, "run_at": run_at or now, "created_at": now}, key=["queue", "key"])
        if inserted and trigger and (run_at is None or run_at <= now):
            on_commit(session, lambda: self._trigger(q, key))
        return inserted

    def enqueue_many(self, session: Session, queue: str, jobs: Sequence[NewJob], *,
                     trigger: bool = True) -> set[str]:
        """``enqueue`` for many jobs in one statement (bulk intakes), due now. After the commit one new job is
        triggered as ``enqueue`` triggers it (the queue's trigger); several, by one run of the queue (the
        ``jobs.run`` task: every due job, in order, in batches) rather than one trigger each. ``trigger=False``
        leaves them to the caller or ``retry_due``. Returns the keys newly stored; a key already enqueued, or
        repeated in ``jobs``, is stored once."""
        q = self._queue(queue)
        now = self._ctx.now()
        rows = [{"queue": queue, "key": job.key, "group_key": job.group, "payload": job.payload or {},
                 "status": "pending", "attempts": 0, "run_at": now, "created_at": now} for job in jobs]
        inserted = {key for _, key in insert_new(session, BillingJob, rows, key=["queue", "key"])}
        if len(inserted) == 1 and trigger:
            key = next(iter(inserted))
            on_commit(session, lambda: self._trigger(q, key))
        elif inserted and trigger:
            on_commit(session, lambda: self._ctx.tasks.enqueue("jobs.run", q.name))
        return inserted

    def _trigger(self, q: Queue, key: str) -> None:
        if q.trigger is not None:
            q.trigger(key)
        else:
            self._ctx.tasks.enqueue("jobs.run", q.name)

    # --- running ----------------------------------------------------------------------------------
    def run(self, queue: str, *, key: str | None = None, limit: int | None = None) -> int:
        """Claim and handle due jobs of ``queue`` until none is left (or ``limit`` were handled). With
        ``key``, start with that job (and its group). Returns how many jobs were handled."""
        q = self._queue(queue)
        _optional_key_and_limit(key, limit)
        me = threading.get_ident()
        if me in q.running:       # an inline trigger from inside a handler: the outer loop takes it
            q.poked.add(me)
            return 0
        q.running.add(me)
        try:
            handled = 0
            while limit is None or handled < limit:
                room = q.batch if limit is None else min(q.batch, limit - handled)
                q.poked.discard(me)
                claimed = self._claim(q, key=key, limit=room)
                key = None
                if claimed:
                    self._handle(q, claimed)
                    handled += len(claimed)
                if len(claimed) < room and me not in q.poked:     # no more due jobs, none enqueued meanwhile
                    break
            return handled
        finally:
            q.running.discard(me)
            q.poked.discard(me)

    def claim(self, queue: str, *, key: str | None = None, limit: int | None = None) -> list[Job]:
        """Claim due jobs of ``queue`` for a worker of your own (``run`` claims and handles them for you)."""
        q = self._queue(queue)
        _optional_key_and_limit(key, limit)
        return self._claim(q, key=key, limit=limit or q.batch)

    def _claim(self, q: Queue, *, key: str | None, limit: int) -> list[Job]:
        """One transaction: job ``key`` (if it is due), then other due jobs up to ``limit``, then (a grouped
        queue, when the batch filled up) the due jobs of the claimed groups left behind."""
        now, token = self._ctx.now(), secrets.token_hex(8)
        j = BillingJob
        due = or_(and_(j.status.in_(("pending", "failed")), j.run_at <= now),
                  and_(j.status == "running", j.lease_until < now))
        postgres = self._ctx.dialect == "postgresql"

        def ids(*where: Any, room: int | None = None) -> Any:
            stmt = select(j.id).where(j.queue == q.name, due, *where).order_by(j.id)
            stmt = stmt.limit(room) if room is not None else stmt
            return stmt.with_for_update(skip_locked=True) if postgres else stmt

        with self._ctx.transaction() as s:
            rows: list[Job] = []
            if key is not None:
                rows = self._take(s, q, ids(j.key == key), due, now, token)
                if not rows:
                    return []     # not due: done, backing off, or another worker holds it
            if limit > len(rows):
                rows += self._take(s, q, ids(j.id.not_in([r.id for r in rows]), room=limit - len(rows)), due,
                                   now, token)
            groups = sorted({r.group_key for r in rows if r.group_key is not None})
            if q.grouped and groups and len(rows) >= limit:
                rows += self._take(s, q, ids(j.group_key.in_(groups), j.id.not_in([r.id for r in rows])), due,
                                   now, token)
        return sorted(rows, key=lambda r: r.id)

    @staticmethod
    def _take(s: Session, q: Queue, ids: Any, due: Any, now: datetime, token: str) -> list[Job]:
        j = BillingJob
        stmt = (update(j).where(j.id.in_(ids.scalar_subquery()), due)
                .values(status="running", attempts=j.attempts + 1, lease_until=now + q.lease, claimed_by=token)
                .returning(j.id, j.key, j.group_key, j.payload, j.attempts)
                .execution_options(synchronize_session=False))
        return [Job(r.id, q.name, r.key, r.group_key, dict(r.payload or {}), r.attempts, token)
                for r in s.execute(stmt)]

    def _handle(self, q: Queue, jobs: list[Job]) -> None:
        try:
            q.handler(jobs)
        except LeaseLostError:
            return                               # the worker that took over settles these jobs
        except PermanentJobError as exc:
            self.failed(jobs, exc, permanent=True)
            return
        except Exception as exc:  # any handler failure: record it, retry later, never lose the job
            self.failed(jobs, exc)
            return
        left = [j for j in jobs if not j.finished]
        if left:
            with self._ctx.transaction() as s:
                self._finish(s, left, result=None, strict=False)

    def done(self, session: Session, jobs: Sequence[Job], *, result: str | None = None) -> None:
        """Mark ``jobs`` done in the caller's transaction. LeaseLostError (roll back) if another worker
        took any of them over."""
        self._finish(session, list(jobs), result=result, strict=True)

    def _finish(self, s: Session, jobs: list[Job], *, result: str | None, strict: bool) -> None:
        j = BillingJob
        by_token: dict[str, list[int]] = {}
        for job in jobs:
            by_token.setdefault(job.token, []).append(job.id)
        changed = 0
        for token, ids in by_token.items():
            changed += s.execute(update(j).where(j.id.in_(ids), j.status == "running", j.claimed_by == token)
                                 .values(status="done", result=result, finished_at=self._ctx.now(),
                                         lease_until=None, last_error=None)
                                 .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        if strict and changed != len(jobs):
            raise LeaseLostError("another worker took these jobs over")
        for job in jobs:
            job.finished = True

    def fail(self, session: Session, jobs: Sequence[Job], exc: BaseException, *, permanent: bool = False) -> None:
        """Record a failure for ``jobs`` in the caller's transaction (the rest of its batch may succeed)."""
        for queue, group in _by_queue(jobs).items():
            self._record_failure(session, group, self._queue(queue), exc, permanent=permanent)

    def failed(self, jobs: Sequence[Job], exc: BaseException, *, permanent: bool = False) -> None:
        """Record a failure for ``jobs`` in a transaction of its own."""
        left = [j for j in jobs if not j.finished]
        if left:
            with self._ctx.transaction() as s:
                self.fail(s, left, exc, permanent=permanent)

    def _record_failure(self, s: Session, jobs: list[Job], q: Queue, exc: BaseException, *,
                        permanent: bool) -> None:
        j = BillingJob
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]
        now = self._ctx.now()
        for job in jobs:
            dead = permanent or (q.max_attempts is not None and job.attempts >= q.max_attempts)
            values: dict[str, Any] = {"last_error": error, "lease_until": None}
            if dead:
                values.update(status="dead", finished_at=now)
            else:
                values.update(status="failed", run_at=now + q.backoff(job.attempts))
            updated = s.execute(update(j).where(j.id == job.id, j.status == "running", j.claimed_by == job.token)
                                .values(**values).execution_options(synchronize_session=False))
            job.finished = True
            if dead and updated.rowcount and q.on_dead is not None:  # type: ignore[attr-defined]
                info = self._info(s, job.id)
                on_commit(s, lambda info=info: q.on_dead(info))  # type: ignore[misc]

    # --- operations --------------------------------------------------------------------------------
    def retry_due(self, queue: str | None = None) -> int:
        """Periodic: trigger failed jobs whose backoff passed, jobs whose lease expired, and pending jobs
        whose trigger was lost. Returns how many were triggered."""
        now = self._ctx.now()
        j = BillingJob
        stmt = select(j.queue, j.key).where(or_(
            and_(j.status == "pending", j.created_at <= now - STRANDED_AFTER, j.run_at <= now),
            and_(j.status == "pending", j.run_at > j.created_at, j.run_at <= now),
            and_(j.status == "failed", j.run_at <= now),
            and_(j.status == "running", j.lease_until < now))).order_by(j.id)
        if queue is not None:
            stmt = stmt.where(j.queue == self._queue(queue).name)
        with self._ctx.session_factory() as s:
            due = [(name, key) for name, key in s.execute(stmt) if name in self.queues]
        for name, key in due:
            self._trigger(self.queues[name], key)
        return len(due)

    def replay(self, queue: str, *, keys: Iterable[str] | None = None, status: str = "dead",
               result: str | None = None) -> list[str]:
        """Reset jobs to pending and trigger them: the given keys, or every job of ``queue`` in ``status``
        (and, for done jobs, with ``result``)."""
        q = self._queue(queue)
        validation.choice(status, "status", STATUSES)
        if result is not None:
            validation.lookup_key(result, "result")
        wanted = None if keys is None else validation.keys(keys)
        j = BillingJob
        with self._ctx.transaction() as s:
            stmt = select(j).where(j.queue == q.name)
            stmt = stmt.where(j.key.in_(wanted)) if wanted is not None else stmt.where(j.status == status)
            if result is not None:
                stmt = stmt.where(j.result == result)
            rows = list(s.scalars(stmt.order_by(j.id)))
            if wanted is not None and len(rows) != len(set(wanted)):
                missing = sorted(set(wanted) - {r.key for r in rows})
                raise NotFoundError(f"No {q.name} job {missing[0]!r}.", param="key")
            now = self._ctx.now()
            for row in rows:
                row.status, row.attempts, row.run_at, row.lease_until, row.result = "pending", 0, now, None, None
            out = [r.key for r in rows]
        for k in out:
            self._trigger(q, k)
        return out

    def list(self, *, queue: str | None = None, status: str | None = None, result: str | None = None,
             limit: int = 100, keys: Iterable[str] | None = None) -> list[JobInfo]:
        j = BillingJob
        stmt = select(j).order_by(j.id.desc()).limit(validation.limit(limit, maximum=1_000_000))
        if queue is not None:
            stmt = stmt.where(j.queue == self._queue(queue).name)
        if status is not None:
            stmt = stmt.where(j.status == validation.choice(status, "status", STATUSES))
        if result is not None:
            stmt = stmt.where(j.result == validation.lookup_key(result, "result"))
        if keys is not None:
            stmt = stmt.where(j.key.in_(validation.keys(keys)))
        with self._ctx.session_factory() as s:
            return [JobInfo.from_row(r) for r in s.scalars(stmt)]

    def state(self, queue: str, key: str) -> tuple[str, str | None] | None:
        """(status, result) of one job, or None: one indexed read."""
        name = self._queue(queue).name
        validation.idempotency_key(key, "key")
        j = BillingJob
        with self._ctx.session_factory() as s:
            row = s.execute(select(j.status, j.result).where(j.queue == name, j.key == key)).first()
        return None if row is None else (row[0], row[1])

    def get(self, queue: str, key: str) -> JobInfo | None:
        self._queue(queue)
        validation.idempotency_key(key, "key")
        found = self.list(queue=queue, keys=[key], limit=1)
        return found[0] if found else None

    def _info(self, s: Session, job_id: int) -> JobInfo:
        return JobInfo.from_row(s.get_one(BillingJob, job_id))

    def _queue(self, name: str) -> Queue:
        q = self.queues.get(name) if isinstance(name, str) else None
        if q is None:
            raise InvalidInputError(f"queue must be one of {', '.join(sorted(self.queues)) or 'no queue yet'}, "
                                    f"got {str(name)[:40]!r}.", param="queue")
        return q


def _optional_key_and_limit(key: Any, limit: Any) -> None:
    if key is not None:
        validation.idempotency_key(key, "key")
    if limit is not None:
        validation.limit(limit, maximum=1_000_000)


def _by_queue(jobs: Sequence[Job]) -> dict[str, list[Job]]:
    out: dict[str, list[Job]] = {}
    for job in jobs:
        out.setdefault(job.queue, []).append(job)
    return out
