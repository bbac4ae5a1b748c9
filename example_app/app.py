"""The app factory: config, the app's own DB, billingos via billingos_flask, the catalog, the views."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, g, session

from billingos_flask import BillingOS

from .catalog import CATALOG_PATH, sync_catalog
from .csrf import init_csrf
from .models import User, make_sessions
from .views import bp


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """``config`` may set ``INSTANCE_PATH`` (where example.db and the emulator state live), any Flask
    key, any ``BILLINGOS_*`` key, and ``CATALOG_PATH``."""
    config = dict(config or {})
    instance = config.pop("INSTANCE_PATH", None)
    app = Flask(__name__, instance_path=str(Path(instance).resolve()) if instance else None)
    os.makedirs(app.instance_path, exist_ok=True)
    db_url = f"sqlite:///{Path(app.instance_path) / 'example.db'}"
    app.config.update(
        SECRET_KEY=_secret_key(Path(app.instance_path)),
        DATABASE_URL=db_url,
        CATALOG_PATH=str(CATALOG_PATH),
        # billingos and the app share one database; Stripe answers from the emulator, whose state is
        # saved next to the DB so both survive a restart together.
        BILLINGOS_DATABASE_URL=db_url,
        BILLINGOS_STRIPE_EMULATOR=True,
        BILLINGOS_EMULATOR_STATE_PATH=str(Path(app.instance_path) / "stripe_emulator.json"),
    )
    app.config.update(config)
    app.extensions["example_app.db"] = make_sessions(app.config["DATABASE_URL"])
    ext = BillingOS(app)
    ext.customer_loader(_current_owner_id)
    billing = ext.billing_for(app)
    billing.migrate()
    sync_catalog(billing, app.config["CATALOG_PATH"])
    init_csrf(app)
    app.before_request(_load_user)
    app.register_blueprint(bp)
    return app


def _secret_key(instance: Path) -> str:
    """Kept in the instance dir so logins survive a restart of the dev server."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _load_user() -> None:
    from flask import current_app
    user_id = session.get("user_id")
    g.user = None
    if isinstance(user_id, int):
        with current_app.extensions["example_app.db"]() as db:
            g.user = db.get(User, user_id)


def _current_owner_id() -> str | None:
    return g.user.owner_id if g.get("user") is not None else None
