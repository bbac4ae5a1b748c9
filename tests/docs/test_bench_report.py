"""`python3 dev.py bench` (tools/bench_report.py) on stand-in bench scripts: figures parsed from the scripts'
BENCH_FIGURE lines, rendered with their baseline and ratio and the machine's facts, hand-written context
kept byte for byte, a partial run keeping the other scripts' figures, a failing script reported."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "bench_report.py"

FAST = '''import sys
sys.path.insert(0, {root!r})
from bench._common import figure
print("some human-readable table")
figure("fast", "SQLite", "track p50", 294.0, "µs", baseline="bare INSERT p50", baseline_value=115.0)
figure("fast", "SQLite", "track_many", 63808.0, "events/s", baseline="raw executemany", baseline_value=104849.0)
'''
BROKEN = '''print("starting")
raise SystemExit(3)
'''
HEAD = "# Performance\n\nHand-written context, kept as written.\n\n"
TAIL = "\n\n## Usage\n\nMore hand-written analysis | with a pipe.\n"


def _bench(tmp_path: Path, *names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *names, "--bench-dir", str(tmp_path / "bench"),
                           "--page", str(tmp_path / "performance.md")], capture_output=True, text=True, timeout=120)


def test_figures_go_into_the_generated_block_and_the_rest_is_kept(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "_common.py").write_text("raise SystemExit('helpers are not run')\n")
    (bench / "fast.py").write_text(FAST.format(root=str(ROOT)))
    (bench / "broken.py").write_text(BROKEN)
    page = tmp_path / "performance.md"
    page.write_text(HEAD + "<!-- bench:begin -->\nold figures\n<!-- bench:end -->" + TAIL)

    run = _bench(tmp_path)
    assert run.returncode == 1 and "failed: broken" in run.stderr          # a failing script fails the command
    assert "some human-readable table" in run.stdout and "BENCH_FIGURE" not in run.stdout
    text = page.read_text()
    assert text.startswith(HEAD + "<!-- bench:begin -->") and text.endswith("<!-- bench:end -->" + TAIL)
    assert "old figures" not in text
    assert "| SQLite | track p50 | 294 µs | bare INSERT p50: 115 µs | 2.56× |" in text
    assert "| SQLite | track_many | 63,808 events/s | raw executemany: 104,849 events/s | 0.61× |" in text
    assert f"| CPU | {os.cpu_count()} cores" in text and f"| Python | {platform.python_version()} |" in text
    for fact in ("| RAM |", "| PostgreSQL |", "| Redis |", "| load average (1 min) |"):
        assert fact in text
    assert "**Failed** (exit status 3)" in text and "starting" in text
    assert "python3 dev.py bench" in text                                 # how to reproduce

    (bench / "fast.py").write_text(FAST.format(root=str(ROOT)).replace("294.0", "300.0"))
    assert _bench(tmp_path, "fast").returncode == 0
    again = page.read_text()
    assert "| SQLite | track p50 | 300 µs | bare INSERT p50: 115 µs | 2.61× |" in again
    assert "**Failed** (exit status 3)" in again                          # broken was not rerun: kept
    assert again.startswith(HEAD) and again.endswith(TAIL)


def test_a_page_without_a_block_gets_one_at_the_end(tmp_path: Path) -> None:
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "fast.py").write_text(FAST.format(root=str(ROOT)))
    (tmp_path / "performance.md").write_text(HEAD)
    assert _bench(tmp_path).returncode == 0
    text = (tmp_path / "performance.md").read_text()
    assert text.startswith(HEAD) and text.rstrip().endswith("<!-- bench:end -->") and "track_many" in text


def test_an_unknown_script_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bench").mkdir()
    run = _bench(tmp_path, "nope")
    assert run.returncode == 2 and "no such bench script: nope" in run.stderr


def test_figure_prints_one_json_line() -> None:
    sys.path.insert(0, str(ROOT))
    from bench._common import FIGURE_PREFIX, figure
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        figure("b", "s", "n", 3.0, "µs", baseline="base", baseline_value=2.0)
    line = out.getvalue()
    assert line.startswith(FIGURE_PREFIX) and line.endswith("\n")
    assert json.loads(line[len(FIGURE_PREFIX):])["ratio"] == 1.5


def test_every_bench_script_reports_figures() -> None:
    for script in sorted((ROOT / "bench").glob("[!_]*.py")):
        calls = {n.func.id for n in ast.walk(ast.parse(script.read_text()))
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert "figure" in calls, f"{script.name} prints no figure() for docs/performance.md"
