"""CSV exports of every report (``billing.analytics.export`` and ``billingos analytics export``)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..money import Money
from .periods import moment
from .series import METRICS

if TYPE_CHECKING:
    from .service import AnalyticsService

__all__ = ["KINDS", "to_csv"]

KINDS = ("movements", "cohorts", "ledger", "top_customers", *METRICS)


def cell(value: Any) -> str:
    """Money as a plain decimal in major units, ratios as decimals, None as "undefined"."""
    if value is None:
        return "undefined"
    if isinstance(value, Money):
        return str(value.decimal)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal | date):
        return str(value)
    return str(value)


def text_cell(value: str | None) -> str:
    """Host-given text (an owner id): one that starts like a spreadsheet formula gets a leading ' so opening
    the file never runs it."""
    value = value or ""
    return "'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value


def to_csv(svc: AnalyticsService, kind: str, start: Any, end: Any, interval: str) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    if kind == "movements":
        w.writerow(["start", "end", "currency", "mrr_start", "new", "expansion", "reactivation", "contraction",
                    "churn", "fx", "mrr_end", "customers_start", "customers_end", "new_customers",
                    "reactivated_customers", "churned_customers", "customer_churn_rate", "gross_mrr_churn",
                    "net_mrr_churn", "quick_ratio"])
        for m in svc.movements(start, end, interval):
            w.writerow([cell(x) for x in (m.start, m.end, m.mrr_end.currency, m.mrr_start, m.new, m.expansion,
                                          m.reactivation, m.contraction, m.churn, m.fx, m.mrr_end,
                                          m.customers_start, m.customers_end, m.new_customers,
                                          m.reactivated_customers, m.churned_customers, m.customer_churn_rate,
                                          m.gross_mrr_churn, m.net_mrr_churn, m.quick_ratio)])
    elif kind == "cohorts":
        w.writerow(["cohort", "month", "customers", "mrr_month_0", "paying", "nrr", "grr"])
        for c in svc.cohorts(start, end):
            for i, (nrr, grr, paying) in enumerate(zip(c.nrr, c.grr, c.customers, strict=True)):
                w.writerow([cell(c.start.date()), i, c.size, cell(c.mrr), paying, cell(nrr), cell(grr)])
    elif kind == "ledger":
        w.writerow(["effective_at", "customer", "subscription", "owner_id", "cause", "currency", "mrr_before",
                    "mrr_after", "status_before", "status_after", "source", "stripe_event_id"])
        for e in svc.ledger_rows(start, end):
            w.writerow([cell(e.effective_at), e.customer, e.subscription, text_cell(e.owner_id), e.cause,
                        e.mrr_after.currency, cell(e.mrr_before), cell(e.mrr_after), e.status_before or "",
                        e.status_after, e.source, e.stripe_event_id or ""])
    elif kind == "top_customers":
        w.writerow(["customer", "owner_id", "mrr", "currency", "mrr_native", "native_currency"])
        for t in svc.top_customers(moment(end, "end"), limit=1000):
            w.writerow([t.customer, text_cell(t.owner_id), cell(t.mrr), t.mrr.currency, cell(t.mrr_native),
                        t.mrr_native.currency])
    else:
        w.writerow(["start", "end", kind, "previous"])
        for p in svc.series(kind, start, end, interval):
            w.writerow([cell(p.start), cell(p.end), cell(p.value), cell(p.previous)])
    return out.getvalue()
