"""``billingos`` command line: migrations, the emulator server, and (from each domain) its own commands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any


def add_settings(p: argparse.ArgumentParser, *, stripe: bool = True) -> None:
    """The settings a command's ``Billing`` takes, as flags; each defaults to its ``BILLINGOS_*`` variable."""
    p.add_argument("--database-url", help="SQLAlchemy URL (default: $BILLINGOS_DATABASE_URL)")
    if not stripe:
        return
    p.add_argument("--stripe-api-key", help="Stripe secret key (default: $BILLINGOS_STRIPE_API_KEY)")
    p.add_argument("--stripe-emulator", action="store_true", default=None,
                   help="answer Stripe calls from the built-in emulator (default: $BILLINGOS_STRIPE_EMULATOR)")
    p.add_argument("--emulator-state", metavar="PATH",
                   help="the emulator's state file; implies --stripe-emulator (default: $BILLINGOS_EMULATOR_STATE)")
    p.add_argument("--stripe-api-base", help="a Stripe-compatible server (default: $BILLINGOS_STRIPE_API_BASE)")
    p.add_argument("--redis-url", help="the entitlement cache's Redis (default: $BILLINGOS_REDIS_URL)")


def _setting(args: argparse.Namespace, name: str, env: str) -> Any:
    value = getattr(args, name, None)
    return value if value not in (None, "") else (os.environ.get(env) or None)


def build_billing(args: argparse.Namespace) -> Any:
    """A Billing from the command's flags or the BILLINGOS_* environment variables. Without a database, or
    without a Stripe (a key, or the emulator asked for by name), the command stops with one line."""
    from .billing import Billing
    from .errors import ConfigurationError
    url = _setting(args, "database_url", "BILLINGOS_DATABASE_URL")
    if not url:
        raise ConfigurationError("give --database-url or set BILLINGOS_DATABASE_URL.", param="database_url")
    state = _setting(args, "emulator_state", "BILLINGOS_EMULATOR_STATE") or \
        os.environ.get("BILLINGOS_EMULATOR_STATE_PATH") or None
    flag = getattr(args, "stripe_emulator", None)
    emulator = bool(flag) or state is not None or (
        flag is None and os.environ.get("BILLINGOS_STRIPE_EMULATOR", "").strip().lower() in ("1", "true", "yes"))
    key = _setting(args, "stripe_api_key", "BILLINGOS_STRIPE_API_KEY")
    if not key and not emulator:
        raise ConfigurationError("give --stripe-api-key (or set BILLINGOS_STRIPE_API_KEY), or --stripe-emulator "
                                 "with --emulator-state PATH; billingos never runs against an empty stand-in "
                                 "for Stripe.", param="stripe_api_key")
    options: dict[str, Any] = {"database_url": url, "stripe_emulator": emulator, "emulator_state_path": state,
                               "stripe_api_base": _setting(args, "stripe_api_base", "BILLINGOS_STRIPE_API_BASE"),
                               "redis_url": _setting(args, "redis_url", "BILLINGOS_REDIS_URL")}
    if key:
        options["stripe_api_key"] = key
    return Billing(**options)


def _engine(args: argparse.Namespace) -> Any:
    """The database alone: migrations need no Stripe."""
    from .billing import _make_engine
    from .errors import ConfigurationError
    url = _setting(args, "database_url", "BILLINGOS_DATABASE_URL")
    if not url:
        raise ConfigurationError("give --database-url or set BILLINGOS_DATABASE_URL.", param="database_url")
    return _make_engine(url)


def _db_upgrade(args: argparse.Namespace) -> int:
    from alembic.util import CommandError

    from .errors import InvalidInputError
    from .migrations import current_revision, upgrade
    engine = _engine(args)
    try:
        upgrade(engine, args.revision)
    except CommandError as e:   # an unknown revision: nothing was run
        raise InvalidInputError(f"revision {args.revision!r} is not a billingos migration: {e}",
                                param="revision") from None
    print(f"billingos schema at {current_revision(engine)}")
    return 0


def _db_current(args: argparse.Namespace) -> int:
    from .migrations import current_revision
    print(current_revision(_engine(args)) or "(empty)")
    return 0


def _webhooks_list(args: argparse.Namespace) -> int:
    for e in build_billing(args).webhooks.events(status=args.status, limit=args.limit):
        print(f"{e.id}  {e.type:<40} {e.status:<10} attempts={e.attempts}  {e.last_error or ''}")
    return 0


def _webhooks_replay(args: argparse.Namespace) -> int:
    if bool(args.event) == bool(args.dead):
        from .errors import InvalidInputError
        raise InvalidInputError("give --event EVT_ID or --dead.", param="event")
    billing = build_billing(args)
    ids = billing.webhooks.replay(args.event) if args.event else billing.webhooks.replay(status="dead")
    print(f"replayed {len(ids)} event(s)")
    for e in billing.webhooks.events(limit=max(1, len(ids)) * 10):
        if e.id in ids:
            print(f"{e.id}  {e.status}")
    return 0


