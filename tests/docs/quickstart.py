"""Extract a quickstart's code blocks exactly as written: every ```python block, in order, is one program;
a ```toml block whose first line is ``# <name>`` is the file <name>."""

from __future__ import annotations

import re
from pathlib import Path

FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```\s*$", re.M | re.S)


def blocks(page: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(page.read_text())]


def program(page: Path) -> str:
    return "\n".join(code for lang, code in blocks(page) if lang == "python")


def files(page: Path) -> dict[str, str]:
    out = {}
    for lang, code in blocks(page):
        first = code.splitlines()[0] if code else ""
        if lang in ("toml", "yaml") and first.startswith("# ") and "." in first:
            out[first[2:].strip()] = code
    return out
