"""Operations: stored webhook events and background jobs (status, attempts, last error, payload; replay
one or many) and reconciliation (every run's report, from wherever it was started; run now, a dry run
first)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ...errors import BillingError, InvalidInputError, NotFoundError
from ..results import Redirect, Result
from .common import optional, page

if TYPE_CHECKING:
    from ..core import PageContext

WEBHOOK_STATUSES = ("pending", "processing", "processed", "ignored", "failed", "dead")
JOB_STATUSES = ("pending", "running", "done", "failed", "dead")
REPLAYABLE = ("dead", "failed")      # in bulk; any single event can be replayed from its page
_PICK = "pick:"          # a checkbox per row: name "pick:<id>"


def webhooks(ctx: PageContext) -> Result:
    status = optional(ctx.query.get("status"))
    if status is not None and status not in WEBHOOK_STATUSES:
        raise InvalidInputError("Choose one of the statuses listed.", param="status")
    events = ctx.billing.webhooks.events(status=status, limit=200)
    return page(ctx, "webhooks.html", "webhooks", "Webhook events", events=events, status=status,
                statuses=WEBHOOK_STATUSES, replayable=REPLAYABLE)


def webhook(ctx: PageContext) -> Result:
    eid = ctx.params["event_id"]
    ctx.admin    # noqa: B018
    if not eid.startswith("evt_"):
        raise NotFoundError("No such event.")
    event = ctx.billing.admin.webhook_event(eid)
    job = ctx.billing.jobs.get("webhooks", eid)
    status = None if job is None else (job.result or "processed") if job.status == "done" else \
        {"running": "processing"}.get(job.status, job.status)      # as billing.webhooks.events() words it
    return page(ctx, "webhook.html", "webhooks", f"Event {eid}", event=event, job=job, status=status,
                payload=json.dumps(event["payload"], indent=2, sort_keys=True, ensure_ascii=False))


def _picked(ctx: PageContext) -> list[str]:
    return [k[len(_PICK):] for k, v in ctx.form.items() if k.startswith(_PICK) and v]


def replay_webhooks(ctx: PageContext) -> Result:
    ids, status = _picked(ctx), optional(ctx.form.get("status"))
    if ids:
        for eid in ids:
            ctx.billing.webhooks.replay(eid)
    elif status in REPLAYABLE:
        ctx.billing.webhooks.replay(status=status)
    else:
        raise InvalidInputError("Pick the events to replay, or a status to replay all of.", param="status")
    return Redirect(ctx.url("admin.webhooks", done="replayed", status=optional(ctx.form.get("back"))))


def jobs(ctx: PageContext) -> Result:
    queue, status = optional(ctx.query.get("queue")), optional(ctx.query.get("status"))
    queues = sorted(ctx.billing.jobs.queues)
    if queue is not None and queue not in queues:
        raise InvalidInputError("Choose one of the queues listed.", param="queue")
    if status is not None and status not in JOB_STATUSES:
        raise InvalidInputError("Choose one of the statuses listed.", param="status")
    found = ctx.billing.jobs.list(queue=queue, status=status, limit=200)
    return page(ctx, "jobs.html", "jobs", "Background jobs", jobs=found, queue=queue, status=status,
                queues=queues, statuses=JOB_STATUSES)


def replay_jobs(ctx: PageContext) -> Result:
    queue = ctx.form.get("queue") or ""
    if queue not in ctx.billing.jobs.queues:
        raise InvalidInputError("Choose one of the queues listed.", param="queue")
    keys, status = _picked(ctx), optional(ctx.form.get("status"))
    if keys:
        ctx.billing.jobs.replay(queue, keys=keys)
    elif status in ("dead", "failed"):
        ctx.billing.jobs.replay(queue, status=status)
    else:
        raise InvalidInputError("Pick the jobs to replay, or dead/failed to replay all of them.", param="status")
    return Redirect(ctx.url("admin.jobs", queue=queue, done="jobs_replayed"))


SOURCES = {"admin": "the dashboard", "cli": "the command line", "task": "the hourly task",
           "code": "the application"}


def reconcile(ctx: PageContext, status: int = 200, error: str | None = None) -> Result:
    """Every stored run (dashboard, command line, hourly task, the app's code), newest first, 20 a page."""
    after = optional(ctx.query.get("after"))
    runs = ctx.billing.reconcile.runs(after=after)      # a forged cursor: InvalidInputError, a 400 page
    from ...reconcile.service import STARTED_BY
    return page(ctx, "reconcile.html", "reconcile", "Reconciliation", status, runs=runs.items, sources=SOURCES,
                nobody=set(STARTED_BY.values()),
                first_page=after is None, error=error,
                next_url=ctx.url("admin.reconcile", after=runs.next_cursor) if runs.next_cursor else None)


def run_reconcile(ctx: PageContext) -> Result:
    """Run now: a dry run unless the admin chose to repair (``force``: past the removal guard too)."""
    mode = ctx.form.get("mode", "dry_run")
    if mode not in ("dry_run", "apply", "force"):
        raise InvalidInputError("Choose a dry run, a run, or a forced run.", param="mode")
    service = ctx.billing.admin
    try:
        service.run_reconcile(started_by=ctx.admin, dry_run=mode == "dry_run", force=mode == "force")
    except BillingError as err:
        return reconcile(ctx, 400, str(err))
    return Redirect(ctx.url("admin.reconcile", done="reconciled"))
