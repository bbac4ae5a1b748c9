"""The generated SaaS history the churn tests train on, built once and kept in pytest's cache.

Generating it drives the emulator through every renewal, usage report and cancellation (a few minutes), so
the database file is cached under a key made of the billingos source files' hashes and the generator's
parameters: a change to billingos builds it again; otherwise the tests reuse it. ``billingos/insights`` is
left out of the key: it only reads the tables the history fills (what it writes, the churn features ignore).

Parallel workers (pytest-xdist) share the cache folder: a file lock lets one of them build while the others
wait for it, and the finished file appears under its final name in one atomic rename.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from filelock import FileLock
from sqlalchemy import create_engine

from billingos import Billing
from billingos.clock import FrozenClock

SIZE = {"customers": 100, "days": 150, "seed": 7}
START = datetime(2025, 1, 1, tzinfo=UTC)
SECRET = "whsec_test_billingos_0123456789"


def _key() -> str:
    root = Path(__file__).resolve().parents[2] / "billingos"
    digest = hashlib.sha256(repr(sorted(SIZE.items())).encode())
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).parts[0] == "insights":
            continue
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def generated(config: pytest.Config) -> Path:
    """The path of a SQLite file holding the generated history (built now if not cached)."""
    cache = getattr(config, "cache", None)          # absent under -p no:cacheprovider: a temp folder then
    if cache is not None:
        folder = Path(cache.mkdir("billingos_history"))
    else:
        checkout = hashlib.sha256(str(config.rootpath).encode()).hexdigest()[:8]     # one folder per checkout
        folder = Path(tempfile.gettempdir()) / f"billingos_history_{checkout}"
        folder.mkdir(exist_ok=True)
    path = folder / f"history_{_key()}.db"
    if path.exists():
        return path
    with FileLock(str(folder / "building.lock")):
        if not path.exists():           # another worker may have built it while this one waited
            _build(folder, path)
    return path


def _build(folder: Path, path: Path) -> None:
    from billingos.history import generate_history
    tmp = folder / f"building_{os.getpid()}.db"
    tmp.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{tmp}")
    clock = FrozenClock(START)
    billing = Billing(engine=engine, stripe_emulator=True, clock=clock, webhook_secrets=[SECRET])
    billing.migrate()
    generate_history(billing, **SIZE)
    billing.close()
    engine.dispose()
    for old in folder.glob("history_*.db"):
        old.unlink(missing_ok=True)
    os.replace(tmp, path)
