"""The structure holds: import boundaries (import-linter, and private names across domains), no leaked
Billing, files of a readable size."""

from __future__ import annotations

import ast
import gc
import os
import shutil
import subprocess
import sys
import weakref
from pathlib import Path

from billingos import Billing, FrozenClock, signals

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)


def test_import_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_deep_import_from_an_adapter_breaks_the_contracts(tmp_path: Path) -> None:
    """The contracts can fail: a copy of the tree where the Flask adapter reaches into a service module."""
    for package in ("billingos", "billingos_flask", "billingos_fastapi"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "billingos_flask" / "_deep.py").write_text("from billingos.webhooks.service import QUEUE\n")
    result = _lint_imports(tmp_path, pythonpath=tmp_path)
    assert result.returncode != 0
    assert "billingos_flask._deep -> billingos.webhooks.service" in result.stdout


def _domain(module: str) -> str:
    """The domain folder a module belongs to (billingos/<domain>/...), or "(core)" for top-level modules."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (ROOT / "billingos" / parts[1]).is_dir() else "(core)"


def test_no_domain_imports_another_domains_private_names() -> None:
    offenders = []
    for path in sorted((ROOT / "billingos").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        package = module if rel.name == "__init__" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or (node.level == 0 and not (node.module or "").startswith(
                    "billingos")):
                continue
            base = package.split(".")
            target = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else str(node.module)
            private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
            if private and _domain(target) != _domain(module):
                offenders.append(f"{module} imports {', '.join(private)} from {target}")
    assert offenders == []


def test_files_stay_readable() -> None:
    """About 500 lines at most (migrations are generated and never edited)."""
    long = [f"{p.relative_to(ROOT)}: {n}" for p in (ROOT / "billingos").rglob("*.py")
            if "migrations" not in p.parts and (n := len(p.read_text().splitlines())) > 520]
    assert long == []


def test_closed_billings_are_garbage(tmp_path: Path) -> None:
    """Twenty Billings built, used (a customer, a webhook endpoint, a receiver) and closed: none survives."""
    refs = []

    def on_created(sender: object, **kw: object) -> None:
        pass

    signals.customer_created.connect(on_created)
    try:
        for i in range(20):
            billing = Billing(database_url=f"sqlite:///{tmp_path / f'b{i}.db'}", stripe_emulator=True,
                              clock=FrozenClock(), webhook_secrets=["whsec_test_0123456789abcdef"])
            billing.migrate()
            billing.customers.create(owner_id=f"org_{i}", email=f"a{i}@b.co")
            billing.check(f"org_{i}", "anything")
            billing.close()
            refs.append(weakref.ref(billing))
            del billing
        gc.collect()
    finally:
        signals.customer_created.disconnect(on_created)
    alive = [r for r in refs if r() is not None]
    assert alive == [], f"{len(alive)} closed Billing(s) still referenced"
