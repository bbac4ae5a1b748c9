#!/usr/bin/env python3
"""Run the benchmarks and write their figures into docs/performance.md (``python3 dev.py bench``).

    python3 dev.py bench                  # every bench/*.py script
    python3 dev.py bench webhooks usage   # some of them: the others' figures on the page are kept

Each script prints its results for people and, through ``bench._common.figure()``, one
``BENCH_FIGURE {json}`` line per figure. This tool runs the scripts one after another (never in
parallel: they would measure each other), shows their output as it comes, and replaces the page's
generated block (between ``<!-- bench:begin -->`` and ``<!-- bench:end -->``) with the figures, each with
its same-run baseline and ratio, and the machine's facts. Everything outside the block is hand-written
context and is kept as it is; without a block, one is added at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "BENCH_FIGURE "
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
PG_URL = os.environ.get("BILLINGOS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BILLINGOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Run:
    name: str
    seconds: float = 0.0
    status: int = 0
    figures: list[dict[str, Any]] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    load: tuple[float, float] = (0.0, 0.0)      # the 1-minute load average before and after this script


def run_script(script: Path, echo: bool = True) -> Run:
    result = Run(script.stem)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(PREFIX):
            result.figures.append(json.loads(line[len(PREFIX):]))
            continue
        if echo:
            print(line, end="", flush=True)
        result.tail = [*result.tail[-9:], line.rstrip()]
    result.status = proc.wait()
    result.seconds = time.perf_counter() - start
    result.load = (load_before, os.getloadavg()[0])
    return result


# --- the machine ---------------------------------------------------------------------------------
def _first(path: str, pattern: str) -> str | None:
    try:
        match = re.search(pattern, Path(path).read_text(), re.M)
    except OSError:
        return None
    return match.group(1).strip() if match else None


def _postgres() -> str:
    try:
        from sqlalchemy import create_engine, text
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            version = str(conn.execute(text("SHOW server_version")).scalar())
        engine.dispose()
        return version
    except Exception as e:
        return f"not reachable ({type(e).__name__})"


def _redis() -> str:
    try:
        import redis
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        version = str(client.info("server")["redis_version"])
        client.close()
        return version
    except Exception as e:
        return f"not reachable ({type(e).__name__})"


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return sha + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine(load_before: float, load_after: float) -> list[tuple[str, str]]:
    kib = _first("/proc/meminfo", r"^MemTotal:\s+(\d+)")
    model = _first("/proc/cpuinfo", r"^model name\s*:\s*(.+)$")
    return [
        ("CPU", f"{os.cpu_count()} cores" + (f" ({model})" if model else "")),
        ("RAM", f"{int(kib) / 1024 / 1024:.1f} GiB" if kib else "unknown"),
        ("Python", platform.python_version()),
        ("PostgreSQL", _postgres()),
        ("Redis", _redis()),
        ("OS", platform.platform()),
        ("load average (1 min)", f"{load_before:.2f} before, {load_after:.2f} after: other work on the machine "
                                 "slows baseline and measurement alike, so compare ratios, not absolute figures"),
    ]


# --- the page ------------------------------------------------------------------------------------
def _number(value: float, unit: str) -> str:
    if unit in ("events/s", "fetches") or abs(value) >= 1000:
        return f"{value:,.0f} {unit}"
    if abs(value) >= 100:
        return f"{value:.0f} {unit}"
    return f"{value:.3g} {unit}"


def render_bench(run: Run, when: str, commit: str) -> str:
    lines = [f"<!-- bench:{run.name} -->", f"### {run.name}", "",
             f"`bench/{run.name}.py`, run started {when} at commit {commit}, took {run.seconds:.0f} s; load average "
             f"{run.load[0]:.2f} before, {run.load[1]:.2f} after."]
    if run.status != 0:
        lines += ["", f"**Failed** (exit status {run.status}); its last lines:", "", "```text", *run.tail, "```"]
    if run.figures:
        lines += ["", "| where | figure | value | baseline, same run | ratio |", "|---|---|---|---|---|"]
        for f in run.figures:
            base = f"{f['baseline']}: {_number(f['baseline_value'], f['unit'])}" if f.get("baseline") else "-"
            ratio = f"{f['ratio']:.2f}×" if f.get("ratio") is not None else "-"
            note = f" ({f['note']})" if f.get("note") else ""
            lines.append(f"| {f['section']} | {f['name']}{note} | {_number(f['value'], f['unit'])} | {base} | "
                         f"{ratio} |")
    elif run.status == 0:
        lines += ["", "No figures: the script printed no `BENCH_FIGURE` line (see `bench._common.figure`)."]
    return "\n".join([*lines, f"<!-- /bench:{run.name} -->"])


def _sections(block: str) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in re.finditer(r"<!-- bench:(\w+) -->.*?<!-- /bench:\1 -->", block, re.S)}


def render_block(runs: list[Run], previous: str, facts: list[tuple[str, str]], when: str, commit: str) -> str:
    sections = _sections(previous)
    for run in runs:
        sections[run.name] = render_bench(run, when, commit)
    lines = [BEGIN, "## Latest figures", "",
             "Generated by `python3 dev.py bench`, which runs every `bench/` script and rewrites this block; "
             "edits here are overwritten, the rest of the page is kept. Each figure is shown with the raw "
             "baseline measured in the same run and their ratio.", "",
             f"The machine of the last run (started {when}):", "", "| | |", "|---|---|",
             *[f"| {k} | {v} |" for k, v in facts], "",
             "To reproduce: `python3 dev.py bench` (all scripts, one after another), or "
             "`python3 dev.py bench webhooks` for one; each script also runs alone, e.g. "
             "`.venv/bin/python bench/usage.py --help`. Run on a quiet machine.", ""]
    for name in sorted(sections):
        lines += [sections[name], ""]
    return "\n".join([*lines, END])


def update_page(page: Path, runs: list[Run], facts: list[tuple[str, str]], when: str, commit: str) -> None:
    text = page.read_text() if page.exists() else "# Performance\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        previous, tail = rest.split(END, 1)
    else:
        head, previous, tail = text.rstrip("\n") + "\n\n", "", "\n"
    page.write_text(head + render_block(runs, previous, facts, when, commit) + tail)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="bench scripts to run (default: all of bench/*.py)")
    parser.add_argument("--bench-dir", type=Path, default=ROOT / "bench")
    parser.add_argument("--page", type=Path, default=ROOT / "docs" / "performance.md")
    args = parser.parse_args(argv)
    scripts = sorted(p for p in args.bench_dir.glob("*.py") if not p.name.startswith("_"))
    unknown = set(args.names) - {p.stem for p in scripts}
    if unknown:
        parser.error(f"no such bench script: {', '.join(sorted(unknown))} (have: {', '.join(p.stem for p in scripts)})")
    chosen = [p for p in scripts if not args.names or p.stem in args.names]
    load_before, commit = os.getloadavg()[0], _commit()       # the code measured is the code at the start
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    runs = []
    for script in chosen:
        print(f"\n==> bench/{script.name}", flush=True)
        runs.append(run_script(script))
    update_page(args.page, runs, machine(load_before, os.getloadavg()[0]), when, commit)
    print(f"\n{args.page}: {sum(len(r.figures) for r in runs)} figures from {len(runs)} scripts")
    failed = [r.name for r in runs if r.status != 0]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
