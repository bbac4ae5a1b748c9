"""How billingos's emails leave: a ``Mailer`` the host implements (its SMTP, SES, Postmark…), a default that
only logs, and an in-memory outbox for tests."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["EmailMessage", "LoggingMailer", "Mailer", "OutboxMailer"]

log = logging.getLogger("billingos.notifications")


@dataclass(frozen=True)
class EmailMessage:
    """One rendered email. ``idempotency_key`` is the same for every attempt to send this message: pass it
    to a provider that deduplicates (a header such as ``Idempotency-Key`` or ``X-Entity-Ref-ID``), so a
    send whose success was lost in a crash is not delivered twice."""

    to: str
    subject: str
    text: str
    html: str
    template: str                       # e.g. "payment_failed"
    idempotency_key: str
    sender: str | None = None           # BillingConfig.email_from
    headers: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Mailer(Protocol):
    """What billingos needs to send email. Raise to have the send retried later (with backoff)."""

    def send(self, message: EmailMessage) -> None: ...


class LoggingMailer:
    """The default: logs each message (subject and recipient) at INFO and sends nothing."""

    def send(self, message: EmailMessage) -> None:
        log.info("billingos email %s to %s: %s (not sent: configure BillingConfig.mailer)", message.template,
                 message.to, message.subject)


class OutboxMailer:
    """Keeps every message in ``messages`` (thread-safe), for tests and previews."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def sent(self, template: str | None = None, *, to: str | None = None) -> list[EmailMessage]:
        """The messages of one template (and recipient), oldest first."""
        with self._lock:
            return [m for m in self.messages if (template is None or m.template == template)
                    and (to is None or m.to == to)]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
