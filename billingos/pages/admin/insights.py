"""Insights: the alerts inbox (filters, keyset pages, read / dismiss / act, CSV), the churn model's report,
and a customer's churn risk for the customer page. Every write goes through ``billing.insights``, which
records who (the admin) and when on the insight itself."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from ...errors import InvalidInputError, NotFoundError
from ..results import File, Redirect, Result
from .common import actor, optional, page

if TYPE_CHECKING:
    from ..core import PageContext

KIND_WORDS = {"churn_risk": "Churn risk", "payment_failed": "Payment failed", "usage_limit": "Usage limit",
              "upgrade_opportunity": "Upgrade opportunity", "cancellation_survey": "Cancellation survey"}
STATE_WORDS = {"new": "Unread", "read": "Read", "dismissed": "Dismissed", "acted": "Acted on"}
_FILTERS = ("kind", "state", "customer", "since", "until")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ID = re.compile(r"[1-9][0-9]{0,18}")
_MARKS = {"read": "insight_read", "dismissed": "insight_dismissed", "acted": "insight_acted"}


# --- the inbox --------------------------------------------------------------------------------------
def _filters(ctx: PageContext) -> dict[str, Any]:
    """The query's filters as ``billing.insights.alerts`` takes them; InvalidInputError naming the bad one."""
    q = ctx.query
    kind, state = optional(q.get("kind")), optional(q.get("state"))
    if kind is not None and kind not in KIND_WORDS:
        raise InvalidInputError("Choose one of the kinds listed.", param="kind")
    if state is not None and state not in STATE_WORDS:
        raise InvalidInputError("Choose one of the states listed.", param="state")
    since, until = _day(q.get("since"), "since"), _day(q.get("until"), "until")
    if since is not None and until is not None and until < since:
        raise InvalidInputError("The end date is before the start date.", param="until")
    return {"kind": kind, "state": state, "owner_id": _owner(ctx, optional(q.get("customer"))), "since": since,
            "until": until + timedelta(days=1) if until is not None else None}     # until: the whole day


def _day(value: str | None, param: str) -> datetime | None:
    text = optional(value)
    if text is None:
        return None
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        day = datetime.fromisoformat(text).replace(tzinfo=UTC)
        if not 2000 <= day.year <= 9000:
            raise ValueError
    except ValueError:
        raise InvalidInputError(f"{param} must be a date like 2027-01-31.", param=param) from None
    return day


def _owner(ctx: PageContext, customer: str | None) -> str | None:
    """The customer filter takes an owner id or a Stripe customer id (cus_...)."""
    if customer is None:
        return None
    if customer.startswith("cus_"):
        try:
            return ctx.billing.customers.get(stripe_id=customer).owner_id or customer
        except (NotFoundError, InvalidInputError):
            raise InvalidInputError(f"No customer {customer[:60]}.", param="customer") from None
    from ... import validation
    return validation.owner_id(customer)


def _query(ctx: PageContext) -> dict[str, str]:
    return {k: ctx.query[k] for k in _FILTERS if ctx.query.get(k)}


def inbox(ctx: PageContext) -> Result:
    filters = _filters(ctx)
    listing = ctx.billing.insights.alerts(**filters, limit=50, after=optional(ctx.query.get("after")))
    query = _query(ctx)
    here = ctx.url("admin.insights", **query, after=optional(ctx.query.get("after")))
    return page(ctx, "insights.html", "insights", "Insights", rows=listing.items, query=query, kinds=KIND_WORDS,
                states=STATE_WORDS, here=here, unread_total=ctx.billing.insights.unread_count(),
                next_url=ctx.url("admin.insights", **query, after=listing.next_cursor) if listing.next_cursor
                else None, export_url=ctx.url("admin.insights_csv", **query))


def export(ctx: PageContext) -> Result:
    """Every matching insight as CSV, streamed; the filters are checked (and the query run) before the
    first byte, so a bad filter is a 400 page, not a broken download."""
    ctx.admin    # noqa: B018
    chunks = ctx.billing.insights.store.iter_csv(**_filters(ctx))
    first = next(chunks)
    return File(_encoded(itertools.chain([first], chunks)), "text/csv; charset=utf-8", "insights.csv")


