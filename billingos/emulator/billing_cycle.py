"""Time in the billing engine: every transition that falls due when a clock moves, in chronological order.

Two entry points:

- ``advance_to(em, new_time)`` for objects on the emulator's own clock (customers without a test clock);
  public as ``Emulator.advance_to``. While it works it steps a FrozenClock forward to each transition,
  so events carry the time they happened.
- ``clock_hook``, in ``em.hooks.clock_advance``: processes one test clock's customers, stepping the
  clock's ``frozen_time`` as it goes.

Transitions: incomplete expiry (23 h), ``customer.subscription.trial_will_end`` (3 days before, once),
trial end, ``invoice.upcoming`` (``upcoming_days`` before a renewal), ``pause_collection.resumes_at``,
renewals (and ``cancel_at`` / ``cancel_at_period_end``), automatic payment retries, and ``send_invoice``
invoices passing their due date (subscription → past_due).

Subscription schedules (``schedule_engine.due``) give ``[(t, order, schedule, run)]``; ``run(em, obj, t)``
is called when ``t`` falls due, interleaved with the engine's own transitions by (time, ``_ORDER``).
"""

from __future__ import annotations

import heapq
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import schedule_engine
from . import subscription_engine as engine
from .billing_common import DAY, INCOMPLETE_EXPIRY_SECONDS, TRIAL_WILL_END_SECONDS, in_clock_scope
from .dunning import schedule_after_failure, should_skip
from .invoice_totals import compute
from .invoicing import attempt
from .payments import default_payment_method
from .subscription_changes import plan_change, plan_invoice

if TYPE_CHECKING:
    from .app import Emulator

MAX_STEPS = 100_000
_ORDER = {
    "expire": 0,
    "retry": 1,
    "overdue": 2,
    "trial_will_end": 3,
    "upcoming": 4,
    "resume_collection": 5,
    "cancel_at": 6,
    "trial_end": 7,
    "renew": 8,
}


def advance_to(em: Emulator, new_time: int) -> int:
    """Process everything due up to ``new_time`` for objects without a test clock. Returns the count."""
    with em.lock:
        return _run(em, None, int(new_time), lambda t: step_frozen_clock(em, t))


def clock_hook(em: Emulator, clock: dict[str, Any], old_time: int, new_time: int) -> None:
    def step(t: int) -> None:
        clock["frozen_time"] = max(int(clock["frozen_time"]), t)

    _run(em, clock["id"], int(new_time), step)


def step_frozen_clock(em: Emulator, t: int) -> None:
    setter = getattr(em.clock, "set", None)
    if callable(setter) and int(em.clock.now().timestamp()) < t:
        setter(datetime.fromtimestamp(t, UTC))


def _run(em: Emulator, clock_id: str | None, until: int, step: Any) -> int:
    index = _index(em) if clock_id is None else None
    for done in range(MAX_STEPS):
        due = _next_due(em, clock_id, until, index)
        if due is None:
            return done
        t, kind, obj = due
        step(t)
        if callable(kind):              # an extension's transition (see the module docstring)
            kind(em, obj, t)
        else:
            _process(em, kind, obj, t)
        if index is not None:
            index.dirty.add(obj["id"])
    raise RuntimeError("billing cycle did not settle: too many transitions")


