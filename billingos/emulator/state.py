"""What Stripe keeps server side besides the API objects, typed, and the hooks the engine calls.

``EmulatorState`` is persisted with the objects (``state_path``); ``Hooks`` are wiring, rebuilt by each
``Emulator``. Nothing here is shown through the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from .app import Emulator
    from .routing import Request

__all__ = ["EmulatorState", "Hooks", "InvoiceState", "MeterEventRecord", "SubscriptionState"]


@dataclass
class InvoiceState:
    """Collection bookkeeping of one invoice: automatic retries and the last decline."""

    first_failure_at: int | None = None
    retries_done: int = 0
    last_decline: str | None = None
    last_payment_method: str | None = None
    overdue: bool = False


@dataclass
class SubscriptionState:
    """Which one-off events a subscription already had (per trial end, per period end)."""

    trial_will_end_for: int | None = None
    upcoming_for: int | None = None


@dataclass
class MeterEventRecord:
    """A billing meter event as Stripe received it (the API shows no list of them)."""

    identifier: str
    event_name: str
    meter: str
    customer: str
    value: str                  # a decimal string, as the payload carried it
    timestamp: int
    created: int
    payload: dict[str, str]
    canceled: bool = False


class CheckoutSessionState(TypedDict, total=False):
    """What a Checkout Session was created with that Stripe keeps server side, and what completing it made."""

    items: list[dict[str, Any]]
    subscription_data: dict[str, Any]
    payment_intent_data: dict[str, Any]
    customer_made: str
    payment_intent: str


@dataclass
class EmulatorState:
    invoices: dict[str, InvoiceState] = field(default_factory=dict)
    subscriptions: dict[str, SubscriptionState] = field(default_factory=dict)
    used_up_discounts: set[str] = field(default_factory=set)            # ``once`` coupons already applied
    payment_intent_invoices: dict[str, str] = field(default_factory=dict)   # payment intent -> its invoice
    meter_events: list[MeterEventRecord] = field(default_factory=list)    # in arrival order
    meter_event_index: dict[str, int] = field(default_factory=dict)       # identifier -> index above
    webhook_secrets: dict[str, list[str]] = field(default_factory=dict)   # endpoint -> secrets, newest last
    undelivered_events: list[str] = field(default_factory=list)         # not (yet) delivered everywhere
    detached_payment_methods: set[str] = field(default_factory=set)     # Stripe refuses to attach them again
    product_features: dict[str, list[str]] = field(default_factory=dict)    # product -> product_feature ids
    entitlement_summaries: dict[str, list[str]] = field(default_factory=dict)  # customer -> features announced
    checkout_sessions: dict[str, CheckoutSessionState] = field(default_factory=dict)
    portal_flows_done: set[str] = field(default_factory=set)             # portal sessions whose flow completed

    def invoice(self, invoice_id: str) -> InvoiceState:
        return self.invoices.setdefault(invoice_id, InvoiceState())

    def subscription(self, subscription_id: str) -> SubscriptionState:
        return self.subscriptions.setdefault(subscription_id, SubscriptionState())

    def peek_invoice(self, invoice_id: str) -> InvoiceState:
        """Read only: a blank state for an invoice that has none (nothing is created)."""
        return self.invoices.get(invoice_id) or InvoiceState()

    def peek_subscription(self, subscription_id: str) -> SubscriptionState:
        return self.subscriptions.get(subscription_id) or SubscriptionState()

    # --- persistence ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["used_up_discounts"] = sorted(self.used_up_discounts)
        out["detached_payment_methods"] = sorted(self.detached_payment_methods)
        out["portal_flows_done"] = sorted(self.portal_flows_done)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EmulatorState:
        """The inverse of ``to_json``; raises KeyError/TypeError on anything else."""
        known = set(cls.__dataclass_fields__)
        if set(data) != known:
            raise KeyError(f"state keys differ: {sorted(set(data) ^ known)}")
        return cls(
            invoices={k: InvoiceState(**v) for k, v in data["invoices"].items()},
            subscriptions={k: SubscriptionState(**v) for k, v in data["subscriptions"].items()},
            used_up_discounts=set(data["used_up_discounts"]),
            payment_intent_invoices=dict(data["payment_intent_invoices"]),
            meter_events=[MeterEventRecord(**r) for r in data["meter_events"]],
            meter_event_index={str(k): int(v) for k, v in data["meter_event_index"].items()},
            webhook_secrets={k: list(v) for k, v in data["webhook_secrets"].items()},
            undelivered_events=list(data["undelivered_events"]),
            detached_payment_methods=set(data["detached_payment_methods"]),
            product_features={k: list(v) for k, v in data["product_features"].items()},
            entitlement_summaries={k: list(v) for k, v in data["entitlement_summaries"].items()},
            checkout_sessions={k: CheckoutSessionState(**v) for k, v in data["checkout_sessions"].items()},
            portal_flows_done=set(data["portal_flows_done"]),
        )


EventHook = Callable[[dict[str, Any]], None]
ClockHook = Callable[["Emulator", dict[str, Any], int, int], None]
InvoicePaidHook = Callable[["Emulator", dict[str, Any], int, "Request | None"], None]
InvoiceFailedHook = Callable[["Emulator", dict[str, Any], int, "Request | None", bool], None]
#: ``(em, clock_id) -> [(t, order, obj, run)]``: timed transitions of other objects for the billing cycle;
#: ``run(em, obj, t)`` is called when ``t`` falls due (for objects moving with test clock ``clock_id``).
TimedHook = Callable[["Emulator", "str | None"], list[tuple[int, float, dict[str, Any], Any]]]


@dataclass
class Hooks:
    """Where the engine calls out, so a lower layer never imports a higher one. ``Emulator`` wires its
    own; tests may append more.

    - ``event(event)``: every event the emulator emits (webhook queue, entitlement summaries, schedules).
    - ``after_request()``: once a request has released the emulator's lock (immediate webhook delivery).
    - ``clock_advance(em, clock, old_time, new_time)``: a test clock advances (the billing cycle); a hook
      may step ``clock["frozen_time"]`` forward as it works.
    - ``invoice_paid(em, invoice, at, request)`` / ``invoice_payment_failed(em, invoice, at, request,
      final)``: a subscription reacts to its invoice's payment.
    - ``timed(em, clock_id)``: other objects' timed transitions (Checkout Sessions expiring), run by the
      billing cycle in time order with its own.
    """

    event: list[EventHook] = field(default_factory=list)
    after_request: list[Callable[[], None]] = field(default_factory=list)
    clock_advance: list[ClockHook] = field(default_factory=list)
    invoice_paid: list[InvoicePaidHook] = field(default_factory=list)
    invoice_payment_failed: list[InvoiceFailedHook] = field(default_factory=list)
    timed: list[TimedHook] = field(default_factory=list)
