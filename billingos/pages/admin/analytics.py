"""Analytics: key figures against the previous period, MRR, movements, churn rates, the cohort heat map and
the top customers for a date range (a GET form: presets or start/end, by day, week or month), with a CSV
link for every series. Every figure comes from ``billing.analytics`` (SQL over the ledger); this module
only picks the range, asks for each report once and shapes the answers for the template and the charts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from ...analytics.periods import INTERVALS, MAX_INTERVALS, boundaries, shift
from ...analytics.reports import ltv as ltv_of
from ...errors import InvalidInputError
from ...money import Money
from ...validation import echo
from ..results import File, Result
from .common import page

if TYPE_CHECKING:
    from ...analytics.schemas import Cohort, Movement
    from ...analytics.service import AnalyticsService
    from ..core import PageContext

PRESETS = {"3m": 3, "6m": 6, "12m": 12, "24m": 24}     # months back, this month included
DEFAULT_PRESET = "12m"
MAX_POINTS = MAX_INTERVALS // 2      # the range and the previous period go in one report of at most 1,000
HEAT_MONTHS = 24                     # cohorts shown on the heat map (the CSV has every one)
TOP = 10
COHORT_VIEWS = {"nrr": "Net revenue retention", "grr": "Gross revenue retention",
                "customers": "Customers still paying"}
#: the CSV links, in the order the downloads list shows them: (kind, label)
DOWNLOADS = (("movements", "Movements (every figure per interval)"), ("mrr", "MRR"), ("arr", "ARR"),
             ("net_new", "Net new MRR"), ("customers", "Paying customers"),
             ("customer_churn_rate", "Customer churn rate"), ("gross_mrr_churn", "Gross MRR churn"),
             ("net_mrr_churn", "Net MRR churn"), ("quick_ratio", "Quick ratio"), ("arpa", "ARPA"),
             ("trial_conversion", "Trial conversion"), ("cohorts", "Cohorts (NRR and GRR)"),
             ("top_customers", "Customers by MRR"), ("ledger", "Ledger rows"))
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Range:
    """What the form asked for: ``first`` to ``last`` (both days included) by ``interval``."""

    first: date
    last: date
    interval: str
    preset: str | None

    @property
    def start(self) -> datetime:
        return datetime(self.first.year, self.first.month, self.first.day, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The exclusive end the library takes: midnight after the last day."""
        return self.start + timedelta(days=(self.last - self.first).days + 1)

    def query(self) -> dict[str, str]:
        """The query string that asks for this range again."""
        if self.preset:
            return {"range": self.preset, "interval": self.interval}
        return {"start": self.first.isoformat(), "end": self.last.isoformat(), "interval": self.interval}


def overview(ctx: PageContext) -> Result:
    ctx.admin    # noqa: B018  (refuses a non-admin before anything is read)
    today = ctx.billing.clock.now().astimezone(UTC).date()
    try:
        chosen = resolve(ctx.query, today)
        cohort_view = ctx.query.get("cohort") or "nrr"
        if cohort_view not in COHORT_VIEWS:
            raise InvalidInputError("cohort must be nrr, grr or customers.", param="cohort")
    except InvalidInputError as err:
        return page(ctx, "analytics.html", "analytics", "Analytics", 400, form=_echo_form(ctx.query, today),
                    error=str(err), report=None, **_choices(ctx, None))
    report = build(ctx.billing.analytics, chosen, cohort_view)
    links = {kind: ctx.url("admin.analytics_csv", kind=kind, **chosen.query()) for kind, _ in DOWNLOADS}
    cohort_links = {key: ctx.url("admin.analytics", **chosen.query(), cohort=key) for key in COHORT_VIEWS}
    return page(ctx, "analytics.html", "analytics", "Analytics", form=_form(chosen), report=report, csv=links,
                cohort_links=cohort_links, cohort_view=cohort_view, **_choices(ctx, chosen))


def csv(ctx: PageContext) -> Result:
    """``billing.analytics.export(kind, ...)`` for the page's range, as a download."""
    ctx.admin    # noqa: B018
    chosen = resolve(ctx.query, ctx.billing.clock.now().astimezone(UTC).date())
    kind = ctx.query.get("kind") or ""
    text = ctx.billing.analytics.export(kind, chosen.start, chosen.end, chosen.interval)
    name = f"{kind}_{chosen.first.isoformat()}_{chosen.last.isoformat()}_{chosen.interval}.csv"
    return File(text.encode("utf-8"), "text/csv; charset=utf-8", name)


