#!/usr/bin/env python3
"""One entry point for a fresh machine: builds .venv, installs billingos, then runs a task.

    python3 dev.py example        # the example app on SQLite + the built-in Stripe emulator
    python3 dev.py test [ARGS]    # the whole test suite (pytest ARGS), in parallel: one worker per core
    python3 dev.py lint           # ruff + mypy + import-linter (the architecture's boundaries)
    python3 dev.py docs [ARGS]    # regenerate docs/reference/ and build the site into site/ (mkdocs ARGS)
    python3 dev.py bench [ARGS]   # run every bench/ script, then rewrite docs/performance.md's figures
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def ensure_venv() -> None:
    """Create .venv and install the project with all extras; reinstall when pyproject changes."""
    stamp = VENV / ".billingos-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and PY.exists():
        return
    if not PY.exists():
        print("dev.py: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.check_call([*pip, "--upgrade", "pip"])
    subprocess.check_call([*pip, "-e", f"{ROOT}[dev]"])
    stamp.write_text(digest)


def xdist_args(args: list[str], env: dict[str, str] | None = None) -> list[str]:
    """pytest-xdist options: one worker per core (two at least; the suite waits on PostgreSQL, Redis and
    the browser as much as on the CPU), or BILLINGOS_TEST_WORKERS of them (0: one process). Nothing is
    added when the caller chose (-n, --dist, -p no:xdist) or debugs (--pdb, --trace)."""
    env = os.environ if env is None else env
    chosen = any(a in {"-n", "--numprocesses", "--pdb", "--trace", "no:xdist", "-pno:xdist"}
                 or a.startswith(("-n", "--numprocesses=", "--dist")) for a in args)
    if chosen:
        return []
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = env.get("BILLINGOS_TEST_WORKERS", "").strip() or str(max(2, cores))
    if not workers.isdigit():
        raise SystemExit(f"dev.py: BILLINGOS_TEST_WORKERS must be a number of workers, got {workers!r}")
    # worksteal: an idle worker takes tests queued on a busy one, so one slow module does not set the pace
    return [] if workers == "0" else ["-n", workers, "--dist", "worksteal"]


def run(*cmd: str) -> int:
    return subprocess.call(list(cmd), cwd=ROOT)


def main(argv: list[str]) -> int:
    task, args = (argv[0], argv[1:]) if argv else ("help", [])
    if task not in {"example", "test", "lint", "docs", "bench"}:
        print(__doc__)
        return 0 if task == "help" else 2
    ensure_venv()
    if task == "example":
        return run(str(PY), "-m", "example_app", *args)
    if task == "test":
        return run(str(PY), "-m", "pytest", *xdist_args(args), *args)
    if task == "docs":
        os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")   # mkdocs-material's end-of-life banner
        status = run(str(PY), "tools/signals_doc.py") or run(str(PY), "tools/reference_docs.py")
        return status or run(str(PY), "-m", "mkdocs", "build", "--strict", *args)
    if task == "bench":
        return run(str(PY), "tools/bench_report.py", *args)
    status = run(str(BIN / "ruff"), "check", "billingos", "billingos_flask", "billingos_fastapi", "example_app", "tests", "bench")
    status = status or run(str(BIN / "mypy"))
    return status or run(str(BIN / "lint-imports"), "--no-cache")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
