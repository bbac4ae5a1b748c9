"""``billing.webhooks``: verify, store once, answer at once; apply in the background on the jobs queue
``webhooks``, with retries, a dead letter and replay (see docs/webhooks.md)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .. import validation
from ..clock import utc
from ..domain_events import WebhookDeadLettered
from ..errors import InvalidInputError, NotFoundError
from ..insert_many import insert_new
from ..jobs import JobInfo, NewJob
from .intake import MAX_BODY, WebhookPayloadError, check_event, parse_event
from .mirrors import Mirror, matches
from .models import BillingWebhookEvent
from .processing import Processor, group_key
from .schemas import Receipt, WebhookContext, WebhookEventInfo
from .signature import WebhookSignatureError, verify_signature

if TYPE_CHECKING:
    from ..context import Context

__all__ = ["MAX_BODY", "QUEUE", "WebhookPayloadError", "WebhookService"]

Handler = Callable[[WebhookContext], Any]
QUEUE = "webhooks"
# The webhook-facing names of the job statuses.
_STATUS = {"pending": "pending", "running": "processing", "failed": "failed", "dead": "dead"}
SOURCES = ("webhook", "reconcile")
_JOB_STATUS = {"pending": "pending", "processing": "running", "failed": "failed", "dead": "dead",
               "processed": "done", "ignored": "done"}


class WebhookService:
    def __init__(self, ctx: Context, *, max_attempts: int = 8, base_delay: timedelta = timedelta(seconds=30),
                 max_delay: timedelta = timedelta(hours=6), batch: int = 10) -> None:
        self._ctx = ctx
        self._handlers: dict[str, list[Handler]] = {}
        self._mirrors: list[Mirror] = []
        self._processor = Processor(ctx, mirror_for=self._mirror_for, handlers_for=self.handlers_for)
        # A small batch: with Stripe's latency a worker fetches its batch one object after another, so small
        # batches spread a burst over every worker (pending events of one object still come together).
        self._queue = ctx.jobs.define(QUEUE, self._processor.work, grouped=True, batch=batch, max_attempts=max_attempts,
                                      base_delay=base_delay, max_delay=max_delay,
                                      trigger=lambda key: ctx.tasks.enqueue("webhooks.process", key),
                                      on_dead=self._dead)
        ctx.tasks.job("webhooks.process", self.process)

    # Retry settings live on the jobs queue; these keep the names hosts and tests read.
    @property
    def max_attempts(self) -> int:
        return self._queue.max_attempts or 0

    @max_attempts.setter
    def max_attempts(self, value: int) -> None:
        self._queue.max_attempts = value

    @property
    def base_delay(self) -> timedelta:
        return self._queue.base_delay

    @base_delay.setter
    def base_delay(self, value: timedelta) -> None:
        self._queue.base_delay = value

    @property
    def max_delay(self) -> timedelta:
        return self._queue.max_delay

    @max_delay.setter
    def max_delay(self, value: timedelta) -> None:
        self._queue.max_delay = value

    # --- registry --------------------------------------------------------------------------------
    def subscribe(self, event_type: str, fn: Handler | None = None) -> Any:
        """Call ``fn(ctx)`` for events of ``event_type`` ("invoice.paid", "customer.*" or "*").

        Usable as a decorator. Handlers run inside the processing transaction, after the event's object
        was synced; an exception rolls back that handler's writes and the event is retried."""
        _pattern(event_type)

        def register(handler: Handler) -> Handler:
            validation.callable_(handler, "fn")
            self._handlers.setdefault(event_type, []).append(handler)
            return handler

        return register if fn is None else register(fn)

    def mirror(self, mirror: Mirror) -> None:
        """Keep a kind of Stripe object in sync from its events (see ``webhooks.mirrors``)."""
        self._mirrors.append(mirror)

    def handlers_for(self, event_type: str) -> list[Handler]:
        """The subscribers that an event of ``event_type`` runs."""
        _event_type(event_type)
        return [fn for pattern, fns in self._handlers.items() if matches(pattern, event_type) for fn in fns]

    def _mirror_for(self, event_type: str) -> Mirror | None:
        return next((m for m in self._mirrors if m.handles(event_type)), None)

    # --- receive -----------------------------------------------------------------------------------
    def receive(self, body: bytes, headers: Mapping[str, str]) -> Receipt:
        """Verify and store one delivery; its processing is triggered after the commit."""
        return self._store_checked([self.verify(body, headers)], source="webhook", enqueue=True)[0]

    def verify(self, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        cfg = self._ctx.config
        lower = _lower(headers)
        if not isinstance(body, bytes | bytearray):
            raise WebhookPayloadError("receive() needs the raw request body as bytes, before any JSON parsing; "
                                      f"got {validation.echo(body)}.", param="body")
        if len(body) > MAX_BODY:
            raise WebhookPayloadError(f"The body is {len(body)} bytes, over the {MAX_BODY} byte limit.", param="body")
        ctype = lower.get("content-type", "")
        if ctype.split(";")[0].strip().lower() != "application/json":
            raise WebhookPayloadError(f"Content-Type must be application/json, got {validation.echo(ctype)}.",
                                      param="headers")
        verify_signature(bytes(body), lower.get("stripe-signature"), list(cfg.webhook_secrets),
                         tolerance=cfg.webhook_tolerance, now=int(self._ctx.now().timestamp()))
        event = parse_event(bytes(body))
        live_key = cfg.livemode
        if bool(event.get("livemode")) != live_key:
            raise WebhookPayloadError("The event's livemode does not match the configured Stripe key's mode.")
        return event

    def receive_many(self, deliveries: Iterable[tuple[bytes, Mapping[str, str]]]
                     ) -> list[Receipt | WebhookSignatureError]:
        """``receive`` for many deliveries at once (a test kit's drain, a seed's in-process receiver): each is
        verified as ``receive`` verifies it; those that pass are stored together (``store_many``). Returns one
        answer per delivery, in order: its Receipt, or the WebhookSignatureError / WebhookPayloadError that
        ``receive`` would have raised for it. A refused delivery stores nothing and holds up no other."""
        if isinstance(deliveries, (str, bytes, Mapping)) or not isinstance(deliveries, Iterable):
            raise InvalidInputError("deliveries must be a list of (body, headers) pairs.", param="deliveries")
        answers: list[Receipt | WebhookSignatureError | None] = []
        verified: list[tuple[int, dict[str, Any]]] = []
        for i, delivery in enumerate(deliveries):
            try:
                if not isinstance(delivery, tuple | list) or len(delivery) != 2:
                    raise WebhookPayloadError(f"deliveries[{i}] must be a (body, headers) pair.",
                                              param=f"deliveries[{i}]")
                verified.append((i, self.verify(*delivery)))
                answers.append(None)
            except WebhookSignatureError as e:      # WebhookPayloadError too: this delivery's 400
                answers.append(e)
        receipts = self._store_checked([event for _, event in verified], source="webhook", enqueue=True)
        for (i, _), receipt in zip(verified, receipts, strict=True):
            answers[i] = receipt
        return [a for a in answers if a is not None]

    def store(self, event: dict[str, Any], *, source: str, enqueue: bool = True) -> Receipt:
        """Insert once (the event id is unique) with its job; a duplicate is acknowledged and not re-queued.
        ``enqueue=False`` stores the job without triggering it (reconcile runs it itself)."""
        event = check_event(event, "event")
        validation.choice(source, "source", SOURCES)
        validation.boolean(enqueue, "enqueue")
        return self._store_checked([event], source=source, enqueue=enqueue)[0]

    def store_many(self, events: Iterable[dict[str, Any]], *, source: str, enqueue: bool = True) -> list[Receipt]:
        """``store`` for many events in one transaction: each inserted once with its job (the jobs enqueued
        together, triggered after the commit in the given order). All or nothing: an event ``store`` would
        refuse raises WebhookPayloadError naming it (``events[i]``) and nothing is written. An id stored
        before, or repeated in ``events`` (its later copies), answers ``duplicate=True``."""
        if isinstance(events, (str, bytes, Mapping)) or not isinstance(events, Iterable):
            raise InvalidInputError("events must be a list of Stripe events.", param="events")
        checked = [check_event(event, f"events[{i}]") for i, event in enumerate(events)]
        validation.choice(source, "source", SOURCES)
        validation.boolean(enqueue, "enqueue")
        return self._store_checked(checked, source=source, enqueue=enqueue)

    def _store_checked(self, events: list[dict[str, Any]], *, source: str, enqueue: bool) -> list[Receipt]:
        """Checked events: their rows and jobs in one transaction, two statements however many they are."""
        if not events:
            return []
        now = self._ctx.now()
        rows, jobs = [], []
        for event in events:
            oid = event["data"]["object"].get("id")
            rows.append({"stripe_event_id": event["id"], "type": event["type"], "object_id": oid,
                         "livemode": bool(event.get("livemode")), "api_version": event.get("api_version"),
                         "stripe_created": utc(event.get("created")), "payload": event, "source": source,
                         "received_at": now})
            jobs.append(NewJob(event["id"], {"type": event["type"], "object_id": oid},
                               group_key(self._mirror_for(event["type"]), event)))
        with self._ctx.transaction() as session:
            new = {key for (key,) in insert_new(session, BillingWebhookEvent, rows, key=["stripe_event_id"])}
            self._ctx.jobs.enqueue_many(session, QUEUE, [job for job in jobs if job.key in new], trigger=enqueue)
        receipts = []
        for event in events:
            first = event["id"] in new
            new.discard(event["id"])              # a repeat later in the batch is a duplicate
            receipts.append(Receipt(accepted=True, event_id=event["id"], duplicate=not first))
        return receipts

    # --- processing --------------------------------------------------------------------------------
    def process(self, event_id: str) -> str:
        """Apply a stored event now (with any pending events about the same object), if it is due.
        Returns the event's status afterwards."""
        status = self._status(_event_id(event_id))
        if status in ("pending", "failed", "processing"):    # due, backing off, or a lease that may have lapsed
            self._ctx.jobs.run(QUEUE, key=event_id)
            status = self._status(event_id)
        return status

    def _dead(self, job: JobInfo) -> None:
        self._ctx.events.publish(None, WebhookDeadLettered(_info(job)))

    def retry_due(self) -> int:
        """Periodic (also ``jobs.retry_due``): re-run failed events whose backoff passed, expired leases,
        and stranded pending events. Returns how many were run."""
        return self._ctx.jobs.retry_due(QUEUE)

    def replay(self, event_id: str | None = None, *, status: str = "dead") -> list[str]:
        """Reset dead (or failed, ignored, processed) events to pending and run them: one by id, or all in
        ``status``."""
        validation.choice(status, "status", ("dead", "failed", "ignored", "processed"))
        if event_id is not None:
            if self._ctx.jobs.get(QUEUE, _event_id(event_id)) is None:
                raise NotFoundError(f"No stored webhook event {event_id!r}.", param="event_id")
            return self._ctx.jobs.replay(QUEUE, keys=[event_id])
        return self._ctx.jobs.replay(QUEUE, status=_JOB_STATUS[status],
                                     result=status if status in ("ignored", "processed") else None)

    # --- reading -----------------------------------------------------------------------------------
    def events(self, *, status: str | None = None, limit: int = 100) -> list[WebhookEventInfo]:
        """Stored events, newest first, with their processing status."""
        if status is not None:
            validation.choice(status, "status", tuple(_JOB_STATUS))
        validation.limit(limit, maximum=10_000)
        result = status if status in ("processed", "ignored") else None
        jobs = self._ctx.jobs.list(queue=QUEUE, status=None if status is None else _JOB_STATUS[status],
                                   result=result, limit=limit)
        return [_info(job) for job in jobs]

    def _status(self, event_id: str) -> str:
        state = self._ctx.jobs.state(QUEUE, event_id)
        if state is None:
            raise NotFoundError(f"No stored webhook event {event_id[:80]!r}.", param="event_id")
        status, result = state
        return (result or "processed") if status == "done" else _STATUS[status]


def _info(job: JobInfo) -> WebhookEventInfo:
    status = (job.result or "processed") if job.status == "done" else _STATUS[job.status]
    return WebhookEventInfo(id=job.key, type=str(job.payload.get("type", "")), status=status,
                            attempts=job.attempts, last_error=job.last_error, object_id=job.payload.get("object_id"))


def _event_id(value: Any) -> str:
    return validation.stripe_id(value, "evt", "event_id")


_PATTERN = re.compile(r"\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?")


def _event_type(value: Any, param: str = "event_type") -> str:
    if not isinstance(value, str) or len(value) > 255 or not _PATTERN.fullmatch(value) or value.endswith(".*"):
        raise InvalidInputError(f"{param} must be a Stripe event type such as 'invoice.paid', got "
                                f"{validation.echo(value)}.", param=param)
    return value


def _pattern(value: Any, param: str = "event_type") -> str:
    """An event type, ``"customer.*"`` (every type under a prefix) or ``"*"``."""
    if not isinstance(value, str) or len(value) > 255 or not _PATTERN.fullmatch(value):
        raise InvalidInputError(f"{param} must be a Stripe event type such as 'invoice.paid', 'customer.*' or '*', "
                                f"got {validation.echo(value)}.", param=param)
    return value


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names lowered; names and values must be text (as every web framework hands them over)."""
    if not isinstance(headers, Mapping) and not hasattr(headers, "items"):
        raise WebhookPayloadError(f"headers must be a mapping of header names to values, got "
                                  f"{validation.echo(headers)}.", param="headers")
    try:
        pairs = list(headers.items())
    except Exception:  # an object whose items() is not a mapping's
        raise WebhookPayloadError("headers must be a mapping of header names to values.", param="headers") from None
    out = {}
    for k, v in pairs:
        if not isinstance(k, str) or not isinstance(v, str):
            raise WebhookPayloadError("headers must map header names to string values, got "
                                      f"{validation.echo(k)}: {validation.echo(v)}.", param="headers")
        out[k.lower()] = v
    return out
