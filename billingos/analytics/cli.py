"""``billingos analytics summary``, ``billingos analytics backfill`` and ``billingos analytics export KIND``."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

__all__ = ["add_commands"]


def add_commands(subparsers: Any) -> None:
    """Add the ``analytics`` command group to the main ``billingos`` parser's subparsers."""
    from ..cli import add_settings
    from .export import KINDS

    group = subparsers.add_parser("analytics", help="the subscription ledger and revenue reports")
    sub = group.add_subparsers(dest="analytics_command", required=True)
    summ = sub.add_parser("summary", help="the key figures at a date, and the last months' movements",
                          description="MRR, ARR, active subscribers, ARPA and LTV at --at (default now), then "
                          "the movements of the --months months before it, in the reporting currency.")
    summ.add_argument("--at", type=date.fromisoformat, help="the day (YYYY-MM-DD; default: now)")
    summ.add_argument("--months", type=_months, default=3, help="months of movements to show, 1-36 (default 3)")
    add_settings(summ)
    summ.set_defaults(func=_summary)
    back = sub.add_parser("backfill", help="build the ledger from Stripe's subscriptions and Events API",
                          description="Post the subscription ledger for history that predates it: every "
                          "subscription's own timestamps, and the Events API (Stripe keeps 30 days). "
                          "Safe to run again: what is already right is left alone.")
    back.add_argument("--days", type=float, default=30.0, help="how far back to read the Events API (max 30)")
    back.add_argument("--rebuild", action="store_true",
                      help="empty the ledger first (after changing the analytics settings)")
    add_settings(back)
    back.set_defaults(func=_backfill)
    exp = sub.add_parser("export", help="a report as CSV", description="Write a report as CSV: "
                         + ", ".join(KINDS) + ".")
    exp.add_argument("kind", choices=KINDS, metavar="KIND", help="movements, cohorts, ledger, top_customers, "
                     "or a series metric (mrr, arr, new, churn, customer_churn_rate, quick_ratio, ...)")
    exp.add_argument("--start", type=date.fromisoformat, required=True, help="first day (YYYY-MM-DD)")
    exp.add_argument("--end", type=date.fromisoformat, required=True, help="day after the last (YYYY-MM-DD)")
    exp.add_argument("--interval", choices=("day", "week", "month"), default="month")
    exp.add_argument("--output", "-o", help="write to this file instead of standard output")
    add_settings(exp)
    exp.set_defaults(func=_export)


def _summary(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from rich.table import Table

    from ..cli import build_billing
    analytics = build_billing(args).analytics
    at = datetime.combine(args.at, datetime.min.time(), UTC) if args.at else None
    end = at or datetime.now(UTC)
    index = end.year * 12 + end.month - 1 - (args.months - 1)       # the first month shown, counted in months
    start = datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
    ltv, arpa = analytics.ltv(at), analytics.arpa(at)
    figures = Table(title=f"at {end:%d %b %Y}", show_header=False)
    for name, value in (("MRR", analytics.mrr(at)), ("ARR", analytics.arr(at)),
                        ("active subscribers", f"{analytics.active_subscribers(at):,}"),
                        ("ARPA", arpa if arpa is not None else "n/a (no subscribers)"),
                        ("LTV", ltv if ltv is not None else "undefined (no churn yet)")):
        figures.add_row(name, str(value))
    moves = Table(title="movements")
    for column in ("month", "MRR at start", "new", "expansion", "reactivation", "contraction", "churn", "MRR at end"):
        moves.add_column(column, justify="left" if column == "month" else "right")
    for m in analytics.movements(start, end + timedelta(microseconds=1)):
        moves.add_row(f"{m.start:%b %Y}", str(m.mrr_start), str(m.new), str(m.expansion), str(m.reactivation),
                      str(m.contraction), str(m.churn), str(m.mrr_end))
    from rich.console import Console
    console = Console(width=140)
    console.print(figures)
    console.print(moves)
    return 0


def _months(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 36:
        raise argparse.ArgumentTypeError(f"a whole number of months from 1 to 36, got {value!r}")
    return int(value)


def _backfill(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ..cli import build_billing
    billing = build_billing(args)
    with Progress(TextColumn("{task.description:<14}"), BarColumn(), TextColumn("{task.completed:>8,}"),
                  TimeElapsedColumn(), console=_stderr()) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=None)
            bar.update(tasks[stage], completed=done)

        report = billing.analytics.backfill(args.days, rebuild=args.rebuild, progress=progress)
    print(f"subscriptions: {report.subscriptions}, events: {report.events}, ledger rows written: "
          f"{report.rows_written}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..cli import build_billing
    text = build_billing(args).analytics.export(args.kind, args.start, args.end, interval=args.interval)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _stderr() -> Any:
    from rich.console import Console
    return Console(stderr=True)
