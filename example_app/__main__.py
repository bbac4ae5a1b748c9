"""``python -m example_app``: the dev server on 127.0.0.1 (port 5000, or $PORT)."""

from __future__ import annotations

import os
import sys

from .app import create_app


def main() -> int:
    raw = os.environ.get("PORT", "5000")
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        print(f"PORT must be a TCP port number (1-65535), got {raw!r}.", file=sys.stderr)
        return 2
    port = int(raw)
    app = create_app()
    print(f"billingos example app: http://127.0.0.1:{port}/", flush=True)
    print(f"  data (SQLite + Stripe emulator state): {app.instance_path}", flush=True)
    try:
        app.run(host="127.0.0.1", port=port, debug=False, use_reloader=False)   # returns on Ctrl+C
    finally:
        app.extensions["billingos"].billing_for(app).close()   # Flask has no shutdown hook of its own
    return 0


if __name__ == "__main__":
    sys.exit(main())
