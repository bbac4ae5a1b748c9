"""Error messages for catalog declarations: pydantic's errors as one line naming the product, price,
feature or meter at fault (``product 'pro' → price 'pro_monthly': unit_amount: ...``)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

__all__ = ["describe", "first_param"]

_CHILD = {
    "products": ("product", "key"),
    "prices": ("price", "lookup_key"),
    "features": ("feature", "key"),
    "meters": ("meter", "event_name"),
    "tiers": ("tier", None),
}


def describe(error: ValidationError, root: str, data: Any, *, limit: int = 5) -> str:
    """Pydantic's errors as one message that names the product, price, feature or meter at fault."""
    lines = []
    for err in error.errors()[:limit]:
        where, field = _where(err["loc"], data)
        path = where if root == "catalog" else [root, *where]
        lines.append(f"{' → '.join(path)}: {_message(err, field)}" if path else _message(err, field))
    more = len(error.errors()) - limit
    if more > 0:
        lines.append(f"... and {more} more")
    return "Invalid catalog: " + "; ".join(lines) if root == "catalog" else "; ".join(lines)


def _where(loc: tuple[Any, ...], data: Any) -> tuple[list[str], str | None]:
    parts: list[str] = []
    i = 0
    field = None
    while i < len(loc):
        step = loc[i]
        if step in _CHILD and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            kind, attr = _CHILD[step]
            index = loc[i + 1]
            item = None
            if (
                isinstance(data, dict)
                and isinstance(data.get(step), list | tuple)
                and index < len(data[step])
            ):
                item = data[step][index]
            name = _attr(item, attr) if attr else None
            parts.append(f"{kind} {name!r}" if name is not None else f"{kind} #{index + 1}")
            data = item
            i += 2
            continue
        field = ".".join(str(x) for x in loc[i:] if not str(x).startswith(("function-", "int", "literal")))
        break
    return parts, field


def _attr(item: Any, attr: str) -> Any:
    if isinstance(item, dict):
        return item.get(attr)
    if isinstance(item, str) and attr == "key":
        return item
    return getattr(item, attr, None)


def _message(err: Any, field: str | None) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return f"unknown key {field!r}"
    if kind == "missing":
        return f"missing required key {field!r}"
    msg = msg.removeprefix("Value error, ")
    if kind == "value_error" and not field:
        return msg
    return f"{field}: {msg}" if field else msg


def first_param(error: ValidationError) -> str | None:
    errs = error.errors()
    if not errs:
        return None
    return ".".join(str(x) for x in errs[0]["loc"]) or None
