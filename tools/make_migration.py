#!/usr/bin/env python3
"""Autogenerate a new billingos migration from the models: ``python tools/make_migration.py "add x"``.

It upgrades a scratch SQLite database to head and diffs the models against it. Review the file it
writes: shipped migrations are never edited, so a change always gets a new revision.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from billingos.migrations import alembic_config, upgrade


def main(message: str, rev_id: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        upgrade(engine)
        with engine.begin() as conn:
            command.revision(alembic_config(conn), message=message, autogenerate=True, rev_id=rev_id)
        engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
