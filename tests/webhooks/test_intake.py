"""Malformed webhook bodies (issue 8 item 4): every one is a 400 problem document and nothing is stored, on
SQLite and PostgreSQL, through receive() and through both adapters' routes. Then hypothesis mutates a
real event every which way: whatever it makes is either stored and read back intact, or refused as a 400."""

from __future__ import annotations

import itertools
import json
import math
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from billingos import Billing, BillingError
from billingos.emulator import signature_header
from billingos.webhooks import BillingWebhookEvent, WebhookSignatureError
from billingos_fastapi import create_router
from billingos_flask import BillingOS
from tests.conftest import WEBHOOK_SECRET


def _event(billing: Billing, **over: Any) -> dict[str, Any]:
    event = {"id": "evt_intake_1", "object": "event", "type": "customer.updated", "livemode": False,
             "created": int(billing.now().timestamp()), "api_version": "2025-03-31.basil",
             "data": {"object": {"id": "cus_intake", "object": "customer", "name": "Acme"}}}
    event.update(over)
    return event


def _signed(billing: Billing, body: bytes) -> dict[str, str]:
    return {"Stripe-Signature": signature_header(body, [WEBHOOK_SECRET], int(billing.now().timestamp())),
            "Content-Type": "application/json"}


def _stored(billing: Billing) -> int:
    with billing.session_factory() as s:
        return s.scalar(select(func.count()).select_from(BillingWebhookEvent)) or 0


def _nested(depth: int) -> Any:
    out: Any = []
    for _ in range(depth):
        out = [out]
    return out


def _body(billing: Billing, case: str) -> bytes:
    """The malformed deliveries the issue lists, and their near relatives."""
    ev = _event(billing)
    over_length = "x" * 300
    bodies: dict[str, Any] = {
        "deep array": b"[" * 100_000 + b"]" * 100_000,
        "deep nesting inside the object": _event(billing, data={"object": {"id": "cus_1", "deep": _nested(500)}}),
        "nesting just past the limit": _event(billing, data={"object": {"id": "cus_1", "deep": _nested(70)}}),
        "created soon": _event(billing, created="soon"),
        "created 10^20": _event(billing, created=10**20),
        "created -10^20": _event(billing, created=-(10**20)),
        "created NaN": json.dumps(ev).replace(f'"created": {ev["created"]}', '"created": NaN').encode(),
        "created Infinity": json.dumps(ev).replace(f'"created": {ev["created"]}', '"created": -Infinity').encode(),
        "created 1e400": json.dumps(ev).replace(f'"created": {ev["created"]}', '"created": 1e400').encode(),
        "1e400 deep inside": _event(billing, data={"object": {"id": "cus_1", "n": 1.0}}),
        "created float": _event(billing, created=1.5),
        "created bool": _event(billing, created=True),
        "data.object.id an object": _event(billing, data={"object": {"id": {"a": 1}}}),
        "data.object.id a list": _event(billing, data={"object": {"id": ["cus_1"]}}),
        "data.object a list": _event(billing, data={"object": []}),
        "id over the column": _event(billing, id="evt_" + over_length),
        "type over the column": _event(billing, type="customer." + over_length),
        "object id over the column": _event(billing, data={"object": {"id": "cus_" + over_length}}),
        "api_version over the column": _event(billing, api_version="2025-" + over_length),
        "escaped NUL in a value": _event(billing, data={"object": {"id": "cus_1", "name": "a\x00b"}}),
        "escaped NUL in a key": _event(billing, data={"object": {"id": "cus_1", "a\x00": 1}}),
        "escaped NUL in the type": _event(billing, type="customer.\x00"),
        "raw NUL byte": json.dumps(ev).encode().replace(b'"Acme"', b'"Ac\x00me"'),
        "lone surrogate escape": json.dumps(ev).replace('"Acme"', '"\\ud800"').encode(),
        "lone low surrogate escape": json.dumps(ev).replace('"Acme"', '"x\\udfff"').encode(),
        "surrogate escape in a key": json.dumps(ev).replace('"name"', '"\\udbff"').encode(),
        "huge integer deep inside": _event(billing, data={"object": {"id": "cus_1", "n": 10**30}}),
        "5,000-digit integer": json.dumps(ev).replace('"Acme"', "9" * 5000).encode(),
        "duplicated key": json.dumps(ev).replace('"id": "evt_intake_1"', '"id": "evt_a", "id": "evt_intake_1"')
        .encode(),
        "not UTF-8": json.dumps(ev).encode().replace(b"Acme", b"Acm\xe9"),
        "UTF-16": json.dumps(ev).encode("utf-16"),
        "byte order mark": b"\xef\xbb\xbf" + json.dumps(ev).encode(),
        "a JSON array": json.dumps([ev]).encode(),
        "a JSON string": b'"evt_intake_1"',
        "empty": b"",
        "truncated": json.dumps(ev).encode()[:-5],
        "livemode a string": _event(billing, livemode="false"),
    }
    value = bodies[case]
    if case == "1e400 deep inside":
        return json.dumps(value).replace('"n": 1.0', '"n": 1e400').encode()
    return value if isinstance(value, bytes) else json.dumps(value).encode()


