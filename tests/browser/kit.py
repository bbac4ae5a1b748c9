"""What every browser test shares: Debian's Chromium driven by Playwright (never a downloaded browser), a real
HTTP server thread around a WSGI or ASGI app, a tab that records console errors and off-site requests, and
the checks every page must pass (axe-core, no sideways scrolling at 390 px, screenshots to look at).

Tests are skipped when /usr/bin/chromium or playwright is missing, unless BILLINGOS_REQUIRE_SERVICES=1 (CI),
which turns the skip into a failure.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from billingos.pages import STATIC_DIR

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parent / "screenshots"          # git-ignored
AXE = STATIC_DIR / "vendor" / "axe-core" / "axe.min.js"
SERIOUS = """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))"""


def need_browser() -> None:
    missing = []
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package is missing (pip install -e '.[dev]')")
    if missing:
        reason = "browser tests need Debian's Chromium and Playwright: " + "; ".join(missing)
        if os.environ.get("BILLINGOS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason} (BILLINGOS_REQUIRE_SERVICES=1)")
        pytest.skip(reason)


@contextmanager
def serve_wsgi(app: Any, *, threaded: bool = True) -> Iterator[str]:
    """A Flask (WSGI) app on 127.0.0.1 and a free port, for the duration of the block: yields its base URL."""
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=threaded)
    thread = threading.Thread(target=server.serve_forever, name="browser-test-app", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """A FastAPI (ASGI) app under uvicorn on 127.0.0.1 and a free port: yields its base URL."""
    import uvicorn
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def open_tab(origin: str, *, base_url: str | None = None, width: int = 1280, height: int = 900,
             cookies: Iterable[tuple[str, str]] = (), **context_options: Any) -> Iterator[Any]:
    """A Chromium tab. ``tab.errors`` collects console errors, uncaught exceptions and failed sub-resources
    (4xx/5xx other than the page itself and a favicon); ``tab.outside`` every request that leaves ``origin``
    (no CDN, no third party)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(base_url=base_url, viewport={"width": width, "height": height},
                                          **context_options)
            if cookies:
                context.add_cookies([{"name": n, "value": v, "url": origin} for n, v in cookies])
            tab = context.new_page()
            tab.set_default_timeout(20_000)
            tab.errors, tab.outside = [], []
            # A failed load is reported below by its URL, so the console's generic line is not counted twice.
            tab.on("console", lambda m: tab.errors.append(m.text)
                   if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
            tab.on("pageerror", lambda e: tab.errors.append(str(e)))
            tab.on("response", lambda r: tab.errors.append(f"{r.status} {r.url}")
                   if r.status >= 400 and r.request.resource_type != "document"
                   and not r.url.endswith("/favicon.ico") else None)
            tab.on("request", lambda r: None if r.url.startswith(origin) else tab.outside.append(r.url))
            yield tab
        finally:
            browser.close()


def check_page(tab: Any, name: str) -> None:
    """The page as it is now: no console errors, nothing loaded from elsewhere, no serious or critical axe-core
    violations, no sideways scrolling at 390 px; screenshots at 1280 and 390 px as ``{name}-1280.png`` and
    ``{name}-390.png`` in tests/browser/screenshots/ for a person to look at. The viewport is restored."""
    assert tab.errors == [], f"{name}: {tab.errors}"
    assert tab.outside == [], f"{name}: requests off the app {tab.outside}"
    tab.add_script_tag(path=str(AXE))
    violations = tab.evaluate(SERIOUS)
    assert violations == [], f"{name}: {violations}"
    SHOTS.mkdir(exist_ok=True)
    viewport = tab.viewport_size
    tab.set_viewport_size({"width": 1280, "height": 900})
    tab.screenshot(path=str(SHOTS / f"{name}-1280.png"), full_page=True)
    tab.set_viewport_size({"width": 390, "height": 844})
    widths = tab.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{name}: {widths[0]} px wide at 390"
    tab.screenshot(path=str(SHOTS / f"{name}-390.png"), full_page=True)
    tab.set_viewport_size(viewport)
    assert tab.errors == [], f"{name}: {tab.errors}"
