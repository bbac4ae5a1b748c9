"""``billingos insights evaluate|score|alerts``: train and compare churn models, score customers now (what the
daily job does, for hosts that run it from cron), and list or export the alerts."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

__all__ = ["add_commands"]


def add_commands(subparsers: Any) -> None:
    """Add the ``insights`` command group to the main ``billingos`` parser's subparsers."""
    from ..cli import add_settings
    from .models import KINDS, STATES
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
    sc = sub.add_parser("score", help="score every paying customer now with the newest model",
                        description="What the daily job does: score every paying customer (or --owner ones) "
                        "with the newest model, store the scores with their reasons, and raise churn-risk "
                        "alerts for customers who newly cross the threshold.")
    sc.add_argument("--owner", action="append", dest="owners", metavar="OWNER_ID",
                    help="score only this owner (repeatable)")
    add_settings(sc)
    sc.set_defaults(func=_score)
    al = sub.add_parser("alerts", help="list the alerts as CSV",
                        description="Write the insights and alerts as CSV, newest first, filtered.")
    al.add_argument("--kind", choices=KINDS)
    al.add_argument("--state", choices=STATES)
    al.add_argument("--owner", dest="owner_id", metavar="OWNER_ID")
    al.add_argument("--since", type=_date, help="created on or after (YYYY-MM-DD)")
    al.add_argument("--output", "-o", help="write to this file instead of standard output")
    add_settings(al)
    al.set_defaults(func=_alerts)


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


def _score(args: argparse.Namespace) -> int:
    from ..cli import build_billing
    run = build_billing(args).insights.score_churn(owner_ids=args.owners)
    print(f"model v{run.model_version}: scored {run.scored:,} customers at {run.at:%Y-%m-%d %H:%M} UTC; "
          f"{run.at_risk:,} at risk, {len(run.detected):,} newly detected")
    return 0


def _alerts(args: argparse.Namespace) -> int:
    import sys

    from ..cli import build_billing
    text = build_billing(args).insights.export_csv(kind=args.kind, state=args.state, owner_id=args.owner_id,
                                                   since=args.since)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0
