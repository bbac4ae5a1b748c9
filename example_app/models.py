"""The app's OWN user table and engine. billingos knows a user only by ``owner_id`` (a string)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, MetaData, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker


class Base(DeclarativeBase):
    # Separate from billingos's MetaData: the host's tables and billing_* tables never mix.
    metadata = MetaData(naming_convention={"ix": "ix_%(column_0_label)s", "pk": "pk_%(table_name)s",
                                           "uq": "uq_%(table_name)s_%(column_0_name)s"})


class User(Base):
    __tablename__ = "app_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # A random public id, not the row id, so billing links survive a re-import of users.
    owner_id: Mapped[str] = mapped_column(String(40), unique=True, default=lambda: new_owner_id())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))


def new_owner_id() -> str:
    return "usr_" + secrets.token_hex(10)


def make_sessions(database_url: str) -> sessionmaker:
    """The app's own engine on the shared SQLite file; the busy timeout waits out billingos's writes."""
    engine: Engine = create_engine(database_url, connect_args={"timeout": 30})
    Base.metadata.create_all(engine)
    return sessionmaker(bind=engine, expire_on_commit=False)
