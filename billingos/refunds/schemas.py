from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..clock import utc


class Refund(BaseModel):
    """A Stripe refund of an invoice's payment. Amounts are integer minor units of ``currency``."""

    model_config = ConfigDict(frozen=True)

    id: str
    invoice: str
    amount: int
    currency: str
    status: str | None
    reason: str | None
    created: datetime | None

    @classmethod
    def from_stripe(cls, obj: dict[str, Any], invoice: str) -> Refund:
        return cls(id=obj["id"], invoice=invoice, amount=int(obj["amount"]), currency=obj["currency"],
                   status=obj.get("status"), reason=obj.get("reason"), created=utc(obj.get("created")))


class CreditNote(BaseModel):
    """A Stripe credit note: ``pre_payment_amount`` lowered what the invoice owed, ``post_payment_amount`` was
    refunded or credited to the customer's balance."""

    model_config = ConfigDict(frozen=True)

    id: str
    number: str | None
    invoice: str
    amount: int
    currency: str
    status: str
    reason: str | None
    memo: str | None
    pre_payment_amount: int
    post_payment_amount: int
    created: datetime | None

    @classmethod
    def from_stripe(cls, obj: dict[str, Any]) -> CreditNote:
        return cls(id=obj["id"], number=obj.get("number"), invoice=obj["invoice"], amount=int(obj["amount"]),
                   currency=obj["currency"], status=obj["status"], reason=obj.get("reason"), memo=obj.get("memo"),
                   pre_payment_amount=int(obj.get("pre_payment_amount") or 0),
                   post_payment_amount=int(obj.get("post_payment_amount") or 0),
                   created=utc(obj.get("created")))


class Refundable(BaseModel):
    """What an invoice can still give back: ``refund`` (left on its payment) and ``credit`` (left to credit)."""

    model_config = ConfigDict(frozen=True)

    invoice: str
    currency: str
    status: str | None
    paid: int
    refunded: int
    refund: int
    credited: int
    credit: int
    owed: int          # what the invoice still owes (an open invoice's credit note lowers it)
