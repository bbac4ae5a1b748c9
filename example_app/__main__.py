"""``python -m example_app [--fresh | --seed-only] [--customers N] [--months M]``: Linkshelf on 127.0.0.1
(port 5000, or $PORT), with a huey consumer in a thread.

First start (a new instance dir): seeds an 18-month history, then serves. ``--fresh``: start from an empty
instance, no history. ``--seed-only``: seed a new instance, print the time taken and exit."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from .app import DEFAULT_INSTANCE, create_app
from .bootstrap import is_new, reopen, seeded_app, wipe
from .worker import start_consumer, stop_consumer


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 dev.py example", description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--fresh", action="store_true", help="start from an empty instance (no seeded history)")
    mode.add_argument("--seed-only", action="store_true", help="seed a new instance, print the time and exit")
    # 300 seed in about a minute of CPU; the full 1,500 take about five (docs/performance.md, "Example seed")
    parser.add_argument("--customers", type=_count(1, 100_000), default=300, help="seeded customers (300)")
    parser.add_argument("--months", type=_count(1, 60), default=18, help="months of history (18)")
    parser.add_argument("--instance", default=str(DEFAULT_INSTANCE),
                        help="the instance dir: database, emulator state, demo clock (./instance)")
    return parser.parse_args(argv)


def _count(low: int, high: int) -> Callable[[str], int]:
    def parse_count(raw: str) -> int:
        if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}, got {raw!r}")
        return int(raw)
    return parse_count


def main(argv: list[str] | None = None) -> int:
    raw = os.environ.get("PORT", "5000")
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        print(f"PORT must be a TCP port number (1-65535), got {raw!r}.", file=sys.stderr)
        return 2
    opts = parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    instance = Path(opts.instance).resolve()
    if opts.fresh or opts.seed_only:
        wipe(instance)
    if opts.fresh:
        app = create_app({"INSTANCE_PATH": str(instance)})
    elif not is_new(instance):
        app = reopen(instance)
    else:
        print(f"First start: seeding {opts.customers:,} customers over {opts.months} months of history ...", flush=True)
        app, summary = seeded_app(instance, customers=opts.customers, months=opts.months)
        print(f"Seeded {summary['customers']:,} customers in {summary['seconds']:.1f} s "
              f"({', '.join(f'{k} {v:.1f} s' for k, v in summary['breakdown'].items())}).", flush=True)
    if opts.seed_only:
        app.extensions["billingos"].billing_for(app).close()
        return 0
    serve(app, int(raw))
    return 0


def serve(app: Flask, port: int) -> None:
    """The dev server, with huey's consumer in a thread of this process (production: its own process)."""
    consumer = start_consumer(app.extensions["example_app.huey"])
    print(f"Linkshelf (the billingos example app): http://127.0.0.1:{port}/", flush=True)
    print(f"  data (SQLite + Stripe emulator state): {app.instance_path}", flush=True)
    try:
        app.run(host="127.0.0.1", port=port, debug=False, use_reloader=False)   # returns on Ctrl+C
    finally:
        stop_consumer(consumer)
        app.extensions["billingos"].billing_for(app).close()   # Flask has no shutdown hook of its own


if __name__ == "__main__":
    sys.exit(main())
