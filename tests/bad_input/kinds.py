"""The bad values, by kind of parameter. Written from RELIABILITY.md's "Bad input", not from billingos's
validators: nothing here imports billingos, so the oracle shares no code with what it checks.

A kind takes the parameter's valid value (to build near-misses such as ``valid + "\\n"``) and whether
the parameter is required (then ``None`` is bad too), and returns ``(label, value)`` pairs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

NAN, INF = math.nan, math.inf
HUGE_INT = 10**20
LONG = "x" * 100_000                 # the 100,000-character string
Case = tuple[str, Any]


def nested(depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for _ in range(depth):
        out = {"a": out}
    return out


def strings(valid: str) -> list[Case]:
    """Every string parameter: empty, whitespace, trailing newline, 100,000 characters, a lone surrogate,
    NUL, bytes and non-strings."""
    return [("empty", ""), ("whitespace", " \t "), ("trailing newline", valid + "\n"),
            ("100k characters", LONG), ("lone surrogate", valid + "\ud800"), ("NUL", valid + "\x00"),
            ("bytes", valid.encode()), ("int", 123), ("float NaN", NAN), ("list", [valid]), ("bool", True),
            ("dict", {"a": valid})]


def ids(prefix: str, valid: str) -> list[Case]:
    """A Stripe id: malformed, of another kind, or far too long."""
    other = "in_1A2b3C" if prefix != "in" else "sub_1A2b3C"
    return [*strings(valid), ("prefix only", f"{prefix}_"), ("space inside", f"{prefix}_a b"),
            ("foreign kind", other), ("too long", f"{prefix}_" + "a" * 300)]


def integers(*, minimum: int) -> list[Case]:
    """A whole number from ``minimum`` up: below it, NaN, infinite, huge, fractional and wrong types."""
    return [("below minimum", minimum - 1), ("negative", -1 if minimum > -1 else -(10**13)), ("NaN", NAN),
            ("infinity", INF), ("-infinity", -INF), ("huge", HUGE_INT), ("fractional", 2.5),
            ("decimal", Decimal("1.5")), ("string", "1"), ("bool", True), ("list", [1])]


def any_integers() -> list[Case]:
    """A whole number whose range is not known here: only what no integer parameter takes."""
    return [("NaN", NAN), ("infinity", INF), ("fractional", 2.5), ("decimal", Decimal("1.5")), ("string", "1"),
            ("bool", True), ("list", [1])]


def any_numbers() -> list[Case]:
    return [("NaN", NAN), ("infinity", INF), ("-infinity", -INF), ("string", "1"), ("bool", True), ("list", [1])]


def seconds() -> list[Case]:
    return [("negative", -1.0), ("NaN", NAN), ("infinity", INF), ("huge", 1e300), ("string", "1"),
            ("bool", True)]


def booleans() -> list[Case]:
    return [("string no", "no"), ("string false", "false"), ("int 0", 0), ("int 1", 1), ("empty", ""),
            ("NaN", NAN), ("list", [True])]


def datetimes() -> list[Case]:
    return [("string", "2026-02-01"), ("unix int", 1767225600), ("naive", datetime(2026, 2, 1)),
            ("date", date(2026, 2, 1)), ("NaN", NAN), ("float", 1.5e9), ("timedelta", timedelta(days=1))]


def dates() -> list[Case]:
    """A ``date`` or an aware ``datetime``."""
    return [("string", "2026-02-01"), ("unix int", 1767225600), ("naive", datetime(2026, 2, 1)), ("NaN", NAN),
            ("float", 1.5e9), ("timedelta", timedelta(days=1)), ("list", [date(2026, 2, 1)])]


def timedeltas() -> list[Case]:
    return [("negative", timedelta(days=-1)), ("huge", timedelta(days=10**6)), ("int", 5), ("string", "3 days"),
            ("NaN", NAN), ("datetime", datetime(2026, 1, 1, tzinfo=UTC))]


def enums(valid: str) -> list[Case]:
    return [*strings(valid), ("unknown member", "nope"), ("case", valid.upper() + "X"),
            ("surrounding space", f" {valid} ")]


def metadata() -> list[Case]:
    return [("non-string value", {"a": 1}), ("NUL in key", {"a\x00": "b"}), ("surrogate value", {"k": "\ud800"}),
            ("NUL value", {"k": "a\x00"}), ("list", ["x"]), ("string", "x"),
            ("51 keys", {f"k{i}": "v" for i in range(51)}),
            ("41-character key", {"k" * 41: "v"}), ("501-character value", {"k": "v" * 501}), ("int key", {1: "a"}),
            ("empty key", {"": "a"}), ("100k value", {"k": LONG})]


def json_objects() -> list[Case]:
    """``properties``: a JSON object that PostgreSQL's jsonb can hold."""
    return [("NaN", {"a": NAN}), ("infinity", {"a": INF}), ("object", {"a": object()}), ("string", "x"),
            ("list", [1]), ("5 KB", {"a": "x" * 5000}), ("surrogate key", {"\ud800": 1}),
            ("surrogate value", {"a": "\ud800"}), ("NUL value", {"a": "\x00"}), ("NUL key", {"\x00": 1}),
            ("deep nesting", nested(5000)), ("huge int", {"a": 10**400})]


