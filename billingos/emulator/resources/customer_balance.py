"""Customer balance transactions: ``/v1/customers/{customer}/balance_transactions`` create (an
``adjustment``), retrieve, update, list; credit notes add ``credit_note`` entries through ``record``.

A negative amount is a credit the customer's next invoices consume. Every entry changes
``customer.balance`` and sends ``customer.updated`` (Stripe has no event for the entry itself).
Invoices consuming a balance at finalization do not add ``applied_to_invoice`` entries yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..billing_common import currency_param
from ..errors import invalid, missing
from ..routing import Request
from ..store import new_id

if TYPE_CHECKING:
    from ..app import Emulator

LIMIT = 99_999_999


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/customers/{customer}/balance_transactions", create)
    r.add("GET", "/v1/customers/{customer}/balance_transactions", list_)
    r.add("GET", "/v1/customers/{customer}/balance_transactions/{id}", retrieve)
    r.add("POST", "/v1/customers/{customer}/balance_transactions/{id}", update)


def record(em: Emulator, cust: dict[str, Any], amount: int, currency: str, req: Request | None, *,
           kind: str, description: str | None = None, credit_note: str | None = None,
           invoice: str | None = None, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    """Add an entry, move the customer's balance, send customer.updated."""
    ending = int(cust.get("balance") or 0) + amount
    txn = {"id": new_id("cbtxn", 24), "object": "customer_balance_transaction", "amount": amount,
           "checkout_session": None, "created": em.now(cust), "credit_note": credit_note, "currency": currency,
           "customer": cust["id"], "customer_account": None, "description": description,
           "ending_balance": ending, "invoice": invoice, "livemode": False, "metadata": dict(metadata or {}),
           "type": kind}
    em.store.insert(txn)
    changes: dict[str, Any] = {"balance": ending}
    if cust.get("currency") is None:
        changes["currency"] = currency
    previous = em.update(cust, changes)
    em.emit("customer.updated", cust, previous, request=req)
    return txn


def _customer(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.get("customer", req.args["customer"], param="customer")


def create(em: Emulator, req: Request) -> dict[str, Any]:
    cust = _customer(em, req)
    p = req.params
    amount = p.int("amount", required=True, min=-LIMIT, max=LIMIT)
    currency = str(currency_param(p, "currency", required=True))
    description = p.str("description", max_length=350)
    metadata = p.metadata({})
    p.done()
    if amount == 0:
        raise invalid("amount must not be zero.", "amount")
    if cust.get("currency") not in (None, currency):
        raise invalid(f"The customer's balance is in {cust['currency']}; use that currency.", "currency")
    return record(em, cust, amount, currency, req, kind="adjustment", description=description, metadata=metadata)


def _get(em: Emulator, req: Request, cust: dict[str, Any]) -> dict[str, Any]:
    txn = em.store.find(req.args["id"])
    if txn is None or txn.get("object") != "customer_balance_transaction" or txn["customer"] != cust["id"]:
        raise missing("customer balance transaction", req.args["id"])
    return txn


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    cust = _customer(em, req)
    req.params.done()
    return _get(em, req, cust)


def update(em: Emulator, req: Request) -> dict[str, Any]:
    cust = _customer(em, req)
    txn = _get(em, req, cust)
    p = req.params
    changes: dict[str, Any] = {}
    if p.has("description"):
        changes["description"] = p.str("description", nullable=True, max_length=350)
    if p.has("metadata"):
        changes["metadata"] = p.metadata(txn["metadata"])
    p.done()
    em.update(txn, changes)
    return txn


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    cust = _customer(em, req)
    p = req.params
    invoice, note = p.str("invoice"), p.str("credit_note")
    p.get("created")
    items = [t for t in em.store.all("customer_balance_transaction") if t["customer"] == cust["id"]]
    if invoice is not None:
        items = [t for t in items if t["invoice"] == invoice]
    if note is not None:
        items = [t for t in items if t["credit_note"] == note]
    return em.store.page(p, items, f"/v1/customers/{cust['id']}/balance_transactions")
