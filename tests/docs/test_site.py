"""The docs site: reference pages generated from the code and up to date, every public name in the reference,
every page in the nav, and `mkdocs build --strict` clean."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _nav_pages(nav: list[object]) -> list[str]:
    out: list[str] = []
    for entry in nav:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            out += _nav_pages(value) if isinstance(value, list) else [str(value)]
    return out


def test_reference_pages_are_generated_from_the_current_code() -> None:
    run = subprocess.run([sys.executable, "tools/reference_docs.py", "--check"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def test_every_public_name_is_in_the_reference() -> None:
    page = (DOCS / "reference" / "python-api.md").read_text()
    missing = []
    for module_name in ("billingos", "billingos.testing", "billingos_flask", "billingos_fastapi"):
        module = importlib.import_module(module_name)
        assert module.__all__
        for name in module.__all__:
            obj = getattr(module, name)
            heading = f"### `{module_name}.{name}`"
            directive = isinstance(obj, type) or inspect.isfunction(obj) or inspect.ismodule(obj)
            rendered = f"::: {module_name}.{name}" in page or not directive
            if heading not in page or not rendered:
                missing.append(f"{module_name}.{name}")
    assert missing == []


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    nav = _nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(nav) == pages, "add new docs pages to mkdocs.yml's nav (and drop removed ones)"


def test_every_signal_is_sent_by_announce() -> None:
    from billingos import signals
    declared = {name for name, value in vars(signals).items() if type(value).__name__ == "NamedSignal"}
    tree = ast.parse((ROOT / "billingos" / "announce.py").read_text())
    sent = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name) and node.value.id == "signals"}
    assert declared and declared == sent
    documented = set(re.findall(r"^\| `(\w+)` \|", (DOCS / "signals.md").read_text(), re.M))
    assert documented == declared


def test_the_site_builds_strict(tmp_path: Path) -> None:
    """`mkdocs build --strict`: a broken link, a missing page or a docstring mkdocstrings cannot render fails."""
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                         cwd=ROOT, capture_output=True, text=True, timeout=240,
                         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert "WARNING" not in run.stderr
    built = tmp_path / "site"
    for page in ("index.html", "quickstart/index.html", "reference/python-api/index.html", "testing/index.html"):
        assert (built / page).stat().st_size > 2000, page
    api = (built / "reference" / "python-api" / "index.html").read_text()
    assert "subscriptions" in api and "def connect" not in api      # rendered by mkdocstrings, no source shown
