"""First start: a fresh instance dir gets an 18-month history of made-up customers (``seed_history``,
played through the emulator's clock), then Linkshelf users for them (their password: ``domain.DEMO_PASSWORD``)
and a demo admin. ``--fresh`` starts
from an empty instance instead; ``--seed-only`` seeds and exits."""

from __future__ import annotations

import json
import random
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask

from .app import create_app
from .domain import Linkshelf
from .models import Link, User

MARKER = "seeded.json"
CLOCK = "demo_clock.txt"     # demo.DemoClock's file


def is_new(instance: Path) -> bool:
    """Nothing has ever run in this instance dir (no demo clock: the emulator has no state either)."""
    return not (instance / CLOCK).exists()


def reopen(instance: Path) -> Flask:
    """The app on an instance that already ran. A seeded demo instance made before seeded users had a
    password gets the demo password for them now (only users with none: anyone who signed up keeps theirs)."""
    app = create_app({"INSTANCE_PATH": str(instance)})
    shelf: Linkshelf = app.extensions["linkshelf"]
    if (instance / MARKER).exists() and shelf.billing.emulator is not None:
        shelf.set_demo_password()
    return app


def wipe(instance: Path) -> None:
    """Remove the instance's data (database, emulator state, demo clock); keep its secret key."""
    if not instance.exists():
        return
    for child in instance.iterdir():
        if child.name == "secret_key":
            continue
        shutil.rmtree(child) if child.is_dir() else child.unlink()


def seeded_app(instance: Path, *, customers: int, months: int, seed: int = 7, progress: bool = True,
               config: dict[str, Any] | None = None) -> tuple[Flask, dict[str, Any]]:
    """A new instance: the app starts at the present and syncs its catalog, ``seed_history`` winds the
    demo clock back ``months`` months and plays the history forward to the present, and the seeded owners
    become Linkshelf users (with a few links each) next to a demo admin."""
    from .seed import seed_history
    instance.mkdir(parents=True, exist_ok=True)
    app = create_app({"INSTANCE_PATH": str(instance), **(config or {})})
    shelf: Linkshelf = app.extensions["linkshelf"]
    hooks = app.extensions["linkshelf.hooks"]
    billing = shelf.billing
    hooks.muted = True       # no welcome emails to 1,500 made-up customers
    try:
        report = seed_history(billing, customers=customers, months=months, seed=seed, progress=progress)
    finally:
        hooks.muted = False
    users = shelf.adopt_owners(report.owners)
    _sample_links(shelf, seed)
    shelf.set_demo_password()           # each seeded customer logs in with their email and DEMO_PASSWORD
    shelf.admin_user()
    summary = {"customers": len(report.owners), "users": users, "months": months, "seconds": round(report.seconds, 2),
               "breakdown": {k: round(v, 2) for k, v in report.breakdown.items()},
               "seeded_at": datetime.now(UTC).isoformat()}
    (instance / MARKER).write_text(json.dumps(summary, indent=2))
    return app, summary


SITES = [("https://docs.python.org/3/library/asyncio.html", "asyncio: the docs", "Read the task groups part again."),
         ("https://stripe.com/docs/billing/subscriptions/overview", "How Stripe subscriptions work", ""),
         ("https://www.sqlite.org/wal.html", "SQLite write-ahead log", "Why readers never block writers."),
         ("https://htmx.org/docs/", "htmx docs", ""),
         ("https://picocss.com/docs", "Pico CSS", "Class-light styling for the admin."),
         ("https://en.wikipedia.org/wiki/Dunning_(finance)", "Dunning", "Retry schedule ideas."),
         ("https://peps.python.org/pep-0008/", "PEP 8", ""),
         ("https://www.postgresql.org/docs/current/mvcc.html", "PostgreSQL MVCC", "For the isolation talk."),
         ("https://jinja.palletsprojects.com/", "Jinja", ""),
         ("https://flask.palletsprojects.com/patterns/", "Flask patterns", "App factories and blueprints."),
         ("https://fastapi.tiangolo.com/tutorial/dependencies/", "FastAPI dependencies", ""),
         ("https://datatracker.ietf.org/doc/html/rfc9457", "RFC 9457: problem details", "Our API errors.")]


def _sample_links(shelf: Linkshelf, seed: int) -> None:
    """A few links on every seeded user's shelf, so the demo customer's own pages are not empty either."""
    from sqlalchemy import select
    rng = random.Random(seed)
    with shelf.sessions() as db, db.begin():
        users = list(db.scalars(select(User.id).where(User.password_hash.is_(None), User.is_admin.is_(False))))
        for user_id in users:
            for n, (url, title, note) in enumerate(rng.sample(SITES, rng.randint(3, 7))):
                db.add(Link(user_id=user_id, url=url, title=title, note=note, slug=f"u{user_id}-{n}",
                            clicks=rng.randint(0, 240)))
