"""Usage: each metered feature against its limit, the reset date, and the projected cost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import NotFoundError
from ..results import Render, Result

if TYPE_CHECKING:
    from ..core import PageContext

POLL_SECONDS = 30


def _meters(ctx: PageContext, owner: str) -> list[dict[str, Any]]:
    names = {f.key: f.name for f in ctx.billing.catalog.features(active=None)}
    rows = []
    for grant in sorted(ctx.billing.entitlements.grants(owner), key=lambda g: g.feature):
        if grant.type != "metered":
            continue
        check = ctx.billing.check(owner, grant.feature)
        used = check.used or 0
        rows.append({"name": names.get(grant.feature, grant.feature.replace("_", " ").capitalize()),
                     "used": used, "limit": check.limit, "resets_at": check.resets_at,
                     "percent": ctx.pages.fmt.percent(used, check.limit)})
    return rows


def usage(ctx: PageContext) -> Result:
    owner = ctx.owner_id
    try:
        projection = ctx.billing.usage.projected_invoice(owner)
    except NotFoundError:
        projection = None
    return Render("portal/usage.html", {"title": "Usage", "nav": "usage", "meters": _meters(ctx, owner),
                                        "projection": projection, "poll": POLL_SECONDS})


def usage_bars(ctx: PageContext) -> Result:
    """The bars alone, for htmx polling (``hx-get`` every 30 seconds)."""
    return Render("portal/_usage_bars.html", {"meters": _meters(ctx, ctx.owner_id), "poll": POLL_SECONDS})