class DueIndex:
    """The subscriptions' and invoices' next transitions on the emulator's own clock, in a heap.

    Scanning every object for each transition costs O(objects) per step, O(n²) over a long history. An
    object's transitions depend only on its own fields and its state record, which change only while it is
    the subject of an event (``em.hooks.event`` marks it dirty), is processed here, or is new; dirty objects
    are recomputed before each look-up, and heap entries of an object recomputed since are skipped.
    ``em.due_index = None`` turns it off (every look-up scans, as with test clocks)."""

    def __init__(self) -> None:
        self.key: tuple[int, int, int] = (0, 0, 0)
        self.heap: list[tuple[int, int, int, int, int, str, str]] = []
        self.stamp: dict[str, int] = {}
        self.seen = {"subscription": 0, "invoice": 0}      # how many of each kind are known
        self.position: dict[str, int] = {}                   # id -> place among its kind (creation order)
        self.dirty: set[str] = set()
        self.counter = 0

    def on_event(self, event: dict[str, Any]) -> None:
        obj = event["data"]["object"]
        if obj.get("object") in ("subscription", "invoice") and isinstance(obj.get("id"), str):
            self.dirty.add(obj["id"])

    def refresh(self, em: Emulator) -> None:
        key = (id(em.store.by_kind), id(em.state), id(em.settings))
        if key != self.key:             # a loaded state file or new settings: start over
            self.key, self.heap, self.stamp, self.dirty, self.position = key, [], {}, set(), {}
            self.seen = {"subscription": 0, "invoice": 0}
        for kind in ("subscription", "invoice"):
            ids = em.store.by_kind.get(kind, [])
            for n in range(self.seen[kind], len(ids)):    # new objects, with or without an event
                self.position[ids[n]] = n
                self.dirty.add(ids[n])
            self.seen[kind] = len(ids)
        for oid in self.dirty:
            obj = em.store.objects.get(oid)
            self.counter += 1
            self.stamp[oid] = self.counter
            if obj is None or oid in em.store.deleted or not in_clock_scope(em, obj, None):
                continue
            rank, finder = (0, _sub_due) if obj["object"] == "subscription" else (1, _invoice_due)
            pos = self.position.get(oid, 0)
            for t, kind in finder(em, obj):
                heapq.heappush(self.heap, (t, _ORDER[kind], rank, pos, self.counter, oid, kind))
        self.dirty.clear()

    def first(self, em: Emulator, until: int) -> tuple[tuple[int, int, int], str, dict[str, Any]] | None:
        """The earliest transition due by ``until``: ((t, order, tie-break), kind, object)."""
        self.refresh(em)
        heap = self.heap
        while heap and self.stamp.get(heap[0][5]) != heap[0][4]:
            heapq.heappop(heap)
        if not heap or heap[0][0] > until:
            return None
        t, order, rank, pos, _, oid, kind = heap[0]
        return (t, order, rank * MAX_POSITION + pos), kind, em.store.objects[oid]


MAX_POSITION = 1 << 40


def _index(em: Emulator) -> DueIndex | None:
    index = getattr(em, "due_index", None)
    return index if isinstance(index, DueIndex) else None


def _next_due(em: Emulator, clock_id: str | None, until: int,
              index: DueIndex | None = None) -> tuple[int, Any, dict[str, Any]] | None:
    best: tuple[int, float, float, Any, dict[str, Any]] | None = None
    if index is not None:
        found = index.first(em, until)
        if found is not None:
            (at, rank, tie), what, which = found
            best = (at, rank, tie, what, which)
    else:
        for n, obj in enumerate(em.store.all("subscription") + em.store.all("invoice")):
            if not in_clock_scope(em, obj, clock_id):
                continue
            finder = _sub_due if obj["object"] == "subscription" else _invoice_due
            for t, kind in finder(em, obj):
                if t <= until:
                    cand = (t, _ORDER[kind], n, kind, obj)
                    if best is None or cand[:3] < best[:3]:
                        best = cand
    # Subscription schedules: same ordering; ties after the engine's objects.
    base = 2 * MAX_POSITION if index is not None else len(em.store.objects)
    others = [due for timed in em.hooks.timed for due in timed(em, clock_id)]
    for k, (t, order, obj, run) in enumerate(schedule_engine.due(em, clock_id) + others):
        ext = (t, order, base + k, run, obj)
        if t <= until and (best is None or ext[:3] < best[:3]):
            best = ext
    return None if best is None else (best[0], best[3], best[4])


