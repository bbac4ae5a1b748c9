"""Tax rates: create, retrieve, update, list. ``percentage`` and ``inclusive`` are fixed once created."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..billing_common import decimal_param
from ..params import Params
from ..routing import Request
from ..store import matches_range, new_id

if TYPE_CHECKING:
    from ..app import Emulator

TAX_TYPES = (
    "amusement_tax",
    "communications_tax",
    "gst",
    "hst",
    "igst",
    "jct",
    "lease_tax",
    "pst",
    "qst",
    "retail_delivery_fee",
    "rst",
    "sales_tax",
    "service_tax",
    "vat",
)


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/tax_rates", create)
    r.add("GET", "/v1/tax_rates", list_)
    r.add("GET", "/v1/tax_rates/{id}", retrieve)
    r.add("POST", "/v1/tax_rates/{id}", update)


def _editable(p: Params, rate: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if p.has("active"):
        changes["active"] = p.bool("active")
    for key in ("country", "description", "jurisdiction", "state"):
        if p.has(key):
            changes[key] = p.str(key, nullable=True, max_length=50 if key != "description" else 5000)
    if p.has("display_name"):
        changes["display_name"] = p.str("display_name", required=True, max_length=50)
    if p.has("tax_type"):
        changes["tax_type"] = p.str("tax_type", choices=TAX_TYPES)
    metadata = p.metadata(rate.get("metadata", {}))
    if metadata is not None:
        changes["metadata"] = metadata
    return changes


def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    display_name = p.str("display_name", required=True, max_length=50)
    percentage = decimal_param(p, "percentage", required=True, low=0, high=100, low_inclusive=True)
    inclusive = p.bool("inclusive")
    if inclusive is None:
        p.required("inclusive")
    rate: dict[str, Any] = {
        "id": new_id("txr", 24),
        "object": "tax_rate",
        "active": True,
        "country": None,
        "created": em.now(),
        "description": None,
        "display_name": display_name,
        "effective_percentage": percentage,
        "flat_amount": None,
        "inclusive": inclusive,
        "jurisdiction": None,
        "jurisdiction_level": None,
        "livemode": False,
        "metadata": {},
        "percentage": percentage,
        "rate_type": "percentage",
        "state": None,
        "tax_type": None,
    }
    changes = _editable(p, rate)
    p.done()
    rate.update(changes)
    em.store.insert(rate)
    em.emit("tax_rate.created", rate, request=req)
    return rate


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.get("tax_rate", req.args["id"], label="tax rate")


def update(em: Emulator, req: Request) -> dict[str, Any]:
    rate = em.store.get("tax_rate", req.args["id"], label="tax rate")
    changes = _editable(req.params, rate)
    req.params.done()
    previous = em.update(rate, changes)
    if previous:
        em.emit("tax_rate.updated", rate, previous, request=req)
    return rate


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    active, inclusive = p.bool("active"), p.bool("inclusive")
    created = p.get("created")
    items = em.store.all("tax_rate")
    if active is not None:
        items = [t for t in items if t["active"] == active]
    if inclusive is not None:
        items = [t for t in items if t["inclusive"] == inclusive]
    if created is not None:
        items = [t for t in items if matches_range(t["created"], created, "created")]
    return em.store.page(p, items, "/v1/tax_rates")
