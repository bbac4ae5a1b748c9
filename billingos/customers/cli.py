"""``billingos customers link --csv FILE``: adopt existing Stripe customers in bulk (``customers.link_many``)."""

from __future__ import annotations

import argparse
import csv
from typing import Any

_HEADER = ("owner_id", "stripe_customer_id")


def _pairs(path: str) -> list[tuple[str, str]]:
    """The CSV's ``owner_id,stripe_customer_id`` rows (a header row is skipped); a malformed row stops the
    command before anything is read from Stripe, naming its line."""
    from ..errors import InvalidInputError
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InvalidInputError(f"cannot read {path!r}: {e}", param="csv") from None
    pairs: list[tuple[str, str]] = []
    for n, row in enumerate(rows, 1):
        cells = [c.strip() for c in row]
        if not any(cells) or (n == 1 and tuple(c.lower() for c in cells) == _HEADER):
            continue
        if len(cells) != 2:
            raise InvalidInputError(f"{path} line {n}: expected owner_id,stripe_customer_id, got {len(cells)} "
                                    "column(s).", param="csv")
        pairs.append((cells[0], cells[1]))
    return pairs


def _link(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..cli import build_billing, cli_actor
    pairs = _pairs(args.csv)
    billing = build_billing(args)
    bar = Progress(TextColumn("linking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True))
    task = bar.add_task("link", total=len(pairs))

    def progress(done: int, total: int) -> None:
        if done == 1:        # shown once every pair passed validation (a bad file stops before it)
            bar.start()
        bar.update(task, completed=done)
    try:
        report = billing.customers.link_many(pairs, force=args.force, dry_run=args.dry_run, actor=cli_actor(),
                                             progress=progress)
    finally:
        if bar.live.is_started:
            bar.stop()
    verb = "would link" if report.dry_run else "linked"
    if report.dry_run:
        print("dry run: nothing was written")
    print(f"{verb}: {len(report.linked)}, already linked: {len(report.already_linked)}, "
          f"conflicts: {len(report.conflicts)}")
    for c in report.conflicts:
        print(f"  conflict {c.owner_id},{c.stripe_customer_id}: {' '.join(c.reason.split())}")
    return 1 if report.conflicts else 0


def _export(args: argparse.Namespace) -> int:
    import json

    from ..cli import build_billing
    data = build_billing(args).customers.export_personal_data(args.owner)
    print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    return 0


def _erase(args: argparse.Namespace) -> int:
    from ..cli import build_billing, cli_actor
    from ..errors import InvalidInputError
    billing = build_billing(args)       # the settings are checked first, as every command does
    if not args.yes:
        raise InvalidInputError("erasing personal data cannot be undone: add --yes to go ahead.", param="yes")
    done = billing.customers.erase(args.owner, actor=cli_actor(), delete_in_stripe=args.delete_in_stripe)
    state = "was already erased; redacted again" if done.already_erased else "erased"
    print(f"{done.owner_id} ({done.customer_id}) {state}"
          f"{', deleted in Stripe' if done.deleted_in_stripe else ''}")
    for table, n in sorted(done.rows.items()):
        print(f"  {table}: {n} row(s)")
    return 0


def add_commands(sub: Any) -> None:
    from ..cli import add_settings
    customers = sub.add_parser("customers", help="customers").add_subparsers(dest="customers_command",
                                                                             required=True)
    link = customers.add_parser("link", help="link existing Stripe customers to owner ids from a CSV "
                                             "(owner_id,stripe_customer_id)")
    link.add_argument("--csv", required=True, metavar="FILE", help="owner_id,stripe_customer_id rows")
    link.add_argument("--dry-run", action="store_true", help="read Stripe, report what would change, write nothing")
    link.add_argument("--force", action="store_true",
                      help="move links that conflict (a customer of another owner, an owner with another customer)")
    add_settings(link)
    link.set_defaults(func=_link)
    export = customers.add_parser("export", help="print everything billingos stores about an owner as JSON "
                                                 "(a data-subject access request)")
    export.add_argument("--owner", required=True, metavar="ID", help="the owner id")
    add_settings(export)
    export.set_defaults(func=_export)
    erase = customers.add_parser("erase", help="pseudonymise an owner's personal data, keeping financial "
                                               "records (a data-subject erasure request)")
    erase.add_argument("--owner", required=True, metavar="ID", help="the owner id")
    erase.add_argument("--delete-in-stripe", action="store_true", help="also delete the customer in Stripe")
    erase.add_argument("--yes", action="store_true", help="confirm: an erasure cannot be undone")
    add_settings(erase)
    erase.set_defaults(func=_erase)