# --- the range ------------------------------------------------------------------------------------
def resolve(query: dict[str, str], today: date) -> Range:
    """The range from the query: ``start`` and ``end`` (both included), else a preset (``range``, default
    the last 12 months: this month so far and the 11 before). InvalidInputError for anything else."""
    interval = query.get("interval") or "month"
    if interval not in INTERVALS:
        raise InvalidInputError(f"interval must be day, week or month, got {echo(interval)}.", param="interval")
    start_text, end_text = (query.get("start") or "").strip(), (query.get("end") or "").strip()
    if start_text or end_text:
        first, last, preset = _day(start_text, "start"), _day(end_text, "end"), None
        if last < first:
            raise InvalidInputError(f"The end date ({last.isoformat()}) is before the start date "
                                    f"({first.isoformat()}).", param="end")
    else:
        preset = query.get("range") or DEFAULT_PRESET
        if preset not in PRESETS:
            raise InvalidInputError(f"range must be one of {', '.join(PRESETS)}, got {echo(preset)}.",
                                    param="range")
        last = today
        first = shift(datetime(today.year, today.month, 1, tzinfo=UTC), "month", 1 - PRESETS[preset]).date()
        if interval == "week":          # whole weeks, Monday first
            first -= timedelta(days=first.weekday())
    chosen = Range(first, last, interval, preset)
    try:
        n = len(boundaries(chosen.start, chosen.end, interval)) - 1
    except InvalidInputError:
        n = MAX_INTERVALS
    if n > MAX_POINTS:
        raise InvalidInputError(f"The range holds more than {MAX_POINTS} {interval}s (the previous period is "
                                f"compared too); choose a longer interval or a shorter range.", param="end")
    if shift(chosen.start, interval, -n).year < 2000:
        raise InvalidInputError("The range starts too early: its previous period would begin before 2000.",
                                param="start")
    return chosen


def _day(text: str, param: str) -> date:
    label = "start date" if param == "start" else "end date"
    if not text:
        raise InvalidInputError(f"Give the {label} too (or pick one of the ranges).", param=param)
    try:
        if not _DAY.fullmatch(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"The {label} must be a date like 2025-01-31, got {echo(text)}.",
                                param=param) from None
    if not date(2000, 1, 1) <= day < date(2199, 1, 1):
        raise InvalidInputError(f"The {label} must be between 2000 and 2198, got {day.isoformat()}.", param=param)
    return day


def _form(chosen: Range) -> dict[str, str]:
    return {"start": chosen.first.isoformat(), "end": chosen.last.isoformat(), "interval": chosen.interval,
            "range": chosen.preset or ""}


def _echo_form(query: dict[str, str], today: date) -> dict[str, str]:
    """The form as it was sent (cut short), so the admin can fix it."""
    def cut(key: str) -> str:
        return (query.get(key) or "")[:40]
    return {"start": cut("start"), "end": cut("end") or today.isoformat(),
            "interval": query["interval"] if query.get("interval") in INTERVALS else "month",
            "range": cut("range")}


def _choices(ctx: PageContext, chosen: Range | None) -> dict[str, Any]:
    interval = chosen.interval if chosen else "month"
    presets = [(key, f"Last {months} months", ctx.url("admin.analytics", range=key, interval=interval),
                chosen is not None and chosen.preset == key) for key, months in PRESETS.items()]
    return {"presets": presets, "intervals": INTERVALS, "downloads": DOWNLOADS}


# --- the report -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Figure:
    """A key figure: its value now, the previous period's, the change in words."""

    key: str
    label: str
    value: str
    previous: str
    change: str          # "+$120.00 (+4.2%)", "−1.3 pts", "" when either side is undefined
    trend: str           # "up", "down", "flat", "" (undefined)
    good: bool | None    # whether the change is good news (churn going down is)
    note: str