CASES = ["deep array", "deep nesting inside the object", "nesting just past the limit", "created soon",
         "created 10^20", "created -10^20", "created NaN", "created Infinity", "created 1e400", "1e400 deep inside",
         "created float", "created bool", "data.object.id an object", "data.object.id a list", "data.object a list",
         "id over the column", "type over the column", "object id over the column", "api_version over the column",
         "escaped NUL in a value", "escaped NUL in a key", "escaped NUL in the type", "raw NUL byte",
         "lone surrogate escape", "lone low surrogate escape", "surrogate escape in a key",
         "huge integer deep inside", "5,000-digit integer", "duplicated key", "not UTF-8", "UTF-16",
         "byte order mark", "a JSON array", "a JSON string", "empty", "truncated", "livemode a string"]


@pytest.mark.parametrize("case", CASES)
def test_malformed_body_is_refused_and_nothing_is_stored(billing: Billing, case: str) -> None:
    body = _body(billing, case)
    with pytest.raises(WebhookSignatureError) as caught:      # WebhookPayloadError is one: a 400
        billing.webhooks.receive(body, _signed(billing, body))
    assert caught.value.status == 400 and len(str(caught.value)) < 300
    assert _stored(billing) == 0 and billing.jobs.list() == []


def test_the_same_event_well_formed_is_stored(billing: Billing) -> None:
    """The control: the events above differ from a stored one only in what the case changes."""
    body = json.dumps(_event(billing)).encode()
    assert billing.webhooks.receive(body, _signed(billing, body)).accepted
    assert _stored(billing) == 1


class _Flask:
    def __init__(self, billing: Billing) -> None:
        app = Flask(__name__)
        BillingOS(app, billing=billing)
        self.client = app.test_client()

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str, Any]:
        r = self.client.post("/billing/webhooks", data=body, headers=headers)
        return r.status_code, r.headers.get("Content-Type", ""), r.get_json(silent=True)


class _FastAPI:
    def __init__(self, billing: Billing) -> None:
        app = FastAPI()
        app.include_router(create_router(billing))
        self.client = TestClient(app, follow_redirects=False, raise_server_exceptions=False)

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str, Any]:
        r = self.client.post("/billing/webhooks", content=body, headers=headers)
        return r.status_code, r.headers.get("content-type", ""), r.json() if r.content else None


@pytest.mark.parametrize("adapter", [_Flask, _FastAPI], ids=["flask", "fastapi"])
def test_malformed_bodies_are_400_problem_documents_over_http(billing: Billing, adapter: Any) -> None:
    http = adapter(billing)
    for case in CASES:
        body = _body(billing, case)
        status, ctype, doc = http.post(body, _signed(billing, body))
        assert status == 400, (case, status, doc)
        assert ctype.startswith("application/problem+json") and doc["status"] == 400 and doc["detail"], case
    assert _stored(billing) == 0


# --- hypothesis: any mutation of a real event ----------------------------------------------------------
_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)   # surrogates and NUL included
_LEAF = st.none() | st.booleans() | st.integers(min_value=-(10**25), max_value=10**25) | st.floats() | _TEXT
_JSON = st.recursive(_LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
                     max_leaves=12)
_PATHS = [("id",), ("type",), ("created",), ("livemode",), ("api_version",), ("data",), ("data", "object"),
          ("data", "object", "id"), ("data", "object", "name"), ("data", "object", "metadata"), ("extra",)]


_IDS = itertools.count()


def _encode(event: Any, ascii_only: bool) -> bytes:
    text = json.dumps(event, ensure_ascii=ascii_only, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")       # a lone surrogate goes out as its (invalid) UTF-8 bytes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(_PATHS), value=_JSON, ascii_only=st.booleans())
def test_any_mutated_event_is_stored_intact_or_refused(billing: Billing, path: tuple[str, ...], value: Any,
                                                       ascii_only: bool) -> None:
    event = _event(billing, id=f"evt_fuzz_{next(_IDS)}")
    node = event
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    body = _encode(event, ascii_only)
    before = _stored(billing)
    try:
        receipt = billing.webhooks.receive(body, _signed(billing, body))
    except BillingError as e:
        assert e.status == 400, e
        assert _stored(billing) == before
        return
    with billing.session_factory() as s:
        row = s.scalars(select(BillingWebhookEvent)
                        .where(BillingWebhookEvent.stripe_event_id == receipt.event_id)).one()
    # stored as received and readable back; numbers compared as JSON numbers (jsonb keeps 2.5e+16 as 25000000000000000)
    assert _numbers_exact(row.payload) == _numbers_exact(json.loads(body.decode("utf-8")))
    assert not _has_nan(row.payload)


def _numbers_exact(value: Any) -> Any:
    return json.loads(json.dumps(value), parse_float=Decimal, parse_int=Decimal)


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    return False
