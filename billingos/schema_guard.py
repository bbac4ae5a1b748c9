"""One translation for "the billingos tables are not there yet": any statement on a ``billing_*`` table that
fails because the table or a column is missing raises MigrationRequiredError, whatever the service.

It is an engine ``handle_error`` hook, so it covers every session, transaction and connection billingos
opens, and nothing else: errors about the host's own tables pass through untouched."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from .errors import MigrationRequiredError

__all__ = ["guard_schema"]

# SQLite's and PostgreSQL's words for a missing table or column (PostgreSQL: 42P01, 42703)
_MISSING = re.compile(r"no such table|no such column|has no column named|(relation|column) .* does not exist")
_PG_CODES = {"42P01", "42703"}
_OURS = re.compile(r"\bbilling_[a-z_]+")


def guard_schema(engine: Engine) -> None:
    """Install the translation on ``engine`` (once; a host engine shared by several Billings gets one)."""
    if not event.contains(engine, "handle_error", _translate):
        event.listen(engine, "handle_error", _translate)


def _translate(context: Any) -> None:
    if context.is_pre_ping:
        return
    original = context.original_exception
    text = str(original)
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if not (code in _PG_CODES or _MISSING.search(text)):
        return
    statement = context.statement or ""
    table = _OURS.search(text) or _OURS.search(statement)
    if table is None:
        return
    raise MigrationRequiredError(
        f"The billingos tables are missing or out of date ({table.group(0)}): run `billing.migrate()` or "
        "`billingos db upgrade` before using billingos.") from None