def build(svc: AnalyticsService, chosen: Range, cohort_view: str = "nrr") -> dict[str, Any]:
    """Everything the page shows, from one movements report over the range and its previous period plus the
    figures that need their own query (retention, LTV, trials, recovery, cohorts, top customers)."""
    start, end, interval = chosen.start, chosen.end, chosen.interval
    bounds = boundaries(start, end, interval)
    n = len(bounds) - 1
    prev_start = shift(start, interval, -n)
    both = svc.movements(prev_start, end, interval)
    if len(both) == 2 * n and both[n].start == start:
        previous, current = both[:n], both[n:]
    else:   # months clamped differently (a start on the 31st): two reports
        previous, current = svc.movements(prev_start, start, interval), svc.movements(start, end, interval)
    whole_before, whole = svc.spans(prev_start, start, end)
    currency = svc.currency
    first, last = current[0], current[-1]
    heat_from = max(start, shift(datetime(chosen.last.year, chosen.last.month, 1, tzinfo=UTC), "month",
                                 1 - HEAT_MONTHS))
    cohorts = svc.cohorts(heat_from, end)
    figures = [
        _money("mrr", "MRR", last.mrr_end, first.mrr_start, "at the end of the range, against its start"),
        _money("arr", "ARR", _times12(last.mrr_end), _times12(first.mrr_start), "MRR × 12"),
        _count("customers", "Paying customers", last.customers_end, first.customers_start,
               "customers with MRR above 0"),
        _money("arpa", "ARPA", last.arpa, previous[-1].arpa if previous else None, "MRR ÷ paying customers"),
        _money("ltv", "LTV", _ltv(svc, [*previous, *current], end, last.arpa),
               _ltv(svc, [*previous, *current], start, previous[-1].arpa),
               f"ARPA ÷ average monthly customer churn (the {svc.settings.ltv_months} months before)"),
        _money("net_new", "Net new MRR", _sum([m.net_new for m in current], currency),
               _sum([m.net_new for m in previous], currency), "new + expansion + reactivation − contraction − "
               "churn in the range"),
        _rate("nrr", "Net revenue retention", whole.nrr, whole_before.nrr, True,
              "MRR of the customers paying at the start, at the end ÷ at the start"),
        _rate("grr", "Gross revenue retention", whole.grr, whole_before.grr, True, "as NRR without expansion"),
        _rate("customer_churn_rate", "Customer churn rate", _average([m.customer_churn_rate for m in current]),
              _average([m.customer_churn_rate for m in previous]), False, f"average per {interval}"),
        _ratio("quick_ratio", "Quick ratio", _quick(current), _quick(previous),
               "(new + expansion + reactivation) ÷ (contraction + churn)"),
        _rate("trial_conversion", "Trial conversion", svc.trial_conversion(start, end),
              svc.trial_conversion(prev_start, start), True, "trials ended in the range that became paying"),
        _rate("recovery_rate", "Failed-payment recovery", svc.recovery_rate(start, end),
              svc.recovery_rate(prev_start, start), True, "failed invoice volume later paid"),
    ]
    labels = [_label(m.start, interval) for m in current]
    charts = {
        "currency": currency,
        "labels": labels,
        "mrr": [_major(m.mrr_end) for m in current],
        "mrr_previous": [_major(m.mrr_end) for m in previous] if len(previous) == n else [],
        "movements": {key: [_major(getattr(m, key)) * sign for m in current]
                      for key, sign in (("new", 1), ("expansion", 1), ("reactivation", 1), ("contraction", -1),
                                        ("churn", -1), ("fx", 1))},
        "churn": {key: [_percent(getattr(m, key)) for m in current]
                  for key in ("customer_churn_rate", "gross_mrr_churn", "net_mrr_churn")},
    }
    return {
        "range": chosen, "currency": currency, "figures": figures, "movements": current,
        "previous_start": prev_start, "labels": labels,
        "chart_json": Markup(_script_json(charts)),
        "cohorts": [_cohort_row(c, cohort_view) for c in cohorts], "cohort_months": _months(cohorts),
        "heat_from": heat_from, "heat_cut": heat_from > start,
        "top": svc.top_customers(end, TOP),
    }


def _ltv(svc: AnalyticsService, known: list[Movement], at: datetime, arpa: Money | None) -> Money | None:
    """``svc.ltv(at)``, from the monthly movements already read when they hold the calendar months it
    averages (the default ranges: it saves two reports), else asked for."""
    month = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    by_start = {m.start: m for m in known}
    months = [by_start.get(shift(month, "month", -k)) for k in range(svc.settings.ltv_months, 0, -1)]
    if all(m is not None and m.end == shift(m.start, "month", 1) for m in months):
        return ltv_of(arpa, [m for m in months if m is not None])
    return svc.ltv(at)


