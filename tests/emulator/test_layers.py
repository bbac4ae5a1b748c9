"""The emulator's module graph is layered: no import cycle, imports at the top of files, and nothing from
billingos but the clock (the boundary the lead's import-linter contract enforces)."""

from __future__ import annotations

import ast
from pathlib import Path

import billingos.emulator

ROOT = Path(billingos.emulator.__file__).parent
PACKAGE = "billingos.emulator"
# Function-level imports that stay, each with the reason written next to it in the code.
ALLOWED_LOCAL = {("resources/webhook_endpoints.py", "stripe.params._webhook_endpoint_create_params"),
                 ("resources/tax_ids.py", "stripe._tax_id")}


def _modules() -> dict[str, ast.Module]:
    return {str(f.relative_to(ROOT)): ast.parse(f.read_text()) for f in sorted(ROOT.rglob("*.py"))}


def _name(rel: str) -> str:
    parts = rel.removesuffix(".py").split("/")
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join([PACKAGE, *parts]) if parts else PACKAGE


def _target(rel: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = _name(rel).split(".")
    if not rel.endswith("__init__.py"):
        base = base[:-1]
    if node.level:
        base = base[: len(base) - node.level + 1]
        mod = ".".join(base + ([node.module] if node.module else []))
    else:
        mod = node.module or ""
    subs = [f"{mod}.{a.name}" for a in node.names]
    return subs if node.module is None else [mod, *subs]     # ``from . import x`` loads x, not the package


def _runtime_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Module-level imports, except those under ``if TYPE_CHECKING:``."""
    out: list[ast.Import | ast.ImportFrom] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.append(node)
        elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
            out += [n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)]
    return out


def test_no_import_cycle_among_emulator_modules() -> None:
    mods = _modules()
    names = {_name(rel): rel for rel in mods}
    graph: dict[str, set[str]] = {}
    for rel, tree in mods.items():
        deps = set()
        for node in _runtime_imports(tree):
            deps |= {t for t in _target(rel, node) if t in names and t != _name(rel)}
        graph[_name(rel)] = deps
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph[n]):
            if state.get(d) == 1:
                cycle = [*stack[stack.index(d):], d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)


def test_imports_sit_at_the_top_of_files() -> None:
    local = set()
    for rel, tree in _modules().items():
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(fn):
                    if isinstance(node, ast.Import | ast.ImportFrom):
                        local |= {(rel, t) for t in _target(rel, node)[:1]}
    assert local == ALLOWED_LOCAL


def test_the_emulator_imports_nothing_from_billingos_but_the_clock() -> None:
    outside = set()
    for rel, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for t in _target(rel, node)[:1]:
                    if t.startswith("billingos.") and not t.startswith(PACKAGE) and t != "billingos.clock":
                        outside.add((rel, t))
    assert outside == set()
