"""The portal through both adapters: one ``Portal`` driver over Flask's and FastAPI's test clients, real
SQLite, the real emulator (its stand-in Elements page served by the adapter under /billing/stripe)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import Request
from sqlalchemy.engine import Engine

from billingos import Billing, FrozenClock
from billingos.emulator import Emulator
from tests.conftest import WEBHOOK_SECRET

OWNER, OTHER = "org_a", "org_b"
PLANS = [("basic_monthly", 1000, "month"), ("pro_monthly", 3000, "month"), ("team_monthly", 9000, "month"),
         ("pro_yearly", 30000, "year")]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def html(self) -> str:
        return self.body.decode("utf-8")

    @property
    def text(self) -> str:
        body = re.sub(r"<(script|style)\b.*?</\1>", " ", self.html, flags=re.S)
        return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    def field(self, name: str) -> str:
        m = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', self.html)
        assert m is not None, f"no field {name} on: {self.text[:300]}"
        return html.unescape(m.group(1))


def _owner_header(request: Request) -> str | None:
    return request.headers.get("x-owner")


class Portal:
    """Drives one adapter's test client as a browser: cookies kept, the owner sent as X-Owner."""

    def __init__(self, kind: str, billing: Billing, **options: Any) -> None:
        self.kind, self.billing, self.owner = kind, billing, OWNER
        if kind == "flask":
            from flask import Flask, request

            from billingos_flask import BillingOS
            app = Flask(__name__)
            app.config.update(SECRET_KEY="test-secret-key-0123456789",
                              **{f"BILLINGOS_{k.upper()}": v for k, v in options.items()})
            ext = BillingOS(app, billing=billing)
            ext.customer_loader(lambda: request.headers.get("X-Owner"))
            self._client: Any = app.test_client()
        else:
            from fastapi import FastAPI
            from fastapi.testclient import TestClient

            from billingos_fastapi import create_router

            app = FastAPI()
            self.router = create_router(billing, customer_loader=_owner_header,
                                        secret_key="test-secret-key-0123456789", **options)
            app.include_router(self.router)
            self._client = TestClient(app, follow_redirects=False)
        self.app = app

    def _headers(self, owner: str | bool | None) -> dict[str, str]:
        who = self.owner if owner is True else owner
        return {"X-Owner": who} if isinstance(who, str) else {}

    def get(self, path: str, owner: str | bool | None = True) -> Answer:
        r = self._client.get(path, headers=self._headers(owner))
        return self._answer(r)

    def post(self, path: str, data: dict[str, str], owner: str | bool | None = True) -> Answer:
        r = self._client.post(path, data=data, headers=self._headers(owner))
        return self._answer(r)

    def _answer(self, r: Any) -> Answer:
        body = r.data if self.kind == "flask" else r.content
        return Answer(r.status_code, {k.lower(): v for k, v in r.headers.items()}, body)

    def token(self, path: str = "/billing/portal/") -> str:
        m = re.search(r'<meta name="csrf-token" content="([^"]+)"', self.get(path).html)
        assert m is not None
        return html.unescape(m.group(1))

    def submit(self, path: str, data: dict[str, str], page: str = "/billing/portal/") -> Answer:
        """POST ``data`` with a CSRF token read from ``page`` (as a form on it would)."""
        return self.post(path, {"csrf_token": self.token(page), **data})

    def follow(self, answer: Answer) -> Answer:
        assert answer.status in (302, 303), (answer.status, answer.text[:300])
        parts = urlsplit(answer.location)
        return self.get(parts.path + (f"?{parts.query}" if parts.query else ""))

    def add_card(self, card: str = "pm_card_visa") -> Answer:
        """Add a card as a customer does: the portal's button, the stand-in Elements page, back."""
        elements = self.follow(self.submit("/billing/portal/payment-methods/add", {},
                                           "/billing/portal/payment-methods"))
        assert elements.status == 200, elements.text[:300]
        action = re.search(r'<form[^>]+action="([^"]+)"', elements.html)
        assert action is not None
        posted = self.post(html.unescape(action.group(1)), {
            "token": elements.field("token"), "client_secret": elements.field("client_secret"),
            "return_url": elements.field("return_url"), "card": card})
        if posted.status != 303:
            return posted                  # the stand-in page shows the decline
        return self.follow(self.follow(posted))


@pytest.fixture
def pbilling(sqlite_engine: Engine) -> Iterator[Billing]:
    clock = FrozenClock(__import__("datetime").datetime(2026, 1, 15, 12, 0, tzinfo=__import__("datetime").UTC))
    billing = Billing(engine=sqlite_engine, emulator=Emulator(clock=clock), clock=clock,
                      webhook_secrets=[WEBHOOK_SECRET])
    billing.testing.connect()
    sc = billing.stripe.v1
    product = sc.products.create(params={"name": "Pro"})
    team = sc.products.create(params={"name": "Team"})
    for key, amount, interval in PLANS:
        sc.prices.create(params={"product": (team if key.startswith("team") else product).id, "currency": "usd",
                                 "unit_amount": amount, "lookup_key": key, "recurring": {"interval": interval}})
    billing.catalog.refresh_products([product.id, team.id])
    billing.testing.drain()
    yield billing
    billing.close()


@pytest.fixture(params=["flask", "fastapi"])
def portal(request: pytest.FixtureRequest, pbilling: Billing) -> Portal:
    return Portal(request.param, pbilling)


def customer_with_card(billing: Billing, owner: str = OWNER, card: str = "pm_card_visa") -> Any:
    c = billing.customers.create(owner_id=owner, email=f"{owner}@example.com", name=owner.upper())
    pm = billing.stripe.v1.payment_methods.attach(card, params={"customer": c.id})
    billing.customers.update(owner, default_payment_method=pm.id)
    billing.payment_methods.sync(pm)
    return billing.customers.get(owner_id=owner)
