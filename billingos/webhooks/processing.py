"""Applying claimed webhook jobs: a batch at a time, Stripe first, then one short transaction.

1. Group the batch's events by the object they are about (its mirror's ``target``): pending events for one
   object are applied with one fetch.
2. Read every object's freshness version (one query), then, outside any transaction, fetch each object
   (or take a ``final`` payload as it is) and ``prepare`` what its apply needs.
3. One transaction for the whole batch, objects in a fixed order (two workers never deadlock): for each,
   the freshness claim, the mirror's apply, each event's subscribers (a savepoint per event), and at the
   end every job marked done. An object another worker applied meanwhile is skipped and redone alone
   with a new fetch; if an apply itself fails, the batch rolls back and each object is redone alone, so
   one bad object backs off without holding up the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import in_many, on_commit
from ..freshness import ROUNDS, StaleStateError, claim_fresh, read_versions
from ..jobs import Job, LeaseLostError
from .mirrors import Mirror, Sync, payload_is_current
from .models import BillingWebhookEvent
from .schemas import WebhookContext

if TYPE_CHECKING:
    from ..context import Context

Handler = Callable[[WebhookContext], Any]


@dataclass
class Group:
    """The claimed events about one object (or one event about nothing billingos mirrors)."""

    jobs: list[Job]
    events: list[dict[str, Any]]
    mirror: Mirror | None
    object_id: str
    lock: str
    current: dict[str, Any] | None = None


class Processor:
    def __init__(self, ctx: Context, *, mirror_for: Callable[[str], Mirror | None],
                 handlers_for: Callable[[str], list[Handler]]) -> None:
        self._ctx = ctx
        self._mirror_for = mirror_for
        self._handlers_for = handlers_for

    def work(self, jobs: list[Job]) -> None:
        groups = self._groups(jobs)
        with self._ctx.session_factory() as s:
            versions = read_versions(s, [g.lock for g in groups if g.mirror is not None])
        ready: list[Group] = []
        for group in groups:
            try:
                self._fetch(group)
                ready.append(group)
            except Exception as exc:  # Stripe unreachable for this object: it backs off, the rest goes on
                self._ctx.jobs.failed(group.jobs, exc)
        try:
            stale = self._apply_batch(ready, versions)
        except LeaseLostError:
            raise
        except Exception:  # an apply failed: redo each object alone, so only the bad one backs off
            for job in (j for g in ready for j in g.jobs):
                job.finished = False      # whatever the rolled-back transaction settled is unsettled again
            stale = ready
        for group in stale:
            try:
                self.apply_alone(group)
            except LeaseLostError:
                raise
            except Exception as exc:
                self._ctx.jobs.failed(group.jobs, exc)

    # --- grouping and fetching -----------------------------------------------------------------------
    def _groups(self, jobs: list[Job]) -> list[Group]:
        payloads = self._payloads(jobs)
        groups: dict[str, Group] = {}
        for job in jobs:
            event = payloads[job.key]
            mirror = self._mirror_for(event["type"])
            target = mirror.target(event) if mirror is not None else None
            if mirror is None or not target:
                groups[f"job:{job.id}"] = Group([job], [event], None, "", f"job:{job.id}")
                continue
            group = groups.setdefault(f"{mirror.name}:{target}", Group([], [], mirror, target, mirror.lock(target)))
            group.jobs.append(job)
            group.events.append(event)
        return sorted(groups.values(), key=lambda g: g.lock)

    def _payloads(self, jobs: list[Job]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        with self._ctx.session_factory() as s:
            for clause in in_many(s, BillingWebhookEvent.stripe_event_id, [j.key for j in jobs]):
                out.update(s.execute(select(BillingWebhookEvent.stripe_event_id, BillingWebhookEvent.payload)
                                     .where(clause)).all())
        return out

    def _fetch(self, group: Group, *, refetch: bool = False) -> None:
        if group.mirror is None:
            return
        current = None if refetch else payload_is_current(group.mirror, group.events)
        group.current = current if current is not None else group.mirror.fetch(group.object_id)
        group.mirror.prepare(group.current)

    # --- applying --------------------------------------------------------------------------------------
    def _apply_batch(self, groups: list[Group], versions: dict[str, int]) -> list[Group]:
        """Every group in one transaction; returns the groups another worker applied meanwhile."""
        stale: list[Group] = []
        done: dict[str, list[Job]] = {"processed": [], "ignored": []}
        with self._ctx.transaction() as session:
            for group in groups:
                if group.mirror is not None:
                    if not claim_fresh(session, group.lock, versions.get(group.lock, 0)):
                        stale.append(group)
                        continue
                    group.mirror.apply(session, Sync(group.object_id, group.current, tuple(group.events)))
                self._subscribers(session, group, done)
            for result, finished in done.items():
                if finished:
                    self._ctx.jobs.done(session, finished, result=result)
        return stale

    def apply_alone(self, group: Group) -> None:
        """One object in its own transaction, fetching again until no other worker applies it meanwhile."""
        with self._ctx.session_factory() as s:
            seen = read_versions(s, [group.lock])[group.lock] if group.mirror is not None else 0
        for _ in range(ROUNDS):
            self._fetch(group, refetch=True)
            done: dict[str, list[Job]] = {"processed": [], "ignored": []}
            with self._ctx.transaction() as session:
                if group.mirror is None or claim_fresh(session, group.lock, seen):
                    if group.mirror is not None:
                        group.mirror.apply(session, Sync(group.object_id, group.current, tuple(group.events)))
                    self._subscribers(session, group, done)
                    for result, finished in done.items():
                        if finished:
                            self._ctx.jobs.done(session, finished, result=result)
                    return
            with self._ctx.session_factory() as s:
                seen = read_versions(s, [group.lock])[group.lock]
        raise StaleStateError(f"{group.object_id} changed {ROUNDS} times while its events were applied.")

    def _subscribers(self, session: Session, group: Group, done: dict[str, list[Job]]) -> None:
        """Each event's subscribers, a savepoint each: one failing event backs off alone, its writes undone."""
        for job, event in zip(group.jobs, group.events, strict=True):
            handlers = self._handlers_for(event["type"])
            if not handlers:
                done["processed" if group.mirror is not None else "ignored"].append(job)
                continue
            ctx = WebhookContext(event=event, session=session, current=group.current)
            try:
                with session.begin_nested():
                    for handler in handlers:
                        handler(ctx)
            except Exception as exc:
                self._ctx.jobs.fail(session, [job], exc)
                continue
            for fn in ctx.after_commit:
                on_commit(session, fn)
            done["processed"].append(job)


def group_key(mirror: Mirror | None, event: Mapping[str, Any]) -> str | None:
    """What a job is grouped by when it is stored: ``<mirror>:<object id>``."""
    target = mirror.target(event) if mirror is not None else None
    return f"{mirror.name}:{target}" if mirror is not None and target else None
