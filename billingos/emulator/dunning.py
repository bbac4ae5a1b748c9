"""Stripe's retry schedule for automatic collection of subscription invoices.

After the first failed automatic attempt on a renewal invoice, retries happen
``settings.retry_schedule_days`` after that first failure (default days 3, 5 and 10). A retry is skipped
(counted, no charge) when there is no payment method, or when the last decline was hard and the payment
method has not changed. When the last scheduled retry fails, the subscription gets
``settings.after_final_failure``. Running a due retry is the billing cycle's (``billing_cycle.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .billing_common import DAY

if TYPE_CHECKING:
    from .app import Emulator


def retryable(inv: dict[str, Any]) -> bool:
    return (
        inv["collection_method"] == "charge_automatically"
        and bool(inv.get("auto_advance"))
        and inv["billing_reason"] != "subscription_create"
        and inv["status"] == "open"
    )


def schedule_after_failure(
    em: Emulator, inv: dict[str, Any], at: int, decline: str | None, pm_id: str | None, *, auto: bool
) -> bool:
    """Set ``next_payment_attempt`` after a failure. Returns True when this was the final failure."""
    st = em.state.invoice(inv["id"])
    st.last_decline, st.last_payment_method = decline, pm_id
    if not retryable(inv):
        inv["next_payment_attempt"] = None
        return False
    if st.first_failure_at is None:
        st.first_failure_at = at
    days = em.settings.retry_schedule_days
    if st.retries_done < len(days):
        inv["next_payment_attempt"] = st.first_failure_at + days[st.retries_done] * DAY
        return False
    inv["next_payment_attempt"] = None
    return auto


def should_skip(em: Emulator, inv: dict[str, Any], pm_id: str | None) -> bool:
    st = em.state.invoice(inv["id"])
    if pm_id is None:
        return True
    return st.last_decline in em.settings.hard_decline_codes and st.last_payment_method == pm_id