def login_name() -> str | None:
    """Who ran the command (the login name), as the reconcile page lists it; None when there is none."""
    import getpass
    try:
        return getpass.getuser()[:120] or None
    except Exception:      # no login name (a container without a passwd entry)
        return None


def cli_actor() -> Any:
    """The audit log's actor for a command: an admin named ``cli:<login>`` (or ``cli``)."""
    from .actor import Actor
    user = login_name()
    return Actor(kind="admin", id=f"cli:{user}" if user else "cli")


def _reconcile(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from .errors import InvalidInputError
    if not 0 < args.days <= 30:     # checked before anything is opened
        raise InvalidInputError(f"--days must be more than 0 and at most 30 (the Events API keeps 30 days), "
                                f"got {args.days:g}.", param="lookback")
    billing = build_billing(args)
    report = billing.reconcile(lookback=timedelta(days=args.days), progress=_progress_bar(), force=args.force,
                               dry_run=args.dry_run, source="cli", started_by=login_name(), kinds=args.kinds)
    print(file=sys.stderr)
    if report.dry_run:
        print("dry run: nothing was written; this is what a run would change")
    print(f"events backfilled: {report.events_backfilled}, processed: {report.events_processed}")
    for k in report.kinds:
        print(f"{k.kind:<14} checked={k.checked} created={len(k.created)} updated={len(k.updated)} "
              f"removed={len(k.removed)}")
        if report.dry_run:
            for verb, ids in (("create", k.created), ("update", k.updated), ("remove", k.removed)):
                for object_id in ids:
                    print(f"  would {verb} {object_id}")
    return 0


def _progress_bar() -> Any:
    """A one-line progress display on stderr: stage and count, redrawn in place."""
    def show(stage: str, done: int) -> None:
        bar = "#" * min(30, done // 10 + 1)
        print(f"\r{stage:<14} {done:>7} {bar:<30}", end="", file=sys.stderr, flush=True)
    return show


def _emulator_serve(args: argparse.Namespace) -> int:
    from .emulator import Emulator, serve
    from .errors import ConfigurationError
    try:    # a non-loopback host, a foreign --state file or a busy port: one line, before the banner
        server = serve(Emulator(state_path=args.state), host=args.host, port=args.port)
    except (OSError, ValueError) as e:
        raise ConfigurationError(str(e)) from None
    print(f"billingos Stripe emulator on http://{args.host}:{server.server_address[1]} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="billingos", description="billingos: Stripe billing inside your app.")
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database migrations").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="run billingos's migrations up to a revision (default head)")
    up.add_argument("revision", nargs="?", default="head")
    add_settings(up, stripe=False)
    up.set_defaults(func=_db_upgrade)
    cur = db.add_parser("current", help="print the database's billingos revision")
    add_settings(cur, stripe=False)
    cur.set_defaults(func=_db_current)

    wh = sub.add_parser("webhooks", help="stored webhook events").add_subparsers(dest="wh_command",
                                                                                 required=True)
    lst = wh.add_parser("list", help="list stored events, newest first")
    lst.add_argument("--status", choices=("pending", "processing", "processed", "ignored", "failed", "dead"))
    lst.add_argument("--limit", type=int, default=50)
    add_settings(lst)
    lst.set_defaults(func=_webhooks_list)
    rep = wh.add_parser("replay", help="re-run one event, or every dead-lettered event")
    rep.add_argument("--event")
    rep.add_argument("--dead", action="store_true")
    add_settings(rep)
    rep.set_defaults(func=_webhooks_replay)

    rec = sub.add_parser("reconcile", help="backfill missed events and compare full lists with Stripe")
    rec.add_argument("--days", type=float, default=3.0, help="how far back to read the Events API (max 30)")
    rec.add_argument("--force", action="store_true",
                     help="remove however many local objects are gone in Stripe (default: refuse above the "
                          "configured share, 10%%)")
    rec.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    rec.add_argument("--kind", action="append", dest="kinds", metavar="KIND",
                     help="compare only this kind (repeatable; e.g. payment_methods, which is not in a default "
                          "run: it lists every customer's cards)")
    add_settings(rec)
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
    from .customers import cli as customers_cli
    customers_cli.add_commands(sub)
    from .api_keys import cli as api_keys_cli
    api_keys_cli.add_commands(sub)
    from .analytics import cli as analytics_cli
    analytics_cli.add_commands(sub)
    from .insights import cli as insights_cli
    insights_cli.add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Every refusal is one line on stderr and exit status 2 (argparse's own usage errors
    too); an interrupted command exits 130."""
    args = parser().parse_args(argv)
    from .errors import BillingError
    try:
        return int(args.func(args) or 0)
    except BillingError as e:
        print(f"billingos: {_one_line(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("billingos: interrupted", file=sys.stderr)
        return 130


def _one_line(message: str) -> str:
    return " ".join(message.split())


if __name__ == "__main__":
    sys.exit(main())
