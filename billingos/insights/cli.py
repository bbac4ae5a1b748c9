"""``billingos insights evaluate``: train and compare churn models on the database's history, print the report."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

__all__ = ["add_commands"]


def add_commands(subparsers: Any) -> None:
    """Add the ``insights`` command group to the main ``billingos`` parser's subparsers."""
    from ..cli import add_settings
    group = subparsers.add_parser("insights", help="churn prediction and alerts")
    sub = group.add_subparsers(dest="insights_command", required=True)
    ev = sub.add_parser("evaluate", help="train the churn model on a time split and print its report",
                        description="Compare logistic regression and gradient boosting on snapshots of the "
                        "history (train on the past, test on the future), keep the better one as a new "
                        "model version and print the holdout ROC AUC, top-decile lift, Brier score and "
                        "calibration. With --stored, print the newest stored report instead.")
    ev.add_argument("--stored", action="store_true", help="print the newest stored report; train nothing")
    ev.add_argument("--start", type=_date, help="first snapshot date (YYYY-MM-DD)")
    ev.add_argument("--end", type=_date, help="last snapshot date (YYYY-MM-DD; at least 30 days ago)")
    ev.add_argument("--every", type=int, default=7, help="days between snapshots (default 7)")
    ev.add_argument("--min-customers", type=int, default=50)
    ev.add_argument("--min-churn-events", type=int, default=20)
    ev.add_argument("--json", action="store_true", help="print the report as JSON")
    add_settings(ev)
    ev.set_defaults(func=_evaluate)


def _date(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _evaluate(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from ..cli import build_billing
    billing = build_billing(args)
    if args.stored:
        report = billing.insights.report()
    else:
        report = billing.insights.train_churn_model(start=args.start, end=args.end, every=timedelta(days=args.every),
                                                    min_customers=args.min_customers,
                                                    min_churn_events=args.min_churn_events)
    print(report.model_dump_json(indent=2) if args.json else report.text())
    return 0
