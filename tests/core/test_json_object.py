"""validation.json_object dispatches on the exact JSON types first (it walks every webhook's and every synced
Stripe object's nodes); it accepts and refuses exactly what the plain isinstance walk did, with the same message."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billingos import InvalidInputError, validation
from billingos.validation import JSON_INT, echo


def _reference(value: Any, param: str, *, max_depth: int = 32) -> dict[str, Any]:
    """The walk as it was before the exact-type dispatch."""
    def ok(text: str) -> bool:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True

    if not isinstance(value, Mapping):
        raise InvalidInputError("not a mapping", param=param)
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise InvalidInputError(f"{param} is nested deeper than {max_depth} levels.", param=param)
        if isinstance(node, Mapping):
            for k, v in node.items():
                if not isinstance(k, str) or "\x00" in k or not ok(k):
                    raise InvalidInputError(f"{param} keys must be strings without NUL or lone surrogates, got "
                                            f"{echo(k)}.", param=param)
                stack.append((v, depth + 1))
        elif isinstance(node, list | tuple):
            stack.extend((v, depth + 1) for v in node)
        elif isinstance(node, str):
            if "\x00" in node or not ok(node):
                raise InvalidInputError(f"{param} strings must not contain NUL or lone surrogates, got "
                                        f"{echo(node)}.", param=param)
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise InvalidInputError(f"{param} numbers must be finite, got {node!r}.", param=param)
        elif isinstance(node, int) and not isinstance(node, bool):
            if not -JSON_INT <= node <= JSON_INT:
                raise InvalidInputError(f"{param} integers must be within ±2^63, got {echo(node)}.", param=param)
        elif isinstance(node, Decimal):
            if not node.is_finite():
                raise InvalidInputError(f"{param} numbers must be finite, got {echo(str(node))}.", param=param)
        elif node is not None and not isinstance(node, bool):
            raise InvalidInputError(f"{param} must hold only JSON values (strings, numbers, booleans, None, lists, "
                                    f"dicts), got {echo(node)}.", param=param)
    return dict(value)


class Text(str):
    pass


class Number(int):
    pass


texts = st.sampled_from(["", "a", "é", "\x00", "a\x00b", "\ud800", "x\udfff", "id_1", Text("sub"), Text("\x00")]) \
    | st.text(max_size=6)
keys = texts | st.sampled_from([1, None, True, 2.5, b"k"])
leaves = (texts | st.integers(-2**64, 2**64) | st.sampled_from([JSON_INT, -JSON_INT, JSON_INT + 1, Number(3)])
          | st.floats(allow_nan=True, allow_infinity=True) | st.booleans() | st.none()
          | st.sampled_from([Decimal("1.5"), Decimal("NaN"), Decimal("Infinity"), {1, 2}, b"x", object()]))
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                      | st.dictionaries(keys, inner, max_size=4)
                      | st.dictionaries(texts, inner, max_size=3).map(OrderedDict), max_leaves=25)


def _outcome(fn: Any, value: Any, depth: int) -> Any:
    try:
        return ("ok", fn(value, "event", max_depth=depth))
    except InvalidInputError as e:
        return ("error", str(e), e.param)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, values, max_size=5), st.sampled_from([2, 3, 32]))
def test_same_answer_as_the_isinstance_walk(value: dict[Any, Any], depth: int) -> None:
    assert _outcome(validation.json_object, value, depth) == _outcome(_reference, value, depth)


@pytest.mark.parametrize(("value", "message"), [
    ({"a": [1, {"b": "x\x00"}]}, "strings must not contain NUL"),
    ({"a": Text("\ud800")}, "strings must not contain NUL"),
    ({"é\ud800": 1}, "keys must be strings"),
    ({"a": float("nan")}, "numbers must be finite"),
    ({"a": 2**63 + 1}, "integers must be within"),
    ({"a": {1, 2}}, "must hold only JSON values"),
])
def test_refusals_name_the_rule(value: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        validation.json_object(value, "event")
