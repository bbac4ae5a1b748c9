"""``billing.webhooks``: verify, store once, answer at once; process in a task with retries and a dead letter."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update

from .. import signals
from ..clock import utc
from ..db import insert_ignore, on_commit
from ..errors import InvalidInputError, NotFoundError
from .models import BillingLock, BillingWebhookEvent
from .schemas import Receipt, WebhookContext, WebhookEventInfo
from .signature import WebhookSignatureError, verify_signature

if TYPE_CHECKING:
    from ..billing import Billing

Handler = Callable[[WebhookContext], Any]

MAX_BODY = 512 * 1024            # Stripe events are far smaller; anything bigger is not Stripe
PROCESSING_LEASE = timedelta(minutes=5)
OUTBOX_GRACE = timedelta(seconds=30)


class WebhookPayloadError(WebhookSignatureError):
    """The body is not a Stripe event (wrong content type, too large, not JSON, missing fields)."""

    code = "webhook_payload_invalid"


class WebhookService:
    def __init__(self, billing: Billing, *, max_attempts: int = 8, base_delay: timedelta = timedelta(seconds=30),
                 max_delay: timedelta = timedelta(hours=6)) -> None:
        self._billing = billing
        self._handlers: dict[str, list[Handler]] = {}
        self.max_attempts, self.base_delay, self.max_delay = max_attempts, base_delay, max_delay
        billing.tasks.job("webhooks.process", self.process)
        billing.tasks.every("webhooks.retry_due", timedelta(minutes=1), self.retry_due)

    # --- registry --------------------------------------------------------------------------------
    def subscribe(self, event_type: str, fn: Handler | None = None) -> Any:
        """Call ``fn(ctx)`` for events of ``event_type`` ("invoice.paid", "customer.*" or "*").

        Usable as a decorator. Handlers run inside the processing transaction; an exception rolls it
        back and the event is retried."""
        if not isinstance(event_type, str) or not event_type or " " in event_type:
            raise InvalidInputError(f"event_type must be a Stripe event type such as 'invoice.paid', "
                                    f"'customer.*' or '*', got {event_type!r}.", param="event_type")

        def register(handler: Handler) -> Handler:
            if not callable(handler):
                raise InvalidInputError("subscribe() needs a callable handler.", param="fn")
            self._handlers.setdefault(event_type, []).append(handler)
            return handler

        return register if fn is None else register(fn)

    def handlers_for(self, event_type: str) -> list[Handler]:
        out: list[Handler] = []
        for pattern, fns in self._handlers.items():
            if pattern == event_type or pattern == "*" or (
                    pattern.endswith(".*") and event_type.startswith(pattern[:-1])):
                out.extend(fns)
        return out

    # --- receive -----------------------------------------------------------------------------------
    def receive(self, body: bytes, headers: Mapping[str, str]) -> Receipt:
        """Verify and store one delivery, then enqueue its processing after the commit."""
        event = self.verify(body, headers)
        return self.store(event, source="webhook")

    def verify(self, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        if not isinstance(body, bytes | bytearray):
            raise WebhookPayloadError("receive() needs the raw request body as bytes, before any JSON parsing.")
        if len(body) > MAX_BODY:
            raise WebhookPayloadError(f"The body is {len(body)} bytes, over the {MAX_BODY} byte limit.")
        lower = {str(k).lower(): str(v) for k, v in headers.items()}
        ctype = lower.get("content-type", "")
        if not ctype.split(";")[0].strip().lower() == "application/json":
            raise WebhookPayloadError(f"Content-Type must be application/json, got {ctype or 'none'!r}.")
        cfg = self._billing.config
        verify_signature(bytes(body), lower.get("stripe-signature"), list(cfg.webhook_secrets),
                         tolerance=cfg.webhook_tolerance, now=int(self._billing.now().timestamp()))
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookPayloadError("The body is not valid JSON.") from None
        if not (isinstance(event, dict) and isinstance(event.get("id"), str) and event["id"].startswith("evt_")
                and isinstance(event.get("type"), str) and isinstance(event.get("data"), dict)
                and isinstance(event["data"].get("object"), dict)):
            raise WebhookPayloadError("The body is not a Stripe event (needs id evt_..., type and data.object).")
        live_key = cfg.stripe_api_key.startswith(("sk_live_", "rk_live_"))
        if bool(event.get("livemode")) != live_key:
            raise WebhookPayloadError("The event's livemode does not match the configured Stripe key's mode.")
        return event

    def store(self, event: dict[str, Any], *, source: str, enqueue: bool = True) -> Receipt:
        """Insert once (the event id is unique); a duplicate is acknowledged and not re-queued."""
        billing = self._billing
        obj = event["data"]["object"]
        values = {
            "stripe_event_id": event["id"], "type": event["type"], "object_id": obj.get("id"),
            "livemode": bool(event.get("livemode")), "api_version": event.get("api_version"),
            "stripe_created": utc(event.get("created")), "payload": event, "source": source,
            "status": "pending", "attempts": 0, "received_at": billing.now(),
        }
        with billing.transaction() as session:
            inserted = insert_ignore(session, BillingWebhookEvent, values, key=["stripe_event_id"])
            if inserted and enqueue:  # the outbox: enqueue only once the row is committed
                on_commit(session, lambda: billing.tasks.enqueue("webhooks.process", event["id"]))
        return Receipt(accepted=True, event_id=event["id"], duplicate=not inserted)

    # --- processing --------------------------------------------------------------------------------
    def process(self, event_id: str) -> str:
        """Apply one stored event exactly once. Returns the event's status afterwards."""
        billing = self._billing
        if not self._claim(event_id):
            return self._status(event_id)
        try:
            with billing.transaction() as session:
                row = session.scalars(select(BillingWebhookEvent).where(
                    BillingWebhookEvent.stripe_event_id == event_id)).one()
                handlers = self.handlers_for(row.type)
                if not handlers:
                    row.status, row.processed_at, row.next_attempt_at = "ignored", billing.now(), None
                    return "ignored"
                if row.object_id:
                    lock_object(session, row.object_id)
                ctx = WebhookContext(billing=billing, event=row.payload, session=session)
                for handler in handlers:
                    handler(ctx)
                row.status, row.processed_at = "processed", billing.now()
                row.next_attempt_at, row.last_error = None, None
                for fn in ctx.after_commit:
                    on_commit(session, fn)
                return "processed"
        except Exception as exc:  # any handler failure: record it, retry later, never lose the event
            return self._fail(event_id, exc)

    def _claim(self, event_id: str) -> bool:
        """Atomically move a due event to ``processing``; only one worker can win."""
        now = self._billing.now()
        with self._billing.transaction() as session:
            result = session.execute(
                update(BillingWebhookEvent)
                .where(BillingWebhookEvent.stripe_event_id == event_id)
                .where(or_(BillingWebhookEvent.status == "pending",
                           (BillingWebhookEvent.status.in_(("failed", "processing")))
                           & (BillingWebhookEvent.next_attempt_at <= now)))
                .values(status="processing", attempts=BillingWebhookEvent.attempts + 1,
                        next_attempt_at=now + PROCESSING_LEASE)
                .execution_options(synchronize_session=False))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def _fail(self, event_id: str, exc: BaseException) -> str:
        billing = self._billing
        with billing.transaction() as session:
            row = session.scalars(select(BillingWebhookEvent).where(
                BillingWebhookEvent.stripe_event_id == event_id)).one()
            row.last_error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]
            if row.attempts >= self.max_attempts:
                row.status, row.next_attempt_at = "dead", None
                info = _info(row)
                on_commit(session, lambda: signals.webhook_dead_lettered.send(billing, event=info))
            else:
                delay = min(self.base_delay * (2 ** (row.attempts - 1)), self.max_delay)
                row.status, row.next_attempt_at = "failed", billing.now() + delay
            return row.status

    def _status(self, event_id: str) -> str:
        with self._billing.session_factory() as session:
            status = session.scalar(select(BillingWebhookEvent.status).where(
                BillingWebhookEvent.stripe_event_id == event_id))
        if status is None:
            raise NotFoundError(f"No stored webhook event {event_id!r}.", param="event_id")
        return status

    def retry_due(self) -> int:
        """Periodic: re-run failed events whose backoff has passed, expired leases, and stranded
        pending events (an enqueue lost after the commit). Returns how many were run."""
        now = self._billing.now()
        with self._billing.session_factory() as session:
            ids = list(session.scalars(select(BillingWebhookEvent.stripe_event_id).where(or_(
                (BillingWebhookEvent.status == "pending") & (BillingWebhookEvent.received_at <= now - OUTBOX_GRACE),
                BillingWebhookEvent.status.in_(("failed", "processing"))
                & (BillingWebhookEvent.next_attempt_at <= now),
            )).order_by(BillingWebhookEvent.id)))
        for event_id in ids:
            self._billing.tasks.enqueue("webhooks.process", event_id)
        return len(ids)

    def replay(self, event_id: str | None = None, *, status: str = "dead") -> list[str]:
        """Reset dead (or failed) events to pending and enqueue them: one by id, or all in ``status``."""
        if status not in ("dead", "failed", "ignored", "processed"):
            raise InvalidInputError("status must be one of dead, failed, ignored, processed.", param="status")
        with self._billing.transaction() as session:
            stmt = select(BillingWebhookEvent)
            stmt = stmt.where(BillingWebhookEvent.stripe_event_id == event_id) if event_id else \
                stmt.where(BillingWebhookEvent.status == status)
            rows = list(session.scalars(stmt))
            if event_id and not rows:
                raise NotFoundError(f"No stored webhook event {event_id!r}.", param="event_id")
            for row in rows:
                row.status, row.next_attempt_at, row.attempts = "pending", None, 0
            ids = [r.stripe_event_id for r in rows]
        for i in ids:
            self._billing.tasks.enqueue("webhooks.process", i)
        return ids

    def events(self, *, status: str | None = None, limit: int = 100) -> list[WebhookEventInfo]:
        stmt = select(BillingWebhookEvent).order_by(BillingWebhookEvent.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(BillingWebhookEvent.status == status)
        with self._billing.session_factory() as session:
            return [_info(r) for r in session.scalars(stmt)]


def lock_object(session: Any, name: str) -> None:
    """Serialise work on one Stripe object across workers: a row lock on PostgreSQL; SQLite has one writer."""
    insert_ignore(session, BillingLock, {"name": name}, key=["name"])
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(BillingLock.name).where(BillingLock.name == name).with_for_update())


def _info(row: BillingWebhookEvent) -> WebhookEventInfo:
    return WebhookEventInfo(id=row.stripe_event_id, type=row.type, status=row.status, attempts=row.attempts,
                            last_error=row.last_error, object_id=row.object_id)