def callables() -> list[Case]:
    return [("int", 5), ("string", "fn"), ("dict", {})]


def sessions() -> list[Case]:
    return [("int", 5), ("string", "session"), ("dict", {})]


def paths() -> list[Case]:
    return [("missing file", "/nonexistent/billing/catalog.toml"), ("directory", "/"), ("empty", ""),
            ("NUL", "catalog\x00.toml"), ("lone surrogate", "catalog\ud800.toml"), ("int", 5),
            ("bytes", b"catalog.toml"), ("wrong suffix", "/etc/hostname"), ("100k characters", LONG + ".toml")]


def catalogs() -> list[Case]:
    return [*[c for c in paths() if c[0] != "empty"], ("empty string", ""), ("list", []),
            ("unknown field", {"nope": 1}), ("wrong shape", {"products": "x"}),
            ("surrogate", {"products": [{"key": "\ud800", "name": "x"}]}),
            ("NUL", {"products": [{"key": "pro", "name": "a\x00"}]}),
            ("NaN amount", {"products": [{"key": "pro", "name": "Pro", "prices": [
                {"lookup_key": "p_nan", "currency": "usd", "unit_amount": NAN, "interval": "month"}]}]}),
            ("deep nesting", nested(5000))]


def stripe_objects(prefix: str, obj: str) -> list[Case]:
    """A Stripe object passed to ``sync``."""
    return [("int", 5), ("string", f"{prefix}_1"), ("empty dict", {}), ("list", [1]),
            ("id int", {"id": 5, "object": obj}), ("id surrogate", {"id": f"{prefix}_\ud800", "object": obj}),
            ("id NUL", {"id": f"{prefix}_a\x00", "object": obj}), ("id too long", {"id": f"{prefix}_" + "a" * 300,
                                                                                   "object": obj}),
            ("foreign kind", {"id": "in_1A2b3C", "object": "invoice"}),
            ("NUL inside", {"id": f"{prefix}_1A2b3C", "object": obj, "metadata": {"k": "\x00"}})]


def event_dicts() -> list[Case]:
    """``webhooks.store``: a Stripe event as a dict."""
    base = {"id": "evt_sweep_1", "object": "event", "type": "customer.updated", "created": 1767225600,
            "livemode": False, "data": {"object": {"id": "cus_1A2b3C", "object": "customer"}}}
    return [("int", 5), ("string", "evt_1"), ("empty dict", {}), ("id int", {**base, "id": 5}),
            ("created string", {**base, "created": "soon"}), ("created huge", {**base, "created": 10**20}),
            ("created NaN", {**base, "created": NAN}), ("object id object", {**base, "data": {"object": {"id": {}}}}),
            ("type too long", {**base, "type": "a." + "b" * 300}), ("NUL", {**base, "type": "customer.\x00"}),
            ("surrogate inside", {**base, "data": {"object": {"id": "cus_1", "name": "\ud800"}}})]


def event_lists() -> list[Case]:
    """``webhooks.store_many``: a list of Stripe events; one bad event refuses the whole list."""
    good = {"id": "evt_sweep_2", "object": "event", "type": "customer.updated", "created": 1767225600,
            "livemode": False, "data": {"object": {"id": "cus_1A2b3C", "object": "customer"}}}
    return [("one event, not a list", good), ("string", "evt_1"), ("bytes", b"evt_1"), ("int", 5),
            *[(f"[good, {name}]", [good, bad]) for name, bad in event_dicts()]]


def delivery_lists() -> list[Case]:
    """``webhooks.receive_many``: what is not a list of deliveries at all (a bad delivery inside the list is
    answered per delivery, see tests/webhooks/test_bulk_intake.py)."""
    return [("bytes", b"{}"), ("string", "{}"), ("dict", {"body": b"{}"}), ("int", 5), ("None", None)]