def _script_json(data: Any) -> str:
    """JSON safe inside <script type="application/json"> (no "</script>", no markup)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _label(at: datetime, interval: str) -> str:
    return f"{at:%b %Y}" if interval == "month" else f"{at.day} {at:%b %Y}"


def _major(value: Money) -> float:
    return float(value.decimal)


def _percent(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value * 100, 2))


def _times12(value: Money) -> Money:
    return Money(value.amount * 12, value.currency)


def _sum(values: list[Money], currency: str) -> Money:
    return Money(sum(v.amount for v in values), currency)


def _average(values: list[Decimal | None]) -> Decimal | None:
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) / len(known) if known else None


def _quick(movements: list[Movement]) -> Decimal | None:
    gained = sum(m.new.amount + m.expansion.amount + m.reactivation.amount for m in movements)
    lost = sum(m.contraction.amount + m.churn.amount for m in movements)
    return Decimal(gained) / Decimal(lost) if lost else None


def _trend(delta: Any) -> str:
    return "up" if delta > 0 else "down" if delta < 0 else "flat"


def _signed_pct(now: Decimal | int, before: Decimal | int) -> str:
    if not before:
        return ""
    pct = (Decimal(now) - Decimal(before)) * 100 / abs(Decimal(before))
    return f" ({pct:+.1f}%)".replace("-", "−")


def _money(key: str, label: str, now: Money | None, before: Money | None, note: str) -> Figure:
    shown = now.format() if now is not None else "undefined"
    if now is None or before is None:
        return Figure(key, label, shown, before.format() if before else "undefined", "", "", None, note)
    delta = now.amount - before.amount
    sign = "+" if delta >= 0 else "−"
    change = f"{sign}{Money(abs(delta), now.currency).format()}{_signed_pct(now.amount, before.amount)}"
    return Figure(key, label, shown, before.format(), change, _trend(delta), delta > 0 if delta else None, note)


def _count(key: str, label: str, now: int, before: int, note: str) -> Figure:
    delta = now - before
    change = f"{delta:+,}".replace("-", "−") + _signed_pct(now, before)
    return Figure(key, label, f"{now:,}", f"{before:,}", change, _trend(delta), delta > 0 if delta else None, note)


def _rate(key: str, label: str, now: Decimal | None, before: Decimal | None, higher_is_better: bool,
          note: str) -> Figure:
    def shown(v: Decimal | None) -> str:
        return "undefined" if v is None else f"{v * 100:.1f}%"
    if now is None or before is None:
        return Figure(key, label, shown(now), shown(before), "", "", None, note)
    points = round((now - before) * 100, 1)
    change = f"{points:+.1f} pts".replace("-", "−")
    good = None if points == 0 else (points > 0) == higher_is_better
    return Figure(key, label, shown(now), shown(before), change, _trend(points), good, note)


def _ratio(key: str, label: str, now: Decimal | None, before: Decimal | None, note: str) -> Figure:
    def shown(v: Decimal | None) -> str:
        return "undefined" if v is None else f"{v:.2f}"
    if now is None or before is None:
        return Figure(key, label, shown(now), shown(before), "", "", None, note)
    delta = round(now - before, 2)
    return Figure(key, label, shown(now), shown(before), f"{delta:+.2f}".replace("-", "−"), _trend(delta),
                  delta > 0 if delta else None, note)


def _cohort_row(c: Cohort, view: str) -> dict[str, Any]:
    if view == "customers":
        values: tuple[Decimal | None, ...] = tuple(Decimal(k) / c.size if c.size else None for k in c.customers)
    else:
        values = c.nrr if view == "nrr" else c.grr
    cells = [(None, "—") if v is None else (min(10, max(0, int(v * 10))), f"{v * 100:.0f}%") for v in values]
    return {"start": c.start, "size": c.size, "mrr": c.mrr, "cells": cells}


def _months(cohorts: list[Cohort]) -> int:
    return max((len(c.nrr) for c in cohorts), default=0)
