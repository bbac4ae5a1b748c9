"""billingos's alembic migrations: shipped in the package, with their own version table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection, Engine

__all__ = ["VERSION_TABLE", "alembic_config", "current_revision", "pending_diff", "upgrade"]

VERSION_TABLE = "billingos_alembic_version"
HERE = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("version_locations", str(HERE / "versions"))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return ctx.get_current_revision()


def pending_diff(engine: Engine) -> list[Any]:
    """What autogenerate would add to make the database match the models; empty when in step."""
    from alembic.autogenerate import compare_metadata

    from ..models import metadata
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "version_table": VERSION_TABLE, "compare_type": True, "include_name": _include_name})
        return list(compare_metadata(ctx, metadata))


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Only billingos's own tables: the host's tables share the database."""
    if type_ == "table":
        return name is not None and (name.startswith("billing_") or name == VERSION_TABLE)
    return True
