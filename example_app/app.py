"""The Flask app factory: config, the app's own DB, billingos via billingos_flask, huey, the catalog, the pages.

The product itself (accounts, links, the metered API) is ``example_app.domain`` and its HTML pages are
``example_app.pages``, both shared with the FastAPI app; this module, ``views.py`` (the pages) and
``shelf.py`` (the links API) only turn Flask's requests into calls on them."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, g, session
from huey import MemoryHuey

from billingos import Billing
from billingos_flask import CONFIG_DEFAULTS, BillingOS

from .catalog import CATALOG_PATH, sync_catalog
from .demo import emulator_billing
from .domain import Linkshelf, connect_signals
from .models import make_sessions
from .shelf import bp as api_bp
from .views import on_feature_denied, register_pages

DEFAULT_INSTANCE = Path(__file__).resolve().parent.parent / "instance"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """``config`` may set ``INSTANCE_PATH`` (where example.db and the emulator state live), any Flask
    key, any ``BILLINGOS_*`` key, and ``CATALOG_PATH``."""
    config = dict(config or {})
    instance = Path(config.pop("INSTANCE_PATH", None) or DEFAULT_INSTANCE).resolve()
    app = Flask(__name__, instance_path=str(instance))
    os.makedirs(app.instance_path, exist_ok=True)
    db_url = f"sqlite:///{Path(app.instance_path) / 'example.db'}"
    app.config.update(
        SECRET_KEY=_secret_key(Path(app.instance_path)),
        DATABASE_URL=db_url,
        CATALOG_PATH=str(CATALOG_PATH),
        MAX_CONTENT_LENGTH=1024 * 1024,          # the product's forms and API bodies are small
        # billingos and the app share one database; Stripe answers from the emulator, whose state is
        # saved next to the DB so both survive a restart together.
        BILLINGOS_DATABASE_URL=db_url,
        BILLINGOS_STRIPE_EMULATOR=True,
        BILLINGOS_EMULATOR_STATE_PATH=str(Path(app.instance_path) / "stripe_emulator.json"),
        # The plan, invoice and card pages are billingos's customer portal at /billing/portal/.
        BILLINGOS_LOGIN_URL="/login",
        BILLINGOS_RETURN_URL="/app",
    )
    app.config.update(config)
    for key, default in CONFIG_DEFAULTS.items():
        app.config.setdefault(key, default)
    sessions = make_sessions(app.config["DATABASE_URL"])
    # Demo mode (the emulator): a FrozenClock kept in the instance dir, and the emulator's webhooks
    # delivered to this app's own /billing/webhooks. Against real Stripe: BILLINGOS_* config only.
    demo = bool(app.config["BILLINGOS_STRIPE_EMULATOR"])
    ext = BillingOS(app, billing=emulator_billing(instance, app.config)) if demo else BillingOS(app)
    ext.customer_loader(_current_owner_id)
    ext.admin_loader(_current_admin)
    ext.feature_denied_handler(on_feature_denied)
    billing = ext.billing_for(app)
    billing.migrate()
    app.extensions["linkshelf"] = Linkshelf(sessions, billing)
    app.extensions["linkshelf.hooks"] = connect_signals(billing)
    app.extensions["example_app.huey"] = _huey(billing)
    app.before_request(_load_user)
    register_pages(app, demo=demo)     # each form checks its CSRF token; billingos's pages check their own
    app.register_blueprint(api_bp)
    if demo:
        # The emulator's webhooks go through this app's own POST /billing/webhooks (the whole Flask stack:
        # the signature check, the huey task), as Stripe's would over the internet.
        billing.testing.connect(app)
    sync_catalog(billing, app.config["CATALOG_PATH"])   # last: its webhooks reach a fully set-up app
    return app


def _huey(billing: Billing) -> MemoryHuey:
    """The host's task queue, with billingos's jobs registered on it. It starts in immediate mode (each
    task runs inline when enqueued: tests, seeding); ``python -m example_app`` then turns that off and runs
    a consumer in a thread (``example_app.worker``). In production use RedisHuey and run ``huey_consumer``
    as its own process: the same ``register_tasks`` call adds billingos's jobs to it."""
    huey = MemoryHuey("linkshelf", immediate=True)
    billing.register_tasks(huey)
    return huey


def _secret_key(instance: Path) -> str:
    """Kept in the instance dir so logins survive a restart of the dev server."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _load_user() -> None:
    from flask import current_app
    g.user = current_app.extensions["linkshelf"].user(session.get("user_id"))


def _current_owner_id() -> str | None:
    return g.user.owner_id if g.get("user") is not None else None


def _current_admin() -> str | None:
    """billingos's admin pages are shown to Linkshelf's staff only."""
    user = g.get("user")
    return user.email if user is not None and user.is_admin else None

