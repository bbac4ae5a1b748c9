"""The app factory: config, the app's own DB, billingos via billingos_flask, huey, the catalog, the views."""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, g, session
from huey import MemoryHuey

from billingos import Billing
from billingos_flask import CONFIG_DEFAULTS, BillingOS

from .catalog import CATALOG_PATH, sync_catalog
from .csrf import init_csrf
from .demo import demo_billing, init_demo
from .gated import bp as gated_bp
from .models import User, make_sessions
from .plans import money
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
        # The plan, invoice and card pages are billingos's customer portal at /billing/portal/.
        BILLINGOS_LOGIN_URL="/login",
        BILLINGOS_RETURN_URL="/account",
    )
    app.config.update(config)
    for key, default in CONFIG_DEFAULTS.items():
        app.config.setdefault(key, default)
    app.extensions["example_app.db"] = make_sessions(app.config["DATABASE_URL"])
    # Demo mode (the emulator): a FrozenClock kept in the instance dir, and the emulator's webhooks
    # delivered to this app's own /billing/webhooks. Against real Stripe: BILLINGOS_* config only.
    demo = bool(app.config["BILLINGOS_STRIPE_EMULATOR"])
    ext = BillingOS(app, billing=demo_billing(app)) if demo else BillingOS(app)
    ext.customer_loader(_current_owner_id)
    billing = ext.billing_for(app)
    billing.migrate()
    app.extensions["example_app.huey"] = _huey(billing)
    init_csrf(app)   # billingos's routes are exempt: webhooks are signed, its pages carry their own tokens
    app.before_request(_load_user)
    app.register_blueprint(bp)
    app.register_blueprint(gated_bp)
    app.add_template_filter(money, "money")
    app.add_template_filter(_date, "date")
    app.jinja_env.globals["demo_mode"] = False
    if demo:
        init_demo(app, billing)
    sync_catalog(billing, app.config["CATALOG_PATH"])   # last: its webhooks reach a fully set-up app
    return app


def _huey(billing: Billing) -> MemoryHuey:
    """The host's task queue. The demo runs huey in immediate mode: each task runs inline when it is
    enqueued, so no consumer process is needed. In production use RedisHuey and run
    ``huey_consumer`` workers; the same ``register_tasks`` call adds billingos's jobs to it."""
    huey = MemoryHuey("example_app", immediate=True)
    billing.register_tasks(huey)
    return huey


def _date(value: datetime | None) -> str:
    return "—" if value is None else f"{value:%d %b %Y}"


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