def _sub_due(em: Emulator, sub: dict[str, Any]) -> list[tuple[int, str]]:
    if "billing_cycle_anchor" not in sub or not all("current_period_end" in i for i in sub["items"]["data"]):
        return []  # not made by this engine (e.g. a hand-inserted fixture)
    st, status = em.state.peek_subscription(sub["id"]), sub["status"]
    out: list[tuple[int, str]] = []
    if status == "incomplete":
        return [(sub["created"] + INCOMPLETE_EXPIRY_SECONDS, "expire")]
    if status == "trialing":
        te = sub["trial_end"]
        if st.trial_will_end_for != te and te - TRIAL_WILL_END_SECONDS > sub["created"]:
            out.append((te - TRIAL_WILL_END_SECONDS, "trial_will_end"))
        out.append((te, "trial_end"))
    if status not in ("active", "past_due", "unpaid", "trialing"):
        return out
    start, end = engine.sub_period(sub)
    pause = sub.get("pause_collection") or {}
    if pause.get("resumes_at") is not None:
        out.append((pause["resumes_at"], "resume_collection"))
    if sub.get("cancel_at") is not None and sub["cancel_at"] < end:
        out.append((sub["cancel_at"], "cancel_at"))
    upcoming = end - em.settings.upcoming_days * DAY
    if (
        sub["collection_method"] == "charge_automatically"
        and sub.get("cancel_at") is None
        and upcoming > start
        and st.upcoming_for != end
    ):
        out.append((upcoming, "upcoming"))
    if status == "trialing":
        return out
    out.append((end, "renew"))
    return out


def _invoice_due(em: Emulator, inv: dict[str, Any]) -> list[tuple[int, str]]:
    if inv["status"] != "open":
        return []
    out = []
    if inv.get("next_payment_attempt") is not None and inv.get("auto_advance"):
        out.append((inv["next_payment_attempt"], "retry"))
    if (
        inv["collection_method"] == "send_invoice"
        and inv.get("due_date") is not None
        and not em.state.peek_invoice(inv["id"]).overdue
    ):
        out.append((inv["due_date"], "overdue"))
    return out


def _process(em: Emulator, kind: str, obj: dict[str, Any], t: int) -> None:
    if kind == "expire":
        engine.expire_incomplete(em, obj, t)
    elif kind == "trial_will_end":
        engine.trial_will_end(em, obj)
    elif kind == "trial_end":
        engine.end_trial(em, obj, t)
    elif kind == "upcoming":
        _upcoming(em, obj, t)
    elif kind == "resume_collection":
        prev = em.update(obj, {"pause_collection": None})
        em.emit("customer.subscription.updated", obj, prev)
    elif kind == "cancel_at":
        details = obj.get("cancellation_details") or {}
        engine.cancel_now(
            em,
            obj,
            t,
            None,
            reason=details.get("reason") or "cancellation_requested",
            comment=details.get("comment"),
            feedback=details.get("feedback"),
        )
    elif kind == "renew":
        engine.renew(em, obj, t)
    elif kind == "retry":
        run_retry(em, obj, t)
    elif kind == "overdue":
        _overdue(em, obj, t)


def _upcoming(em: Emulator, sub: dict[str, Any], t: int) -> None:
    em.state.subscription(sub["id"]).upcoming_for = engine.sub_period(sub)[1]
    plan = plan_change(em, sub, None, at=t, proration_behavior="none", proration_date=None, anchor_now=False)
    inv = compute(em, plan_invoice(em, sub, plan, t, preview=True, extra=[]), apply_balance=True)
    em.emit("invoice.upcoming", inv)


def _overdue(em: Emulator, inv: dict[str, Any], t: int) -> None:
    em.state.invoice(inv["id"]).overdue = True
    sub = em.store.objects.get(inv.get("subscription") or "")
    if sub is not None and sub["status"] == "active":
        engine.set_status(em, sub, "past_due", None)


def run_retry(em: Emulator, inv: dict[str, Any], at: int) -> None:
    """One scheduled automatic retry of ``inv`` at ``at`` (``dunning.py`` has the schedule)."""
    st = em.state.invoice(inv["id"])
    st.retries_done += 1
    pm_id = default_payment_method(em, inv)
    if not should_skip(em, inv, pm_id):
        attempt(em, inv, pm_id, at, None, auto=True)
        return
    before = inv["next_payment_attempt"]
    final = schedule_after_failure(em, inv, at, st.last_decline, pm_id, auto=True)
    if inv["next_payment_attempt"] != before:
        em.emit("invoice.updated", inv, {"next_payment_attempt": before})
    if final:
        engine.on_invoice_failed(em, inv, at, None, True)
