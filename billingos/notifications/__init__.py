"""Notifications: billingos's emails (see ``service.py``, docs/notifications.md)."""

from .mailer import EmailMessage, LoggingMailer, Mailer, OutboxMailer
from .render import TEMPLATES
from .service import NotificationService

__all__ = ["TEMPLATES", "EmailMessage", "LoggingMailer", "Mailer", "NotificationService", "OutboxMailer"]
