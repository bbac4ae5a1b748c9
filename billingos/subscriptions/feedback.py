"""The cancellation survey: Stripe's ``cancellation_details`` feedback options, stored locally and
published as ``CancellationRequested`` (the ``subscription_cancel_requested`` signal)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import validation
from ..domain_events import CancellationRequested
from .models import BillingCancellationFeedback
from .schemas import Subscription

if TYPE_CHECKING:
    from ..context import Context

#: Stripe's ``cancellation_details.feedback`` values, with the words a survey shows for them.
FEEDBACK = {
    "too_expensive": "It's too expensive",
    "missing_features": "Some features are missing",
    "unused": "I don't use it enough",
    "switched_service": "I'm switching to another service",
    "too_complex": "It's too hard to use",
    "low_quality": "Quality was less than expected",
    "customer_service": "Customer service was less than expected",
    "other": "Other reason",
}
MAX_COMMENT = 1000


def details(feedback: str | None, comment: str | None) -> dict[str, Any] | None:
    """Checked ``cancellation_details`` for Stripe (None when the customer gave no answer)."""
    if feedback is not None:
        validation.choice(feedback, "feedback", tuple(FEEDBACK))
    if comment is not None:
        comment = validation.text(comment, "comment", max_length=MAX_COMMENT, multiline=True)
    if feedback is None and not comment:
        return None
    return {"feedback": feedback or "", "comment": comment or ""}


def record(ctx: Context, sub: Subscription, answer: dict[str, Any] | None, *, at_period_end: bool) -> None:
    """Store the answer and publish it (after the commit) — also when the customer skipped the survey."""
    answer = answer or {}
    with ctx.transaction() as session:
        row = BillingCancellationFeedback(
            subscription_stripe_id=sub.id, owner_id=sub.owner_id, feedback=answer.get("feedback") or None,
            comment=answer.get("comment") or None, at_period_end=at_period_end, created_at=ctx.now())
        session.add(row)
        ctx.events.publish(session, CancellationRequested(sub, row.feedback, row.comment, at_period_end))
