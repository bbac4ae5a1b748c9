from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONType, UTCDateTime
from ..db import BigID as ID


class BillingCustomer(Base):
    """The local copy of a Stripe customer, keyed by the host's owner id."""

    __tablename__ = "billing_customers"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    owner_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(512), index=True)
    name: Mapped[str | None] = mapped_column(String(256))
    currency: Mapped[str | None] = mapped_column(String(3))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    delinquent: Mapped[bool] = mapped_column(Boolean, default=False)
    default_payment_method: Mapped[str | None] = mapped_column(String(255))
    test_clock: Mapped[str | None] = mapped_column(String(255))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    stripe_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # customers.erase(): personal fields pseudonymised; the mirror never writes them again (personal_data.py)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)   # +1 whenever the synced object changes


# The admin customer search: a case-insensitive email or name *prefix* (``lower(email) LIKE 'ab%'``) uses
# these; text_pattern_ops makes LIKE prefixes indexable on PostgreSQL whatever the database's collation.
# Partial (live customers) and covering (``id`` and the column): the search reads its matching ids from the
# index alone, an index-only scan (migration 0012, issue 12).
# PostgreSQL only: SQLite cannot reflect expression indexes, and its LIKE is case-insensitive anyway.
Index("ix_billing_customers_email_search", func.lower(BillingCustomer.email).label("email_lower"),
      postgresql_ops={"email_lower": "text_pattern_ops"}, postgresql_include=["id", "email"],
      postgresql_where=BillingCustomer.deleted_at.is_(None)).ddl_if(dialect="postgresql")
Index("ix_billing_customers_name_search", func.lower(BillingCustomer.name).label("name_lower"),
      postgresql_ops={"name_lower": "text_pattern_ops"}, postgresql_include=["id", "name"],
      postgresql_where=BillingCustomer.deleted_at.is_(None)).ddl_if(dialect="postgresql")
