"""The emulator's state: every object by id, in creation order, plus list and search helpers."""

from __future__ import annotations

import copy
import re
import secrets
import string
from collections.abc import Callable, Iterable
from typing import Any

from .errors import StripeError, invalid, missing
from .params import Params

_ALPHABET = string.ascii_letters + string.digits


def clone(node: Any) -> Any:
    """A deep copy of stored JSON data (dicts, lists, scalars), several times faster than ``copy.deepcopy``,
    which every response and event makes. Anything else is deep-copied the slow way."""
    kind = type(node)
    if kind is dict:
        return {k: clone(v) for k, v in node.items()}
    if kind is list:
        return [clone(v) for v in node]
    if kind is str or kind is int or kind is bool or kind is float or node is None:
        return node
    return copy.deepcopy(node)


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


class Store:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}       # id -> object
        self.by_kind: dict[str, list[str]] = {}            # object name -> ids in creation order
        self.deleted: set[str] = set()

    # --- basic access -------------------------------------------------------------------------
    def insert(self, obj: dict[str, Any]) -> dict[str, Any]:
        oid = obj["id"]
        if oid in self.objects:
            raise StripeError(f"An object with id '{oid}' already exists.", code="resource_already_exists")
        self.objects[oid] = obj
        self.by_kind.setdefault(obj["object"], []).append(oid)
        return obj

    def get(self, kind: str, oid: Any, *, param: str = "id", label: str | None = None) -> dict[str, Any]:
        obj = self.objects.get(oid) if isinstance(oid, str) else None
        if obj is None or obj["object"] != kind or oid in self.deleted:
            raise missing(label or kind.split(".")[-1].replace("_", " "), str(oid), param)
        return obj

    def find(self, oid: str) -> dict[str, Any] | None:
        return None if oid in self.deleted else self.objects.get(oid)

    def delete(self, oid: str) -> None:
        self.deleted.add(oid)

    def all(self, kind: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        ids = self.by_kind.get(kind, [])
        return [self.objects[i] for i in ids if include_deleted or i not in self.deleted]

    # --- lists ---------------------------------------------------------------------------------
    def page(self, p: Params, items: list[dict[str, Any]], url: str) -> dict[str, Any]:
        """Stripe's cursor pagination over ``items`` (oldest first in, newest first out)."""
        limit = p.int("limit", min=1, max=100, default=10)
        after, before = p.str("starting_after"), p.str("ending_before")
        if after and before:
            raise invalid("You may only specify one of these parameters: ending_before, starting_after.")
        ordered = list(reversed(items))
        ids = [o["id"] for o in ordered]
        if after:
            if after not in ids:
                raise missing("object", after, "starting_after")
            start = ids.index(after) + 1
            window = ordered[start:start + limit]
            has_more = start + limit < len(ordered)
        elif before:
            if before not in ids:
                raise missing("object", before, "ending_before")
            end = ids.index(before)
            window = ordered[max(0, end - limit):end]
            has_more = end - limit > 0
        else:
            window, has_more = ordered[:limit], len(ordered) > limit
        return {"object": "list", "data": [clone(o) for o in window], "has_more": has_more, "url": url}

    def search(self, p: Params, items: list[dict[str, Any]], url: str) -> dict[str, Any]:
        """Stripe's search query language: ``field:'v'``, ``field~'v'``, ``metadata['k']:'v'``,
        numeric ``created>N``, ``-`` negation, joined by AND or OR (not both)."""
        query = p.str("query", required=True)
        limit = p.int("limit", min=1, max=100, default=10)
        page = p.str("page")
        match = compile_query(query)
        hits = [o for o in reversed(items) if match(o)]
        offset = 0
        if page:
            if not page.startswith("page_") or not page[5:].isdigit():
                raise invalid(f"Invalid page token: {page}", "page")
            offset = int(page[5:])
        window = hits[offset:offset + limit]
        more = offset + limit < len(hits)
        return {"object": "search_result", "data": [clone(o) for o in window], "has_more": more,
                "next_page": f"page_{offset + limit}" if more else None, "url": url, "total_count": len(hits)}


_CLAUSE = re.compile(
    r"""\s*(-)?([a-z_\.]+(?:\['[^']+'\])?)\s*(:|~|>=|<=|>|<)\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+|null)\s*"""
)


def compile_query(query: str) -> Callable[[dict[str, Any]], bool]:
    if not isinstance(query, str) or not query.strip():
        raise invalid("Search query must not be empty.", "query")
    parts = re.split(r"\s+(AND|OR)\s+", query.strip())
    clauses, joins = parts[0::2], set(parts[1::2])
    if len(joins) > 1:
        raise invalid("A search query cannot mix AND and OR.", "query")
    preds = [_clause(c) for c in clauses]
    if joins == {"OR"}:
        return lambda o: any(pr(o) for pr in preds)
    return lambda o: all(pr(o) for pr in preds)


def _clause(text: str) -> Callable[[dict[str, Any]], bool]:
    m = _CLAUSE.fullmatch(text)
    if not m:
        raise invalid(f"Invalid search query clause: {text!r}. Use field:'value'.", "query")
    neg, field, op, raw = m.groups()
    value: Any = None if raw == "null" else (re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw[0] in "'\"" else int(raw))
    mk = re.fullmatch(r"metadata\['([^']+)'\]", field)

    def read(o: dict[str, Any]) -> Any:
        if mk:
            return (o.get("metadata") or {}).get(mk.group(1))
        cur: Any = o
        for piece in field.split("."):
            cur = cur.get(piece) if isinstance(cur, dict) else None
        return cur

    def test(o: dict[str, Any]) -> bool:
        v = read(o)
        if op == ":":
            ok = (v is None) if value is None else (str(v).lower() == str(value).lower()
                                                   if isinstance(v, str | bool) else v == value)
        elif op == "~":
            ok = isinstance(v, str) and str(value).lower() in v.lower()
        else:
            if not isinstance(v, int) or not isinstance(value, int):
                return False
            ok = {">": v > value, "<": v < value, ">=": v >= value, "<=": v <= value}[op]
        return not ok if neg else ok

    return test


def matches_range(value: int, spec: Any, param: str) -> bool:
    """``created=123`` or ``created[gte]=...`` filters on list endpoints."""
    if spec is None:
        return True
    if isinstance(spec, str):
        try:
            return value == int(spec)
        except ValueError:
            raise invalid(f"Invalid integer: {spec}", param) from None
    ops = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
    for k, v in spec.items():
        if k not in ops:
            raise invalid(f"Received unknown parameter: {param}[{k}]", f"{param}[{k}]")
        try:
            bound = int(v)
        except ValueError:
            raise invalid(f"Invalid integer: {v}", f"{param}[{k}]") from None
        if not ops[k](value, bound):
            return False
    return True


def pick(items: Iterable[dict[str, Any]], **eq: Any) -> list[dict[str, Any]]:
    return [o for o in items if all(v is None or o.get(k) == v for k, v in eq.items())]
