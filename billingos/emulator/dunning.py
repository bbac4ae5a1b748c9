"""Automatic payment retries (Stripe's retry schedule for subscription invoices).

After the first failed automatic attempt on a renewal invoice, retries happen ``retry_schedule_days``
after that first failure (default days 3, 5 and 10). A retry is skipped (counted, no charge) when there
is no payment method, or when the last decline was hard and the payment method has not changed. When the
last scheduled retry fails, the subscription gets ``after_final_failure`` (see ``billing_common``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .billing_common import DAY, hard_declines, retry_days, state

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
    st = state(em, "invoice", inv["id"])
    st["last_decline"], st["last_pm"] = decline, pm_id
    if not retryable(inv):
        inv["next_payment_attempt"] = None
        return False
    first = st.setdefault("first_failure_at", at)
    done = int(st.get("retries_done", 0))
    days = retry_days(em)
    if done < len(days):
        inv["next_payment_attempt"] = first + days[done] * DAY
        return False
    inv["next_payment_attempt"] = None
    return auto


def should_skip(em: Emulator, inv: dict[str, Any], pm_id: str | None) -> bool:
    st = state(em, "invoice", inv["id"])
    if pm_id is None:
        return True
    return st.get("last_decline") in hard_declines(em) and st.get("last_pm") == pm_id


def run_retry(em: Emulator, inv: dict[str, Any], at: int) -> None:
    """One scheduled retry of ``inv`` at ``at``."""
    from .resources.payment_intents import attempt, default_payment_method
    from .subscription_engine import on_invoice_failed

    st = state(em, "invoice", inv["id"])
    st["retries_done"] = int(st.get("retries_done", 0)) + 1
    pm_id = default_payment_method(em, inv)
    if not should_skip(em, inv, pm_id):
        attempt(em, inv, pm_id, at, None, auto=True)
        return
    before = inv["next_payment_attempt"]
    final = schedule_after_failure(em, inv, at, st.get("last_decline"), pm_id, auto=True)
    if inv["next_payment_attempt"] != before:
        em.emit("invoice.updated", inv, {"next_payment_attempt": before})
    if final:
        on_invoice_failed(em, inv, at, None, final=True)
