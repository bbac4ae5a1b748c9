#!/usr/bin/env python3
"""Render docs/signals.md from the ``#:`` comments in billingos/signals.py.

    python tools/signals_doc.py          # rewrite docs/signals.md
    python tools/signals_doc.py --check  # exit 1 when the page is out of date (the test suite runs this)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "billingos" / "signals.py"
PAGE = ROOT / "docs" / "signals.md"

HEADER = """# Signals

billingos tells your code what happened through [blinker](https://blinker.readthedocs.io) signals.
Every signal fires **after** the commit that made it true, never before, and once per real change:
duplicate or out-of-order webhooks do not fire it again. The sender is always the `Billing`
instance; everything else comes as keyword arguments.

```python
from billingos import signals

@signals.subscription_canceled.connect
def on_canceled(billing, subscription, **extra):
    send_goodbye_email(subscription.owner_id)

signals.invoice_paid.connect(on_paid, sender=billing)     # only this Billing's
```

Receivers run in the thread that committed (a web request, or the task that processed a
webhook). Keep them quick, or hand the work to your own task queue. An exception in a receiver
propagates to that caller, after billingos's own work is already committed.

| signal | when | keyword arguments |
|---|---|---|
"""


def render() -> str:
    rows = []
    lines = SOURCE.read_text().splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(\w+) = namespace\.signal\(", line)
        if not m:
            continue
        comments = []
        j = i - 1
        while j >= 0 and lines[j].startswith("#:"):
            comments.insert(0, lines[j][2:].strip())
            j -= 1
        text = " ".join(comments)
        when, _, kwargs = text.partition("kwargs:")
        when = re.sub(r"sender: Billing;?", "", when).strip().rstrip(";").strip()
        kwargs = kwargs.strip().rstrip(".") or "(none)"
        rows.append(f"| `{m.group(1)}` | {when} | {kwargs} |")
    return HEADER + "\n".join(rows) + "\n"


def main() -> int:
    page = render()
    if "--check" in sys.argv:
        return 0 if PAGE.exists() and PAGE.read_text() == page else 1
    PAGE.write_text(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
