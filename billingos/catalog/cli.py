"""``billingos catalog sync FILE`` and ``billingos catalog show``: the catalog from the command line."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_commands"]


def add_commands(subparsers: Any) -> None:
    """Add the ``catalog`` command group to the main ``billingos`` parser's subparsers."""
    catalog = subparsers.add_parser("catalog", help="products, prices, features and meters")
    sub = catalog.add_subparsers(dest="catalog_command", required=True)

    sync = sub.add_parser(
        "sync",
        help="push a catalog file to Stripe and mirror it locally (idempotent)",
        description="Make Stripe match FILE (.toml, .yaml or .yml), then mirror it into the "
        "database. A second run with the same file changes nothing.",
    )
    sync.add_argument("file", metavar="FILE", help="the catalog file (.toml, .yaml or .yml)")
    _common(sync)
    sync.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    sync.add_argument(
        "--keep-removed",
        action="store_true",
        help="do not archive products, prices and features the file no longer declares",
    )
    sync.add_argument("--json", action="store_true", help="print the report as JSON")
    sync.set_defaults(func=_sync)

    show = sub.add_parser("show", help="print the catalog as mirrored in the database")
    _common(show)
    show.add_argument("--all", action="store_true", help="include archived products and prices")
    show.set_defaults(func=_show)


def _common(p: argparse.ArgumentParser) -> None:
    from ..cli import add_settings  # the same settings (flags and BILLINGOS_* variables) as every command

    add_settings(p)


def _billing(args: argparse.Namespace) -> Any:
    from ..cli import build_billing
    from ..errors import ConfigurationError

    billing = build_billing(args)
    from sqlalchemy import inspect

    if not inspect(billing.engine).has_table("billing_products"):
        raise ConfigurationError("The billingos tables are missing: run `billingos db upgrade` first.")
    return billing


def _sync(args: argparse.Namespace) -> int:
    from .loader import load_catalog

    catalog = load_catalog(args.file)  # a bad file fails before anything is opened or written
    billing = _billing(args)
    report = billing.catalog.sync(catalog, dry_run=args.dry_run, archive_removed=not args.keep_removed)
    if args.json:
        print(json.dumps(report.model_dump(mode="json") | {"noop": report.noop}, indent=2))
        return 0
    for line in report.lines():
        print(line)
    print(report.summary())
    return 0


def _show(args: argparse.Namespace) -> int:
    billing = _billing(args)
    active = None if args.all else True
    cat = billing.catalog
    products = cat.products(active=active)
    if not products:
        print("(no products: run `billingos catalog sync FILE`)")
    for p in products:
        state = "" if p.active else " [archived]"
        print(f"{p.key or p.id}  {p.name}  ({p.id}){state}")
        for pr in cat.prices(p.id, active=active):
            print(f"  price {pr.lookup_key or pr.id}: {_amount(pr)}{'' if pr.active else ' [archived]'}")
        for pf in cat.plan_features(p.id):
            print(f"  feature {pf.feature_key}{_limit(pf)}")
    meters = cat.meters()
    if meters:
        print("meters:")
        for m in meters:
            print(f"  {m.event_name}  {m.display_name}  ({m.aggregation}, {m.status})")
    return 0


def _amount(pr: Any) -> str:
    if pr.unit_amount is not None:
        text = str(pr.unit_price)
    elif pr.unit_amount_decimal is not None:
        text = f"{pr.unit_amount_decimal} {pr.currency} minor units"
    else:
        text = f"{pr.tiers_mode} tiers ({len(pr.tiers or [])}) in {pr.currency}"
    if pr.transform_quantity:
        text += f" per {pr.transform_quantity['divide_by']} units"
    elif pr.usage_type == "metered":
        text += " per unit (metered)"
    if pr.interval:
        every = pr.interval if pr.interval_count == 1 else f"{pr.interval_count} {pr.interval}s"
        text += f" every {every}"
    return text


def _limit(pf: Any) -> str:
    if pf.type != "metered":
        return ""
    limit = "unlimited" if pf.unlimited else f"{pf.limit:,}"
    return f": {limit} per {pf.reset}" + (" (rollover)" if pf.rollover else "")
