"""The host app's own conftest: it only says where its catalog is and builds its app on the plugin's billing."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from notes import create_app

from billingos import Billing


@pytest.fixture
def billing_catalog() -> Path:
    return Path(__file__).parent / "catalog.toml"


@pytest.fixture
def app(billing: Billing, deliver_webhooks) -> Flask:
    app = create_app(billing)
    deliver_webhooks(app)          # the emulator's webhooks now go through POST /billing/webhooks
    return app
