"""An in-memory mailer for tests: every message "sent" is kept in order, to assert on.

The seam is the smallest one a mailer needs: ``send(message)``. billingos's notifications (dunning) hand
their mail to a ``Mailer``; the outbox is one, and also takes an ``email.message.EmailMessage`` (what
``smtplib`` sends), so a host's own mail code can share it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol, runtime_checkable

__all__ = ["Mail", "MailOutbox", "Mailer"]


@dataclass(frozen=True)
class Mail:
    """One message: who to, the subject, a plain-text body, an optional HTML body, and what it is about."""

    to: str
    subject: str
    text: str
    html: str | None = None
    kind: str | None = None                     # e.g. "payment_failed": what sent it, to filter on
    metadata: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Mailer(Protocol):
    """Sends one message. billingos's notifications take any object with this method."""

    def send(self, message: Mail) -> None: ...


class MailOutbox:
    """``mail_outbox`` in the pytest plugin. ``outbox.messages`` in order; ``outbox.to("a@b.co")``,
    ``outbox.of_kind("payment_failed")``, ``outbox.links(message)``, ``outbox.clear()``."""

    def __init__(self) -> None:
        self.messages: list[Mail] = []

    def send(self, message: Mail | EmailMessage | Any) -> None:
        self.messages.append(_as_mail(message))

    def __len__(self) -> int:
        return len(self.messages)

    def __iter__(self) -> Any:
        return iter(self.messages)

    def __getitem__(self, index: int) -> Mail:
        return self.messages[index]

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.messages if m.to.lower() == address.lower()]

    def of_kind(self, kind: str) -> list[Mail]:
        return [m for m in self.messages if m.kind == kind]

    def clear(self) -> None:
        self.messages.clear()

    @staticmethod
    def links(message: Mail) -> list[str]:
        """The http(s) links in a message's text and HTML, in order, once each."""
        found = re.findall(r"https?://[^\s\"'<>)]+", f"{message.text}\n{message.html or ''}")
        return list(dict.fromkeys(found))


def _as_mail(message: Any) -> Mail:
    if isinstance(message, Mail):
        return message
    if isinstance(message, EmailMessage):
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        return Mail(to=str(message["To"] or ""), subject=str(message["Subject"] or ""),
                    text=text.get_content() if text is not None else "",
                    html=html.get_content() if html is not None else None)
    if all(hasattr(message, a) for a in ("to", "subject", "text")):   # another lane's message type
        return Mail(to=str(message.to), subject=str(message.subject), text=str(message.text),
                    html=getattr(message, "html", None), kind=getattr(message, "kind", None),
                    metadata=dict(getattr(message, "metadata", None) or {}))
    raise TypeError(f"MailOutbox.send() takes a Mail or an email.message.EmailMessage, got {type(message).__name__}.")
