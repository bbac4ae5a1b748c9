"""Rewrite the README's screenshots (docs/img/example-*.png) from a freshly seeded example app.

    .venv/bin/python tools/example_screenshots.py [--customers N] [--months M]

Seeds a temporary instance (example_app.bootstrap.seeded_app), serves it on a free port, and takes with
Debian's Chromium (Playwright, never a browser download): the portal of a demo customer, and the admin's
analytics page (or, where that page is not mounted yet, the admin's customer list). Each PNG is reduced to
a 256-colour palette so it stays well under 200 KB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--months", type=int, default=18)
    opts = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from example_app.bootstrap import seeded_app
    app, summary = seeded_app(Path(tempfile.mkdtemp()) / "instance", customers=opts.customers, months=opts.months)
    print(f"seeded {summary['customers']} customers in {summary['seconds']} s")
    server = make_server("127.0.0.1", 0, app, threaded=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for who, shots in (("customer", [("/billing/portal/", "example-portal.png")]),
                           ("admin", [("/billing/admin/analytics", "example-analytics.png"),
                                      ("/billing/admin/customers", "example-admin.png")])):
            page = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800}).new_page()
            page.goto("/")
            page.get_by_role("button", name=f"Sign in as a demo {who}" if who == "customer"
                             else "Open the admin as demo admin").click()
            page.wait_for_load_state("networkidle")
            for path, name in shots:
                response = page.goto(path)
                if response is None or response.status != 200:
                    print(f"skipped {path}: {response.status if response else 'no answer'}")
                    continue
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(800)        # charts finish their animation
                # the analytics page: its key figures and the MRR chart below them
                page.set_viewport_size({"width": 1280, "height": 1500 if "analytics" in name else 800})
                page.wait_for_timeout(300)
                page.screenshot(path=str(OUT / name))
                written.append(_shrink(OUT / name))
        browser.close()
    server.shutdown()
    for path, size in written:
        print(f"wrote {path.relative_to(ROOT)} ({size / 1024:.0f} KB)")
    return 0


def _shrink(path: Path) -> tuple[Path, int]:
    from PIL import Image
    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path, path.stat().st_size


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
