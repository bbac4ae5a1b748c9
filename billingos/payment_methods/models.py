from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONType, UTCDateTime
from ..db import BigID as ID


class BillingPaymentMethod(Base):
    """The local copy of a customer's Stripe payment method (a card's brand, last four digits and expiry)."""

    __tablename__ = "billing_payment_methods"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    customer_stripe_id: Mapped[str | None] = mapped_column(String(255), index=True)
    owner_id: Mapped[str | None] = mapped_column(String(255), index=True)
    type: Mapped[str] = mapped_column(String(64))
    brand: Mapped[str | None] = mapped_column(String(32))
    last4: Mapped[str | None] = mapped_column(String(4))
    exp_month: Mapped[int | None] = mapped_column(Integer)
    exp_year: Mapped[int | None] = mapped_column(Integer)
    detached: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)
