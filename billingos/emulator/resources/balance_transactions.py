"""Balance transactions: retrieve and list (charges make them, see ``..payments``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..routing import Request
from ..store import matches_range

if TYPE_CHECKING:
    from ..app import Emulator

KIND = "balance_transaction"


def register(em: Emulator) -> None:
    em.router.add("GET", "/v1/balance_transactions", list_)
    em.router.add("GET", "/v1/balance_transactions/{id}", retrieve)


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    req.params.done()
    return em.store.get(KIND, req.args["id"], label="balance transaction")


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    source, kind, currency, created = p.str("source"), p.str("type"), p.str("currency"), p.get("created")
    p.get("payout")
    items = em.store.all(KIND)
    for key, value in (("source", source), ("type", kind), ("currency", currency)):
        if value is not None:
            items = [t for t in items if t[key] == value]
    if created is not None:
        items = [t for t in items if matches_range(t["created"], created, "created")]
    return em.store.page(p, items, "/v1/balance_transactions")
