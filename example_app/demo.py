"""Demo mode (the Stripe emulator is on): a persisted FrozenClock, webhooks through the app's own
route, and the "Demo tools" page that moves time and swaps in a failing card.

Nothing here is needed against real Stripe: there, Stripe's own clock runs, Stripe POSTs webhooks to
``/billing/webhooks`` over the internet, and the Dashboard is where you poke at things.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from billingos import Billing, FrozenClock
from billingos.emulator import Emulator
from billingos_flask import current_billing

from .plans import attach_card, login_required

#: Signs the emulator's webhooks in demo mode (a BILLINGOS_WEBHOOK_SECRETS entry comes first when set).
DEMO_WEBHOOK_SECRET = "whsec_example_app_demo_only"
LEGACY_ENDPOINT_TAG = {"example_app": "in_process"}   # the endpoint older instance/ dirs carry
ADVANCE_DAYS = {1: "1 day", 7: "1 week", 31: "1 month"}
FAILING_CARD = "pm_card_chargeCustomerFail"   # attaches fine, then every charge is declined

bp = Blueprint("demo", __name__, url_prefix="/demo")


class DemoClock(FrozenClock):
    """A FrozenClock whose time is kept in a small file, so a restart resumes the demo's "now"
    (the emulator's state and the database in the same instance dir were written at that time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        start = datetime.fromisoformat(path.read_text().strip()) if path.exists() else None
        super().__init__(start)
        self._save()

    def set(self, when: datetime) -> datetime:
        now = super().set(when)
        self._save()
        return now

    def advance(self, delta: timedelta | None = None, **kw: float) -> datetime:
        now = super().advance(delta, **kw)
        self._save()
        return now

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(self.now().isoformat())
        os.replace(tmp, self.path)


def demo_billing(app: Flask) -> Billing:
    """The emulator on a DemoClock, its state saved in the instance dir. Its webhooks are signed with the
    first configured secret, as a Stripe Dashboard endpoint's would be (see :func:`init_demo`)."""
    return emulator_billing(Path(app.instance_path), app.config)


def emulator_billing(instance: Path, cfg: Any) -> Billing:
    """``demo_billing`` for any framework: ``cfg`` is a mapping of ``BILLINGOS_*`` keys."""
    clock = DemoClock(instance / "demo_clock.txt")
    emulator = Emulator(clock=clock, state_path=cfg.get("BILLINGOS_EMULATOR_STATE_PATH")
                        or str(instance / "stripe_emulator.json"))
    _forget_legacy_endpoint(emulator)
    secrets = _as_list(cfg.get("BILLINGOS_WEBHOOK_SECRETS")) or [DEMO_WEBHOOK_SECRET]
    return Billing(database_url=cfg.get("BILLINGOS_DATABASE_URL") or f"sqlite:///{instance / 'example.db'}",
                   emulator=emulator, clock=clock,
                   webhook_secrets=secrets,
                   webhook_tolerance=cfg.get("BILLINGOS_WEBHOOK_TOLERANCE", 300),
                   redis_url=cfg.get("BILLINGOS_REDIS_URL"),
                   default_currency=cfg.get("BILLINGOS_DEFAULT_CURRENCY", "usd"),
                   mailer=cfg.get("BILLINGOS_MAILER"), email_from=cfg.get("BILLINGOS_EMAIL_FROM"))


def _forget_legacy_endpoint(emulator: Emulator) -> None:
    """Instance dirs from before ``billing.testing.connect(app)`` hold an endpoint of their own: remove it,
    or it would get every event a second time."""
    client = emulator.client()
    for endpoint in client.v1.webhook_endpoints.list(params={"limit": 100}).data:
        if endpoint.to_dict().get("metadata") == LEGACY_ENDPOINT_TAG:
            client.v1.webhook_endpoints.delete(endpoint.id)


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [s.strip() for s in value.split(",") if s.strip()]
    return list(value or [])


# --- the Demo tools page ---------------------------------------------------------------------------
@bp.before_request
def _emulator_only() -> None:
    if current_billing.emulator is None:
        abort(404)


@bp.get("/")
@login_required
def tools() -> str:
    return render_template("demo.html", now=current_billing.now(), days=ADVANCE_DAYS)


@bp.post("/advance")
@login_required
def advance() -> Response | tuple[str, int]:
    days = request.form.get("days", "")
    if not (days.isascii() and days.isdigit()) or int(days) not in ADVANCE_DAYS:
        error = f"Pick one of the buttons: advance by {', '.join(ADVANCE_DAYS.values())}."
        return render_template("demo.html", now=current_billing.now(), days=ADVANCE_DAYS, error=error), 400
    now = current_billing.testing.advance(days=int(days))
    flash(f"Time moved {ADVANCE_DAYS[int(days)]} forward: it is now {now:%d %b %Y, %H:%M} UTC.")
    return redirect(url_for("demo.tools"), 303)


@bp.post("/failing-card")
@login_required
def failing_card() -> Response:
    card = attach_card(current_billing, g.user.owner_id, FAILING_CARD)
    flash(f"Your default card is now {card}, which Stripe declines: the next charge fails and dunning starts.")
    return redirect(url_for("demo.tools"), 303)


def init_demo(app: Flask, billing: Billing) -> None:
    # The emulator's webhooks go through this app's own POST /billing/webhooks (the whole Flask stack:
    # CSRF exemption, signature check, huey task), as Stripe's would over the internet.
    billing.testing.connect(app)
    app.register_blueprint(bp)
    app.jinja_env.globals["demo_mode"] = True