def _encoded(chunks: Iterator[str]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.encode("utf-8")


def _insight_id(ctx: PageContext) -> int:
    raw = ctx.params["insight_id"]
    if not _ID.fullmatch(raw) or int(raw) > 2**63 - 1:
        raise NotFoundError("No such insight.")
    return int(raw)


def customer(ctx: PageContext) -> Result:
    """An insight's customer page (the list shows owner ids; this finds the Stripe customer on click)."""
    ctx.admin    # noqa: B018
    insight = ctx.billing.insights.get(_insight_id(ctx))
    found = ctx.billing.customers.get(owner_id=insight.owner_id)
    return Redirect(ctx.url("admin.customer", customer_id=found.id), 302)


def _mark(ctx: PageContext, state: str) -> Result:
    insight_id = _insight_id(ctx)
    who = ctx.admin
    service = ctx.billing.insights
    note = optional(ctx.form.get("note"))
    if state == "read":
        service.mark_read(insight_id, by=who, actor=actor(ctx))
    elif state == "dismissed":
        service.dismiss(insight_id, by=who, note=note, actor=actor(ctx))
    else:
        service.act(insight_id, by=who, note=note, actor=actor(ctx))
    return Redirect(_back(ctx, _MARKS[state]))


def mark_read(ctx: PageContext) -> Result:
    return _mark(ctx, "read")


def dismiss(ctx: PageContext) -> Result:
    return _mark(ctx, "dismissed")


def act(ctx: PageContext) -> Result:
    return _mark(ctx, "acted")


def _back(ctx: PageContext, done: str) -> str:
    """Where the form came from (an admin page on this site: the filtered inbox or a customer page) with the
    notice; anywhere else is the inbox."""
    admin_root = ctx.url("admin.home")
    wanted = ctx.return_url(ctx.form.get("next"), "")
    if not wanted.startswith(admin_root):
        wanted = ctx.url("admin.insights")
    parts = urlsplit(wanted)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "done"] + [("done", done)]
    return f"{parts.path}?{urlencode(query)}"


# --- the model report ---------------------------------------------------------------------------------
def model(ctx: PageContext) -> Result:
    service = ctx.billing.insights
    versions = service.reports(limit=20)
    raw = optional(ctx.query.get("version"))
    report = versions[0] if versions else None
    if raw is not None:
        if not _ID.fullmatch(raw) or int(raw) > 2**63 - 1:
            raise InvalidInputError("version must be a model version number.", param="version")
        report = service.report(int(raw))       # NotFoundError: the 404 page
    weights = sorted(report.feature_weights.items(), key=lambda kv: -kv[1]) if report else []
    chart = None if report is None else {
        "bins": [{"low": b["low"], "high": b["high"], "predicted": round(b["predicted"], 4),
                  "observed": round(b["observed"], 4), "count": int(b["count"])} for b in report.calibration]}
    return page(ctx, "insights_model.html", "insights", "Churn model", report=report, versions=versions,
                newest=versions[0].version if versions else None, weights=weights,
                top_weight=max([w for _, w in weights] or [0]) or 1, chart=chart, threshold=service.threshold)


# --- a customer's risk, for the customer page ---------------------------------------------------------
def customer_risk(ctx: PageContext, owner_id: str | None) -> dict[str, Any] | None:
    """The latest churn score with its reasons, the trend of recent scores and the open alerts of
    ``owner_id`` (None without an owner)."""
    if owner_id is None:
        return None
    service = ctx.billing.insights
    history = service.risk_history(owner_id, limit=30)
    open_alerts = sorted([*service.alerts(owner_id=owner_id, state="new", limit=10).items,
                          *service.alerts(owner_id=owner_id, state="read", limit=10).items],
                         key=lambda a: -a.id)[:10]
    return {"score": service.risk(owner_id), "history": history, "spark": sparkline(history, service.threshold),
            "alerts": open_alerts, "threshold": service.threshold, "kinds": KIND_WORDS, "states": STATE_WORDS,
            "here": ctx.url("admin.customer", customer_id=ctx.params["customer_id"])}


def sparkline(history: list[tuple[datetime, float]], threshold: float, width: int = 240,
              height: int = 48) -> dict[str, Any] | None:
    """SVG points for the trend (risk 0-1 upward), and the threshold's height; None below two scores."""
    if len(history) < 2:
        return None
    step = width / (len(history) - 1)
    points = " ".join(f"{i * step:.1f},{height - s * height:.1f}" for i, (_, s) in enumerate(history))
    first, last = history[0], history[-1]
    return {"points": points, "width": width, "height": height, "threshold_y": round(height - threshold * height, 1),
            "summary": f"Churn risk went from {first[1]:.0%} on {first[0]:%d %b} to {last[1]:.0%} on "
                       f"{last[0]:%d %b} over {len(history)} scores."}

