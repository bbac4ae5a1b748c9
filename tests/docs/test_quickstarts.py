"""The quickstarts run exactly as written (issue 14): each page's ```python blocks, in order, are one program,
run in an empty folder with the page's catalog.toml. Then the app they built is checked from outside: the
plan synced, the customer subscribed, the route gated, and a change made in Stripe reaching the database
through the app's own webhook route. Each ``print(...)  # comment`` line must print what its comment says."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .quickstart import blocks, files, program

DOCS = Path(__file__).resolve().parents[2] / "docs"
PRINT = re.compile(r"^print\(.*\)\s+# (.+)$")


def _run(page: Path, folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], list[str]]:
    for name, text in files(page).items():
        (folder / name).write_text(text)
    monkeypatch.chdir(folder)
    namespace: dict[str, Any] = {"__name__": "quickstart"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(program(page), str(page), "exec"), namespace)
    return namespace, out.getvalue().splitlines()


def _documented_outputs(page: Path) -> list[str | None]:
    """For each print() in the page's Python, the comment that says what it prints (None: no comment)."""
    lines = [line.strip() for lang, code in blocks(page) if lang == "python" for line in code.splitlines()]
    return [m.group(1) if (m := PRINT.match(line)) else None for line in lines if line.startswith("print(")]


def _record_flask(app: Any) -> list[str]:
    seen: list[str] = []
    inner = app.wsgi_app

    def recorder(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        seen.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        return inner(environ, start_response)

    app.wsgi_app = recorder
    return seen


def _record_asgi(app: Any) -> list[str]:
    seen: list[str] = []
    inner = app.middleware_stack          # built by the page's first request

    async def recorder(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(f"{scope['method']} {scope['path']}")
        await inner(scope, receive, send)

    app.middleware_stack = recorder
    return seen


CASES = {
    "quickstart.md": ("flask", _record_flask),
    "quickstart-fastapi.md": ("fastapi", _record_asgi),
}


def _client(framework: str, app: Any, owner: str | None) -> Any:
    if framework == "flask":
        client = app.test_client()
        if owner is not None:
            with client.session_transaction() as s:
                s["owner_id"] = owner
        return client
    from fastapi.testclient import TestClient
    return TestClient(app, headers={"X-Org-Id": owner} if owner else {})


def _json(response: Any) -> Any:
    return response.get_json() if hasattr(response, "get_json") else response.json()


@pytest.mark.parametrize("page", list(CASES))
def test_the_quickstart_runs_as_written(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    framework, record = CASES[page]
    ns, printed = _run(DOCS / page, tmp_path, monkeypatch)
    billing, app = ns["billing"], ns["app"]
    try:
        documented = _documented_outputs(DOCS / page)
        assert len(printed) == len(documented) == 5, printed
        for out, says in zip(printed, documented, strict=True):
            assert says is None or says.startswith(out), (out, says)
        # configured and migrated on the page's database; the plan synced from its catalog.toml
        assert billing.config.database_url == "sqlite:///billing.db" and (tmp_path / "billing.db").exists()
        assert billing.catalog.price("pro_monthly").unit_amount == 2900
        assert [f.feature_key for f in billing.catalog.plan_features("pro")] == ["export"]
        # a customer subscribed, and the gate answers by plan
        [sub] = billing.subscriptions.list("org_42")
        assert (sub.status, sub.items[0].lookup_key) == ("trialing", "pro_monthly")
        assert _client(framework, app, "org_42").get("/export").status_code == 200
        assert _client(framework, app, "org_7").get("/export").status_code == 403
        assert _client(framework, app, None).get("/export").status_code == 401
        nobody = _client(framework, app, "org_7").get("/plan")          # no customer: an answer, never a 500
        assert (nobody.status_code, _json(nobody)) == (200, {"plan": None})
        # a change made in Stripe arrives as a signed POST through the app's own route
        seen = record(app)
        customer = billing.customers.get(owner_id="org_42")
        billing.emulator.client().v1.customers.update(customer.id, params={"email": "billing@acme.co"})
        assert seen == ["POST /billing/webhooks"]
        assert billing.customers.get(owner_id="org_42").email == "billing@acme.co"
        assert billing.testing.url == "http://testserver/billing/webhooks"
        assert billing.emulator.webhooks.log and {a.status for a in billing.emulator.webhooks.log} == {200}
    finally:
        billing.close()
