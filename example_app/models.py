"""Linkshelf's OWN tables: users and their links. billingos knows a user only by ``owner_id`` (a string)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Engine, ForeignKey, Integer, MetaData, String, Text, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker


class Base(DeclarativeBase):
    # Separate from billingos's MetaData: the host's tables and billing_* tables never mix.
    metadata = MetaData(naming_convention={"ix": "ix_%(column_0_label)s", "pk": "pk_%(table_name)s",
                                           "uq": "uq_%(table_name)s_%(column_0_name)s",
                                           "fk": "fk_%(table_name)s_%(column_0_name)s"})


class User(Base):
    __tablename__ = "linkshelf_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    # werkzeug.security's salted hash; None for the demo's seeded customers (they have no password).
    password_hash: Mapped[str | None] = mapped_column(String(256), default=None)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # A random public id, not the row id, so billing links survive a re-import of users.
    owner_id: Mapped[str] = mapped_column(String(40), unique=True, default=lambda: new_owner_id())
    # SHA-256 of the user's Linkshelf API token (the product's own API), or None before one is made.
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))


class Link(Base):
    __tablename__ = "linkshelf_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("linkshelf_users.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))


def new_owner_id() -> str:
    return "usr_" + secrets.token_hex(10)


def make_sessions(database_url: str) -> sessionmaker:
    """The app's own engine on the shared SQLite file; the busy timeout waits out billingos's writes."""
    engine: Engine = create_engine(database_url, connect_args={"timeout": 30})
    Base.metadata.create_all(engine)
    return sessionmaker(bind=engine, expire_on_commit=False)
