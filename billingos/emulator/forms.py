"""Decode Stripe's form/query encoding (``a[b][0][c]=v``) into nested dicts and lists."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")


class FormError(ValueError):
    pass


def decode(body: str) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        m = _KEY.fullmatch(key)
        if not m:
            raise FormError(f"Invalid parameter name: {key}")
        parts = [m.group(1), *re.findall(r"\[([^\[\]]*)\]", m.group(2))]
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "" and (not isinstance(node, dict) or "__list__" not in node):  # ``expand[]=x`` appends
                raise FormError(f"Invalid parameter name: {key}")
            if last:
                if part == "":
                    node["__list__"].append(value)
                else:
                    node[part] = value
            else:
                nxt = node.get(part)
                if nxt is None:
                    nxt = {"__list__": []} if parts[i + 1] == "" else {}
                    node[part] = nxt
                elif not isinstance(nxt, dict):
                    raise FormError(f"Invalid parameter name: {key}")
                node = nxt
    return _listify(root)


def _listify(node: Any) -> Any:
    """Dicts whose keys are 0..n-1 become lists, as Stripe treats ``items[0]`` as an array."""
    if not isinstance(node, dict):
        return node
    if "__list__" in node:
        return [_listify(v) for v in node["__list__"]]
    out = {k: _listify(v) for k, v in node.items()}
    if out and all(k.isdigit() for k in out):
        idx = sorted(out, key=int)
        if [int(k) for k in idx] == list(range(len(idx))):
            return [out[k] for k in idx]
        raise FormError("Array parameters must be indexed 0, 1, 2, ... without gaps.")
    return out
