"""The webhook route in both adapters under hostile requests: it never redirects (Stripe counts a 3xx as a
failed delivery), reads at most the body limit plus one byte whatever the transfer encoding, and answers
a malformed delivery with a 400 problem document, never a 500 (issue 8 items 4-6)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from flask import Flask

from billingos import Billing
from billingos.emulator import signature_header
from billingos.webhooks import MAX_BODY
from billingos_fastapi import create_router
from billingos_flask import BillingOS
from tests.conftest import WEBHOOK_SECRET

from .raw_http import Reply, asgi_post, wsgi_post


class App:
    """One adapter's app, posted to below its test client."""

    def __init__(self, kind: str, billing: Billing) -> None:
        self.kind = kind
        if kind == "flask":
            flask_app = Flask(__name__)
            BillingOS(flask_app, billing=billing)
            self.app: Any = flask_app.wsgi_app
        else:
            self.app = FastAPI()
            self.app.include_router(create_router(billing))

    def post(self, path: str, body: bytes, headers: dict[str, str], *, chunked: bool = False,
             size: int | None = None) -> Reply:
        """``chunked``: no Content-Length, the body streamed (``size`` bytes: ``body`` then spaces)."""
        if self.kind == "flask":
            return wsgi_post(self.app, path, body, headers, chunked=chunked, size=size)
        length = {} if chunked else {"Content-Length": str(len(body) if size is None else size)}
        framing = {"Transfer-Encoding": "chunked"} if chunked else {}
        return asgi_post(self.app, path, body, {**length, **framing, **headers}, size=size)


@pytest.fixture(params=["flask", "fastapi"])
def app(request: pytest.FixtureRequest, billing: Billing) -> App:
    return App(request.param, billing)


def _event(billing: Billing, n: int = 1) -> dict[str, Any]:
    now = int(billing.now().timestamp())
    return {"id": f"evt_hostile_{n}", "object": "event", "type": "customer.updated", "created": now,
            "livemode": False, "data": {"object": {"id": "cus_hostile", "object": "customer"}}}


def _headers(billing: Billing, body: bytes) -> dict[str, str]:
    return {"Stripe-Signature": signature_header(body, [WEBHOOK_SECRET], int(billing.now().timestamp())),
            "Content-Type": "application/json"}


def _padded(billing: Billing, size: int) -> bytes:
    body = json.dumps(_event(billing)).encode()
    return body + b" " * (size - len(body))       # trailing whitespace is valid JSON


ACCEPTED = ["/billing/webhooks", "/billing/webhooks/"]
NEVER_REDIRECTED = ["/billing//webhooks", "/billing//webhooks/", "/billing/webhooks//", "/billing///webhooks",
                    "//billing/webhooks", "/billing/./webhooks", "/billing/webhooks/.", "/billing/Webhooks",
                    "/billing/webhooks/x", "/billing/webhooks%2F", "/billing/webhook", "/billing/webhooks///"]


@pytest.mark.parametrize("path", ACCEPTED)
def test_exact_path_and_one_trailing_slash_are_accepted(app: App, billing: Billing, path: str) -> None:
    body = json.dumps(_event(billing)).encode()
    reply = app.post(path, body, _headers(billing, body))
    assert reply.status == 200, reply.body
    assert reply.json()["event_id"] == "evt_hostile_1"


@pytest.mark.parametrize("path", NEVER_REDIRECTED)
def test_other_spellings_are_never_redirected(app: App, billing: Billing, path: str) -> None:
    body = json.dumps(_event(billing)).encode()
    reply = app.post(path, body, _headers(billing, body))
    assert not 300 <= reply.status < 400, f"{path}: {reply.status} -> {reply.headers.get('location')}"
    assert reply.status in (200, 404, 405), (path, reply.status)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_at_the_limit_is_accepted(app: App, billing: Billing, chunked: bool) -> None:
    body = _padded(billing, MAX_BODY)
    reply = app.post("/billing/webhooks", body, _headers(billing, body), chunked=chunked)
    assert reply.status == 200, reply.body
    assert reply.read == MAX_BODY


@pytest.mark.parametrize("chunked", [False, True])
def test_a_16_mib_body_is_refused_after_reading_at_most_the_limit(app: App, billing: Billing,
                                                                  chunked: bool) -> None:
    """Whatever the framing, the app stops reading past the limit. A WSGI app reads the limit plus one
    byte; an ASGI server hands the body over in messages (64 KiB here), and the app asks for none after
    the one that crosses the limit."""
    body = json.dumps(_event(billing)).encode()
    reply = app.post("/billing/webhooks", body, _headers(billing, body), chunked=chunked, size=16 * 1024 * 1024)
    assert reply.status == 400, reply.body
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["status"] == 400
    assert reply.read <= MAX_BODY + (1 if app.kind == "flask" else 65536), reply.read
    assert billing.webhooks.events() == []


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "99999999999999999999999", "0x10", "12, 12"])
def test_a_malformed_content_length_is_a_400(app: App, billing: Billing, length: str) -> None:
    body = json.dumps(_event(billing)).encode()
    reply = app.post("/billing/webhooks", body, {**_headers(billing, body), "Content-Length": length})
    assert reply.status == 400, (length, reply.status, reply.body)
    assert billing.webhooks.events() == []
