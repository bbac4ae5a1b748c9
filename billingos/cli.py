"""``billingos`` command line: migrations, the emulator server, and (from each domain) its own commands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any


def build_billing(args: argparse.Namespace) -> Any:
    """A Billing from --database-url / --emulator-state or BILLINGOS_* environment variables."""
    from .billing import Billing
    url = args.database_url or os.environ.get("BILLINGOS_DATABASE_URL")
    if not url:
        raise SystemExit("billingos: give --database-url or set BILLINGOS_DATABASE_URL.")
    key = os.environ.get("BILLINGOS_STRIPE_API_KEY")
    state = getattr(args, "emulator_state", None) or os.environ.get("BILLINGOS_EMULATOR_STATE")
    options: dict[str, Any] = {"database_url": url}
    if key and not state:
        options["stripe_api_key"] = key
    else:
        options.update(stripe_emulator=True, emulator_state_path=state)
    return Billing(**options)


def _db_upgrade(args: argparse.Namespace) -> int:
    billing = build_billing(args)
    billing.migrate(args.revision)
    from .migrations import current_revision
    print(f"billingos schema at {current_revision(billing.engine)}")
    return 0


def _db_current(args: argparse.Namespace) -> int:
    from .migrations import current_revision
    print(current_revision(build_billing(args).engine) or "(empty)")
    return 0


def _webhooks_list(args: argparse.Namespace) -> int:
    for e in build_billing(args).webhooks.events(status=args.status, limit=args.limit):
        print(f"{e.id}  {e.type:<40} {e.status:<10} attempts={e.attempts}  {e.last_error or ''}")
    return 0


def _webhooks_replay(args: argparse.Namespace) -> int:
    if bool(args.event) == bool(args.dead):
        raise SystemExit("billingos: give --event EVT_ID or --dead.")
    billing = build_billing(args)
    ids = billing.webhooks.replay(args.event) if args.event else billing.webhooks.replay(status="dead")
    print(f"replayed {len(ids)} event(s)")
    for e in billing.webhooks.events(limit=max(1, len(ids)) * 10):
        if e.id in ids:
            print(f"{e.id}  {e.status}")
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from datetime import timedelta
    billing = build_billing(args)
    report = billing.reconcile(lookback=timedelta(days=args.days), progress=_progress_bar())
    print(file=sys.stderr)
    print(f"events backfilled: {report.events_backfilled}, processed: {report.events_processed}")
    for k in report.kinds:
        print(f"{k.kind:<14} checked={k.checked} created={len(k.created)} updated={len(k.updated)} "
              f"removed={len(k.removed)}")
    return 0


def _progress_bar() -> Any:
    """A one-line progress display on stderr: stage and count, redrawn in place."""
    def show(stage: str, done: int) -> None:
        bar = "#" * min(30, done // 10 + 1)
        print(f"\r{stage:<14} {done:>7} {bar:<30}", end="", file=sys.stderr, flush=True)
    return show


def _emulator_serve(args: argparse.Namespace) -> int:
    from .emulator import Emulator, serve_forever
    print(f"billingos Stripe emulator on http://{args.host}:{args.port} (Ctrl-C stops)", flush=True)
    serve_forever(Emulator(state_path=args.state), host=args.host, port=args.port)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="billingos", description="billingos: Stripe billing inside your app.")
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database migrations").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="run billingos's migrations up to a revision (default head)")
    up.add_argument("revision", nargs="?", default="head")
    up.add_argument("--database-url")
    up.set_defaults(func=_db_upgrade)
    cur = db.add_parser("current", help="print the database's billingos revision")
    cur.add_argument("--database-url")
    cur.set_defaults(func=_db_current)

    wh = sub.add_parser("webhooks", help="stored webhook events").add_subparsers(dest="wh_command",
                                                                                 required=True)
    lst = wh.add_parser("list", help="list stored events, newest first")
    lst.add_argument("--status", choices=("pending", "processing", "processed", "ignored", "failed", "dead"))
    lst.add_argument("--limit", type=int, default=50)
    lst.add_argument("--database-url")
    lst.set_defaults(func=_webhooks_list)
    rep = wh.add_parser("replay", help="re-run one event, or every dead-lettered event")
    rep.add_argument("--event")
    rep.add_argument("--dead", action="store_true")
    rep.add_argument("--database-url")
    rep.set_defaults(func=_webhooks_replay)

    rec = sub.add_parser("reconcile", help="backfill missed events and compare full lists with Stripe")
    rec.add_argument("--days", type=float, default=3.0, help="how far back to read the Events API (max 30)")
    rec.add_argument("--database-url")
    rec.add_argument("--emulator-state")
    rec.set_defaults(func=_reconcile)

    em = sub.add_parser("emulator", help="the built-in Stripe emulator").add_subparsers(dest="em_command",
                                                                                       required=True)
    serve = em.add_parser("serve", help="serve the emulator over HTTP on loopback")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=12111)
    serve.add_argument("--state", help="persist the emulator's state to this JSON file")
    serve.set_defaults(func=_emulator_serve)

    from .catalog import cli as catalog_cli
    if hasattr(catalog_cli, "add_commands"):
        catalog_cli.add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from .errors import BillingError
    try:
        return int(args.func(args) or 0)
    except BillingError as e:
        print(f"billingos: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
