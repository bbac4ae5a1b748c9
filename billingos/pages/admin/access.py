"""API keys (create, shown once; revoke) and the audit log (filters, keyset pages, CSV export)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...errors import InvalidInputError, NotFoundError
from ..results import File, Redirect, Result
from .common import actor, optional, page

if TYPE_CHECKING:
    from ..core import PageContext

ACTOR_KINDS = ("admin", "owner", "api_key", "system")


def api_keys(ctx: PageContext, created: Any = None, error: str | None = None, status: int = 200) -> Result:
    from ...api_keys.schemas import SCOPES
    show_revoked = ctx.query.get("revoked") == "yes"
    keys = ctx.billing.api_keys.list(include_revoked=show_revoked)
    return page(ctx, "api_keys.html", "api_keys", "API keys", status, keys=keys, scopes=SCOPES, created=created,
                show_revoked=show_revoked, error=error, mode=ctx.billing.api_keys.mode)


def create_key(ctx: PageContext) -> Result:
    """The secret is on this one answer's page (never in a URL, never stored): the admin copies it now."""
    from ...api_keys.schemas import SCOPES
    scopes = [s for s in SCOPES if ctx.form.get(f"scope:{s}")]
    try:
        created = ctx.billing.api_keys.create((ctx.form.get("name") or "").strip(), scopes,
                                              owner_id=optional(ctx.form.get("owner_id")), actor=actor(ctx))
    except InvalidInputError as err:
        return api_keys(ctx, error=str(err), status=400)
    return api_keys(ctx, created=created, status=201)


def revoke_key(ctx: PageContext) -> Result:
    key_id = ctx.params["key_id"]
    ctx.admin    # noqa: B018
    if not key_id.startswith("key_"):
        raise NotFoundError("No such API key.")
    ctx.billing.api_keys.revoke(key_id, actor=actor(ctx))
    return Redirect(ctx.url("admin.api_keys", done="key_revoked"))


def _filters(ctx: PageContext) -> dict[str, Any]:
    q = ctx.query
    kind = optional(q.get("actor_kind"))
    if kind is not None and kind not in ACTOR_KINDS:
        raise InvalidInputError("Choose one of the actor kinds listed.", param="actor_kind")
    return {"action": optional(q.get("action")), "actor_kind": kind, "target_id": optional(q.get("target_id")),
            "owner_id": optional(q.get("owner_id"))}


def audit(ctx: PageContext) -> Result:
    filters = _filters(ctx)
    listing = ctx.billing.audit.list(**filters, after=optional(ctx.query.get("after")))
    query = {k: v for k, v in filters.items() if v}
    return page(ctx, "audit.html", "audit", "Audit log", events=listing.items, query=query, kinds=ACTOR_KINDS,
                next_url=ctx.url("admin.audit", **query, after=listing.next_cursor) if listing.next_cursor else None,
                export_url=ctx.url("admin.audit_csv", **query))


def audit_csv(ctx: PageContext) -> Result:
    ctx.admin    # noqa: B018
    lines = ctx.billing.audit.export_csv(**_filters(ctx))
    return File(_encoded(lines), "text/csv; charset=utf-8", "audit-log.csv")


def _encoded(lines: Iterator[str]) -> Iterator[bytes]:
    for line in lines:
        yield line.encode("utf-8")
