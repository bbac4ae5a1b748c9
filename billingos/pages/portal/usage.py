"""Usage: each metered feature against its limit, the reset date, the projected cost, and the customer's
own alert thresholds ("email me at 50% and 80%")."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ...errors import InvalidInputError, NotFoundError
from ...usage.alerts import MAX_ALERTS
from ..results import Redirect, Render, Result

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
        rows.append({"key": grant.feature,
                     "name": names.get(grant.feature, grant.feature.replace("_", " ").capitalize()),
                     "used": used, "limit": check.limit, "resets_at": check.resets_at,
                     "percent": ctx.pages.fmt.percent(used, check.limit)})
    return rows


def usage(ctx: PageContext, *, typed: dict[str, str] | None = None, error: str | None = None,
          status: int = 200) -> Result:
    owner = ctx.owner_id
    try:
        projection = ctx.billing.usage.projected_invoice(owner)
    except NotFoundError:
        projection = None
    meters = _meters(ctx, owner)
    own = ctx.billing.usage.alert_thresholds(owner)
    alerts = [{"key": m["key"], "name": m["name"], "custom": own[m["key"]].custom if m["key"] in own else False,
               "value": (typed or {}).get(m["key"], ", ".join(map(str, own[m["key"]].thresholds))
                                          if m["key"] in own else ""),
               "invalid": bool(typed and m["key"] in typed)}
              for m in meters if m["limit"] is not None]
    from .account import notice
    return Render("portal/usage.html", {"title": "Usage", "nav": "usage", "meters": meters, "alerts": alerts,
                                        "projection": projection, "poll": POLL_SECONDS, "notice": notice(ctx),
                                        "max_alerts": MAX_ALERTS, "error": error}, status)


def usage_bars(ctx: PageContext) -> Result:
    """The bars alone, for htmx polling (``hx-get`` every 30 seconds)."""
    return Render("portal/_usage_bars.html", {"meters": _meters(ctx, ctx.owner_id), "poll": POLL_SECONDS})


def save_alerts(ctx: PageContext) -> Result:
    """Save (or reset to the defaults) the owner's alert thresholds for one of their metered features; a
    feature the owner does not have is a 404, like another owner's ids."""
    owner = ctx.owner_id
    feature = ctx.form.get("feature", "")
    if feature not in {g.feature for g in ctx.billing.entitlements.grants(owner) if g.type == "metered"}:
        raise NotFoundError("No such feature.")
    typed = ctx.form.get("thresholds", "")
    try:
        values = None if ctx.form.get("action") == "reset" else parse_percentages(typed)
        ctx.billing.usage.set_alert_thresholds(owner, feature, values)
    except InvalidInputError as err:
        return usage(ctx, typed={feature: typed[:200]}, error=str(err), status=400)
    return Redirect(ctx.url("portal.usage", done="alerts"))


def parse_percentages(text: str) -> list[int]:
    """"50, 80%" -> [50, 80]; empty -> [] (no alerts). Anything else: InvalidInputError in words."""
    parts = [p for p in re.split(r"[,;\s%]+", text) if p] if len(text) <= 200 else [text]
    values = []
    for part in parts:
        if not (part.isascii() and part.isdigit() and len(part) <= 3 and 1 <= int(part) <= 100):
            raise InvalidInputError("Alert thresholds are whole percentages from 1 to 100, separated by commas, "
                                    "e.g. 50, 80.", param="thresholds")
        values.append(int(part))
    if len(set(values)) > MAX_ALERTS:
        raise InvalidInputError(f"Choose at most {MAX_ALERTS} alert thresholds.", param="thresholds")
    return values
