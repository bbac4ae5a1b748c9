"""Fixtures for the example app's pages: a fresh app in a temp instance dir, and form helpers."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from billingos import Billing
from example_app import create_app

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


def token(client: FlaskClient, page: str = "/app") -> str:
    match = TOKEN.search(client.get(page).get_data(as_text=True))
    assert match is not None, f"no CSRF token on {page}"
    return match.group(1)


def post(client: FlaskClient, path: str, page: str = "/app", **form: str) -> TestResponse:
    """POST the way a browser does: with the token of the page that shows the form."""
    return client.post(path, data={"csrf_token": token(client, page), **form})


PASSWORD = "correct horse battery"


def signup(client: FlaskClient, name: str = "ada", *, email: str | None = None,
           password: str = PASSWORD) -> TestResponse:
    return post(client, "/signup", page="/signup", name=name, email=email or f"{name}@example.com", password=password)


def login(client: FlaskClient, email: str = "ada@example.com", password: str = PASSWORD,
          path: str = "/login") -> TestResponse:
    return post(client, path, page="/login", email=email, password=password)


def owner_of(app: Flask, email: str = "ada@example.com") -> str:
    from sqlalchemy import select

    from example_app.models import User
    with app.extensions["linkshelf"].sessions() as db:
        return str(db.scalars(select(User.owner_id).where(User.email == email)).one())


def text(response: TestResponse) -> str:
    """The page's text with tags removed and whitespace collapsed: what a reader sees."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", html))).strip()
