"""``billingos api-keys create|list|revoke``: the command-line side of ``billing.api_keys``."""

from __future__ import annotations

import argparse
from typing import Any


def _billing(args: argparse.Namespace) -> Any:
    from ..cli import build_billing
    return build_billing(args)


def _actor() -> Any:
    from ..cli import cli_actor  # not at the top: billingos.cli imports this module
    return cli_actor()


def _create(args: argparse.Namespace) -> int:
    created = _billing(args).api_keys.create(args.name, args.scope, owner_id=args.owner, actor=_actor())
    key = created.key
    print(f"created {key.id} ({key.mode}) for {key.owner_id or 'every owner'} with {', '.join(key.scopes)}")
    print("secret (shown once; store it now):")
    print(created.secret)
    return 0


def _list(args: argparse.Namespace) -> int:
    keys = _billing(args).api_keys.list(owner_id=args.owner, include_revoked=args.all)
    for key in keys:
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        print(f"{key.id}  {key.name:<24} {key.owner_id or '*':<20} {','.join(key.scopes):<45} "
              f"last used {used:<16} {state}")
    if not keys:
        print("no API keys")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    key = _billing(args).api_keys.revoke(args.key_id, actor=_actor())
    print(f"revoked {key.id} at {key.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
    return 0


def add_commands(sub: Any) -> None:
    from ..cli import add_settings  # the key's mode (live or test) follows the Stripe key in use
    keys = sub.add_parser("api-keys", help="API keys for the JSON API").add_subparsers(dest="keys_command",
                                                                                        required=True)
    create = keys.add_parser("create", help="create a key and print its secret once")
    create.add_argument("name")
    create.add_argument("--scope", action="append", required=True,
                        choices=("entitlements:read", "usage:write", "billing:read"), help="repeat for several")
    create.add_argument("--owner", help="the owner id the key acts for (default: every owner)")
    add_settings(create)
    create.set_defaults(func=_create)
    lst = keys.add_parser("list", help="list keys, newest first (never their secrets)")
    lst.add_argument("--owner")
    lst.add_argument("--all", action="store_true", help="include revoked keys")
    add_settings(lst)
    lst.set_defaults(func=_list)
    rev = keys.add_parser("revoke", help="revoke a key at once")
    rev.add_argument("key_id")
    add_settings(rev)
    rev.set_defaults(func=_revoke)
