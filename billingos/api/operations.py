"""The JSON API's operations, defined once: each is a function of a ``Call`` (the authenticated key, the
owner it acts for, the parsed query or body, the services) that returns a pydantic model or raises a
BillingError. Both adapters and both OpenAPI documents are built from ``OPERATIONS``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from .. import validation
from ..api_keys import ApiKey
from ..errors import InvalidInputError, NotFoundError
from .schemas import (
    CheckOut,
    CheckQuery,
    Customer,
    InvoiceList,
    InvoicesQuery,
    OwnerQuery,
    Subscription,
    UsageBatchIn,
    UsageEventIn,
    UsageOut,
)

__all__ = ["OPERATIONS", "Call", "Operation", "Services", "owner_for"]

#: Which subscription ``GET subscription`` shows: the first in this order of status, the newest within one.
_CURRENT = ("active", "trialing", "past_due", "unpaid", "paused", "incomplete")


@dataclass(frozen=True)
class Services:
    """The peers the operations use (never the whole ``Billing``)."""

    entitlements: Any
    usage: Any
    subscriptions: Any
    invoices: Any
    customers: Any


@dataclass(frozen=True)
class Call:
    key: ApiKey
    query: Any
    body: Any
    services: Services

    def owner(self, asked: str | None) -> str:
        return owner_for(self.key, asked)


def owner_for(key: ApiKey, asked: str | None) -> str:
    """The owner a request acts for. An owner's key acts for that owner only: naming another is a 404,
    exactly like an owner that does not exist, so a key cannot probe for other owners."""
    if asked is not None:
        validation.owner_id(asked)
    if key.owner_id is None:
        if asked is None:
            raise InvalidInputError("owner_id is required with a server-to-server key (one that acts for every "
                                    "owner): pass ?owner_id= or the event's owner_id.", param="owner_id")
        return asked
    if asked is not None and asked != key.owner_id:
        raise NotFoundError("No such owner for this API key.", param="owner_id")
    return key.owner_id


@dataclass(frozen=True)
class Operation:
    id: str                                   # the OpenAPI operationId
    method: str
    path: str                                 # under {prefix}/api/v1/
    scope: str
    summary: str
    run: Callable[[Call], BaseModel]
    response: type[BaseModel]
    query: type[BaseModel] | None = None
    body: tuple[type[BaseModel], ...] = ()    # accepted body shapes, tried in order


def check(call: Call) -> CheckOut:
    q: CheckQuery = call.query
    from ..entitlements import feature_key
    feature = feature_key(q.feature, "feature")
    answer = call.services.entitlements.check(call.owner(q.owner_id), feature, q.amount)
    return CheckOut(feature=feature, allowed=answer.allowed, limit=answer.limit, used=answer.used,
                    remaining=answer.remaining, resets_at=answer.resets_at, reason=answer.reason)


def track_usage(call: Call) -> UsageOut:
    body = call.body
    usage = call.services.usage
    if isinstance(body, UsageEventIn):
        result = usage.track(call.owner(body.owner_id), body.meter, body.value, body.idempotency_key,
                             body.timestamp, body.properties)
        return UsageOut(accepted=0 if result.duplicate else 1, duplicates=1 if result.duplicate else 0)
    events = []
    for i, e in enumerate(body.events):
        try:
            owner = call.owner(e.owner_id)
        except InvalidInputError as err:
            raise InvalidInputError(f"events[{i}]: {err.message}", param=f"events[{i}].owner_id") from None
        events.append({"owner_id": owner, "meter": e.meter, "value": e.value,
                       "idempotency_key": e.idempotency_key, "timestamp": e.timestamp, "properties": e.properties})
    bulk = usage.track_many(events)
    return UsageOut(accepted=bulk.inserted, duplicates=bulk.duplicates)


def subscription(call: Call) -> Subscription:
    q: OwnerQuery = call.query
    subs = call.services.subscriptions.list(call.owner(q.owner_id))
    current = sorted((s for s in subs if s.status in _CURRENT),
                     key=lambda s: (_CURRENT.index(s.status), -(s.created.timestamp() if s.created else 0)))
    if not current:
        raise NotFoundError("This owner has no current subscription.")
    return current[0]


def invoices(call: Call) -> InvoiceList:
    q: InvoicesQuery = call.query
    return InvoiceList(items=call.services.invoices.list(call.owner(q.owner_id), status=q.status, limit=q.limit))


def customer(call: Call) -> Customer:
    q: OwnerQuery = call.query
    found: Customer = call.services.customers.get(owner_id=call.owner(q.owner_id))
    return found


OPERATIONS: tuple[Operation, ...] = (
    Operation("checkEntitlement", "GET", "entitlements/check", "entitlements:read",
              "May the owner use a feature now (and how much is left)?", check, CheckOut, query=CheckQuery),
    Operation("trackUsage", "POST", "usage", "usage:write",
              "Record usage: one event or a batch, each once per idempotency key.", track_usage, UsageOut,
              body=(UsageBatchIn, UsageEventIn)),
    Operation("getSubscription", "GET", "subscription", "billing:read",
              "The owner's current subscription.", subscription, Subscription, query=OwnerQuery),
    Operation("listInvoices", "GET", "invoices", "billing:read",
              "The owner's invoices, newest first.", invoices, InvoiceList, query=InvoicesQuery),
    Operation("getCustomer", "GET", "customer", "billing:read",
              "The owner's billing customer.", customer, Customer, query=OwnerQuery),
)
