"""Alembic environment for billingos. Runs on the connection handed over in ``config.attributes``."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from billingos.migrations import VERSION_TABLE, _include_name
from billingos.models import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("billingos migrations need a connection or sqlalchemy.url")
        with create_engine(url).begin() as conn:
            _configure(conn)
        return
    _configure(connection)


def _configure(connection: Any) -> None:
    context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                      include_name=_include_name, compare_type=True,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


run()