def id_lists(prefix: str) -> list[Case]:
    return [("string", f"{prefix}_1A2b3C"), ("int", 5), ("list of int", [5]), ("surrogate", [f"{prefix}_\ud800"]),
            ("NUL", [f"{prefix}_a\x00"]), ("bytes", [b"prod_1"]), ("trailing newline", [f"{prefix}_1\n"])]


def key_lists() -> list[Case]:
    return [("string", "k"), ("int", 5), ("list of int", [5]), ("surrogate", ["k\ud800"]), ("NUL", ["k\x00"]),
            ("trailing newline", ["k\n"]), ("bytes", [b"k"]), ("space inside", ["a b"]), ("dict", {"k": 1})]


def pairs(owner: str, meter: str) -> list[Case]:
    return [("int", 5), ("string", "ab"), ("short tuple", [(owner,)]), ("surrogate", [(owner, "\ud800")]),
            ("NUL", [("a\x00", meter)]), ("int pair", [(1, 2)])]


def percent_lists() -> list[Case]:
    return [("empty", []), ("zero", [0]), ("NaN", [NAN]), ("string", "80"), ("bool", [True]), ("int", 5),
            ("huge", [HUGE_INT]), ("negative", [-10])]


def bodies() -> list[Case]:
    return [("string", "{}"), ("int", 5), ("list", [1]), ("dict", {"id": "evt_1"})]


def header_maps() -> list[Case]:
    return [("int", 5), ("string", "x"), ("list", [("a", "b")]),
            ("non-ASCII signature", {"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=\u00e9\u00e9"}),
            ("surrogate signature", {"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=\ud800"}),
            ("NUL signature", {"Content-Type": "application/json", "Stripe-Signature": "t=1\x00,v1=00"}),
            ("huge timestamp", {"Content-Type": "application/json", "Stripe-Signature": "t=" + "9" * 5000 + ",v1=0"})]


def hueys() -> list[Case]:
    return [("int", 5), ("string", "huey"), ("dict", {})]


def revisions() -> list[Case]:
    return [("unknown", "nope"), ("empty", ""), ("NUL", "head\x00"), ("lone surrogate", "head\ud800"), ("int", 5),
            ("trailing newline", "head\n"), ("bytes", b"head")]


def option_maps() -> list[Case]:
    """``**options``: an unknown keyword and a bad value of a known one."""
    return [("unknown option", {"nope": 1}), ("bad known option", {"trial_days": NAN})]


def item_lists(price: str) -> list[Case]:
    return [("empty", []), ("string", price), ("non-dict item", [price]), ("price int", [{"price": 5}]),
            ("quantity NaN", [{"price": price, "quantity": NAN}]), ("unknown field", [{"price": price, "qty": 1}]),
            ("21 items", [{"price": price}] * 21), ("dict", {"price": price}),
            ("price surrogate", [{"price": "\ud800"}]), ("price NUL", [{"price": price + "\x00"}]),
            ("price newline", [{"price": price + "\n"}])]


def usage_events(owner: str, meter: str) -> list[Case]:
    good = {"owner_id": owner, "meter": meter, "value": 1, "idempotency_key": "sweep-bulk-1"}
    return [("string", "x"), ("int", 5), ("mapping", good), ("list of int", [1]),
            ("owner surrogate", [{**good, "owner_id": "\ud800"}]), ("owner NUL", [{**good, "owner_id": "a\x00"}]),
            ("value NaN", [{**good, "value": NAN}]), ("value huge", [{**good, "value": HUGE_INT}]),
            ("key newline", [{**good, "idempotency_key": "k\n"}]), ("key NUL", [{**good, "idempotency_key": "k\x00"}]),
            ("unknown meter", [{**good, "meter": "nope"}]), ("properties NUL", [{**good, "properties": {"a": "\x00"}}]),
            ("unknown field", [{**good, "nope": 1}]),
            ("timestamp naive", [{**good, "timestamp": datetime(2026, 1, 1)}])]


@dataclass(frozen=True)
class Kind:
    """How to make bad values for a parameter; ``status`` is the HTTP-ish status a refusal must carry
    (400 for InvalidInputError), ``names_param``: the error must name the parameter."""

    name: str
    make: Callable[[Any], list[Case]]
    names_param: bool = True

    def cases(self, valid: Any, *, required: bool) -> list[Case]:
        out = list(self.make(valid))
        if required:
            out.append(("None", None))
        return out
