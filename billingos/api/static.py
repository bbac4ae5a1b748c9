"""``billingos.js``: the JSON API's dependency-free ES module, shipped in ``billingos/static/billingos/``."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

__all__ = ["CLIENT_JS", "client_js"]

CLIENT_JS = "billingos.js"


@cache
def client_js() -> bytes:
    """The file's bytes (read once per process; it is part of the installed package)."""
    return files("billingos").joinpath("static", "billingos", CLIENT_JS).read_bytes()
