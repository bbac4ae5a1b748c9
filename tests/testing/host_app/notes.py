"""A tiny host app (a notes service) that bills with billingos: what the plugin's fixtures are tested on."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from billingos import Billing
from billingos_flask import BillingOS, current_billing, current_owner_id, requires_feature


def create_app(billing: Billing) -> Flask:
    app = Flask(__name__)
    ext = BillingOS(app, billing=billing)
    app.config["SEEN"] = []

    @ext.customer_loader
    def owner() -> str | None:
        return request.headers.get("X-Org")

    @app.before_request
    def record() -> None:
        app.config["SEEN"].append(f"{request.method} {request.path}")

    @app.get("/export")
    @requires_feature("export")
    def export() -> Any:
        return {"rows": 3}

    @app.post("/notes")
    def add_note() -> Any:
        owner = current_owner_id()
        if owner is None:
            return {"error": "login"}, 401
        check = current_billing.check(owner, "api_calls")
        if not check.allowed:
            return {"error": "quota"}, 429
        return {"remaining": check.remaining}, 201

    return app
