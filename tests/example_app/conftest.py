"""Fixtures for the example app's pages: a fresh app in a temp instance dir, and form helpers.

``site`` runs a test on both web apps (Flask and FastAPI), which serve the same pages from the same
templates; the helpers take either framework's test client and response."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask

from billingos import Billing
from example_app import create_app
from example_app.domain import Linkshelf
from example_app.fastapi_app import create_app as create_fastapi_app

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_app(instance: Path) -> Flask:
    return create_app({"INSTANCE_PATH": str(instance), "TESTING": True})


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path / "instance")


@pytest.fixture
def billing(app: Flask) -> Billing:
    b: Billing = app.extensions["billingos"].billing_for(app)
    return b


@dataclass
class Site:
    """One of the two web apps on a temp instance: ``client()`` is a new browser (its own cookies) that
    does not follow redirects."""

    kind: str
    app: Flask | FastAPI

    def client(self) -> Any:
        if isinstance(self.app, Flask):
            return self.app.test_client()
        return TestClient(self.app, follow_redirects=False)

    @property
    def shelf(self) -> Linkshelf:
        return shelf_of(self.app)

    @property
    def billing(self) -> Billing:
        return self.shelf.billing


def shelf_of(app: Flask | FastAPI | Site) -> Linkshelf:
    if isinstance(app, Site):
        return app.shelf
    found: Linkshelf = app.extensions["linkshelf"] if isinstance(app, Flask) else app.state.shelf
    return found


@pytest.fixture(params=["flask", "fastapi"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    if request.param == "flask":
        app = make_app(tmp_path / "instance")
        yield Site("flask", app)
        app.extensions["billingos"].billing_for(app).close()
        return
    with TestClient(create_fastapi_app(tmp_path / "instance")) as running:      # its lifespan closes billing
        yield Site("fastapi", running.app)   # type: ignore[arg-type]


def token(client: Any, page: str = "/app") -> str:
    match = TOKEN.search(client.get(page).text)
    assert match is not None, f"no CSRF token on {page}"
    return match.group(1)


def post(client: Any, path: str, page: str = "/app", **form: str) -> Any:
    """POST the way a browser does: with the token of the page that shows the form."""
    return client.post(path, data={"csrf_token": token(client, page), **form})


PASSWORD = "correct horse battery"


def signup(client: Any, name: str = "ada", *, email: str | None = None, password: str = PASSWORD) -> Any:
    return post(client, "/signup", page="/signup", name=name, email=email or f"{name}@example.com", password=password)


def login(client: Any, email: str = "ada@example.com", password: str = PASSWORD, path: str = "/login") -> Any:
    return post(client, path, page="/login", email=email, password=password)


def owner_of(app: Flask | FastAPI | Site, email: str = "ada@example.com") -> str:
    from sqlalchemy import select

    from example_app.models import User
    with shelf_of(app).sessions() as db:
        return str(db.scalars(select(User.owner_id).where(User.email == email)).one())


def text(response: Any) -> str:
    """The page's text with tags removed and whitespace collapsed: what a reader sees."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.text, flags=re.S)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", html))).strip()
