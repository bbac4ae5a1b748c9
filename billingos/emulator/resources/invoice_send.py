"""``POST /v1/invoices/{id}/send``: send an invoice for manual payment.

Only invoices with ``collection_method=send_invoice``; a draft is finalized first. In test mode Stripe
sends no email, only the ``invoice.sent`` event, and so does the emulator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import StripeError
from ..invoicing import finalize
from ..routing import Request

if TYPE_CHECKING:
    from ..app import Emulator


def register(em: Emulator) -> None:
    em.router.add("POST", "/v1/invoices/{id}/send", send)


def send(em: Emulator, req: Request) -> dict[str, Any]:

    inv = em.store.get("invoice", req.args["id"])
    req.params.done()
    if inv["collection_method"] != "send_invoice":
        raise StripeError("You can only manually send an invoice if its collection method is 'send_invoice'.",
                          code="invoice_not_editable")
    if inv["status"] == "void":
        raise StripeError("You cannot send a voided invoice.", code="invoice_not_editable")
    if inv["status"] == "draft":
        finalize(em, inv, em.now(inv), req)
    em.emit("invoice.sent", inv, request=req)
    return inv
