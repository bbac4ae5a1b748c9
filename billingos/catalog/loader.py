"""Load a catalog from a TOML or YAML file. Errors name the file and what is wrong in it."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import yaml

from .. import validation
from ..errors import InvalidInputError
from .schemas import Catalog

__all__ = ["load_catalog", "parse_catalog"]

_FORMATS = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}


def load_catalog(path: str | os.PathLike[str]) -> Catalog:
    """Read ``path`` (.toml, .yaml or .yml) into a validated ``Catalog``.

    Raises ``InvalidInputError`` (with the file name) for a missing file, a syntax error, an unknown
    key or any invalid declaration.
    """
    raw = os.fspath(path) if isinstance(path, str | os.PathLike) else path
    if not isinstance(raw, str) or not 0 < len(raw) <= 1024 or "\x00" in raw or not _encodable(raw):
        raise InvalidInputError(f"path must be the path of a .toml, .yaml or .yml file, got {validation.echo(raw)}.",
                                param="path")
    p = Path(raw)
    name = str(p)
    fmt = _FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise InvalidInputError(
            f"{name}: unsupported catalog file type {validation.echo(p.suffix)}; use .toml, .yaml or .yml.",
            param="path")
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(f"{name}: no such catalog file.", param="path") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInputError(f"{name}: cannot read the catalog file: {type(e).__name__}.", param="path") from None
    return parse_catalog(text, fmt, source=str(p))


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_catalog(text: str, fmt: str, *, source: str = "<string>") -> Catalog:
    """Parse catalog text in ``fmt`` ("toml" or "yaml")."""
    data = _parse(text, fmt, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInputError(
            f"{source}: the catalog must be a mapping with products, features and meters "
            f"at the top level, got {type(data).__name__}.",
            param="path",
        )
    try:
        return Catalog(**{str(k): v for k, v in data.items()})
    except InvalidInputError as e:
        raise InvalidInputError(f"{source}: {e.message}", param=e.param) from None


def _parse(text: str, fmt: str, source: str) -> Any:
    if fmt == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise InvalidInputError(f"{source}: TOML syntax error: {e}", param="path") from None
    if fmt == "yaml":
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(e, "problem", None) or str(e)
            raise InvalidInputError(f"{source}: YAML syntax error{where}: {problem}", param="path") from None
    raise InvalidInputError(f"unknown catalog format {fmt!r}; use 'toml' or 'yaml'.", param="fmt")
