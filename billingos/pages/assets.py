"""Templates and static files shipped in the package, shared by both adapters."""

from __future__ import annotations

import mimetypes
import os
import re
from pathlib import Path
from typing import Any

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "environment", "static_file"]

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static" / "billingos"
_STATIC_PATH = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,99}(/[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,99}){0,5}")
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml",
          ".ico": "image/x-icon", ".txt": "text/plain; charset=utf-8", ".md": "text/plain; charset=utf-8"}


def environment(templates: str | os.PathLike[str] | None = None) -> Any:
    """A Jinja2 environment, autoescaping on: the host's ``templates`` folder first (its
    ``billingos/base.html`` replaces ours), then billingos's own templates."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

    loaders = [FileSystemLoader(str(templates))] if templates is not None else []
    loaders.append(FileSystemLoader(str(TEMPLATES_DIR)))
    return Environment(loader=ChoiceLoader(loaders), autoescape=select_autoescape(default=True,
                                                                                   default_for_string=True))


def static_file(path: str) -> tuple[bytes, str] | None:
    """(content, content type) of ``billingos/static/billingos/<path>``, or None (never outside it)."""
    if not isinstance(path, str) or not _STATIC_PATH.fullmatch(path):
        return None
    file = (STATIC_DIR / path).resolve()
    if STATIC_DIR not in file.parents or not file.is_file():
        return None
    kind = _TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return file.read_bytes(), kind
