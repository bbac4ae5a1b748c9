"""The host logic the example shows: signals (a welcome email through the configured mailer, a log line on
churn risk), the huey consumer in a thread, and ``python -m example_app``'s --seed-only / --fresh."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from flask import Flask

from billingos import Billing, signals
from billingos.notifications import OutboxMailer
from billingos.testing import Factory
from example_app import create_app
from example_app.bootstrap import is_new
from example_app.domain import DEMO_PASSWORD

from .conftest import signup


def test_a_welcome_email_goes_out_once_when_a_subscription_becomes_active(tmp_path: Path) -> None:
    outbox = OutboxMailer()
    app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "TESTING": True, "BILLINGOS_MAILER": outbox,
                      "BILLINGOS_EMAIL_FROM": "hello@linkshelf.example"})
    billing: Billing = app.extensions["billingos"].billing_for(app)
    signup(app.test_client(), "ada")                 # a trial: not active yet, no welcome
    assert outbox.sent("linkshelf_welcome") == []
    Factory(billing).subscription(Factory(billing).customer("org_paying", email="pay@example.com",
                                                            name="Pay Ing"), price="pro_monthly")
    [message] = outbox.sent("linkshelf_welcome")
    assert (message.to, message.subject, message.sender) == ("pay@example.com", "Welcome to Linkshelf",
                                                             "hello@linkshelf.example")
    assert "Hi Pay Ing" in message.text and message.idempotency_key.startswith("welcome:sub_")

    app.extensions["linkshelf.hooks"].muted = True   # the demo's seeding greets nobody
    Factory(billing).subscription(price="pro_monthly")
    assert len(outbox.sent("linkshelf_welcome")) == 1


def test_churn_risk_is_logged_by_the_host(app: Flask, billing: Billing, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="example_app"):
        signals.churn_risk_detected.send(billing, owner_id="usr_x", score=0.82, threshold=0.5,
                                         reasons=["no logins for 30 days", "downgraded"], insight_id=1)
    assert "churn risk 82% for usr_x: no logins for 30 days; downgraded" in caplog.text
    other = Billing(database_url="sqlite://", stripe_emulator=True)   # another Billing: not this app's signals
    try:
        caplog.clear()
        signals.churn_risk_detected.send(other, owner_id="usr_y", score=0.9, threshold=0.5, reasons=[], insight_id=2)
        assert "usr_y" not in caplog.text
    finally:
        other.close()


def test_the_huey_consumer_thread_processes_billingos_jobs(app: Flask, billing: Billing) -> None:
    from example_app.worker import start_consumer, stop_consumer
    huey = app.extensions["example_app.huey"]
    signup(app.test_client(), "ada")
    [sub] = billing.subscriptions.list(billing.customers.list().items[0].owner_id)
    consumer = start_consumer(huey, workers=1)
    try:
        assert huey.immediate is False
        billing.emulator.client().v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not billing.subscriptions.get(sub.id).cancel_at_period_end:
            time.sleep(0.1)                          # the webhook's processing runs on the consumer's thread
        assert billing.subscriptions.get(sub.id).cancel_at_period_end is True
    finally:
        stop_consumer(consumer)


def test_seed_only_seeds_a_new_instance_and_exits(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from example_app import __main__ as entry
    monkeypatch.delenv("PORT", raising=False)
    served: list[Flask] = []
    monkeypatch.setattr(entry, "serve", lambda app, port: served.append(app))
    instance = tmp_path / "instance"
    assert entry.main(["--seed-only", "--customers", "6", "--months", "3", "--instance", str(instance)]) == 0
    out = capsys.readouterr().out
    assert "Seeded 6 customers in" in out and served == []
    summary = json.loads((instance / "seeded.json").read_text())
    assert (summary["customers"], summary["users"], summary["months"]) == (6, 6, 3)

    assert entry.main(["--instance", str(instance)]) == 0        # a later start serves what is there
    [app] = served
    billing = app.extensions["billingos"].billing_for(app)
    assert len(billing.customers.list().items) == 6      # 3 months in, some already pay
    shelf = app.extensions["linkshelf"]
    demo = shelf.demo_customer()
    assert demo is not None and len(shelf.links(demo)) >= 3
    assert shelf.authenticate(demo.email, DEMO_PASSWORD).id == demo.id       # the seeded users' demo password
    billing.close()

    assert entry.main(["--fresh", "--instance", str(instance)]) == 0   # --fresh: empty again, nothing seeded
    fresh = served[-1]
    assert fresh.extensions["billingos"].billing_for(fresh).customers.list().items == []
    assert not (instance / "seeded.json").exists() and not is_new(instance)
    fresh.extensions["billingos"].billing_for(fresh).close()


@pytest.mark.parametrize("args", [["--customers", "0"], ["--customers", "abc"], ["--months", "999"],
                                  ["--fresh", "--seed-only"], ["--nope"]])
def test_bad_arguments_exit_2(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from example_app import __main__ as entry
    monkeypatch.delenv("PORT", raising=False)
    with pytest.raises(SystemExit) as exit_:
        entry.main(args)
    assert exit_.value.code == 2
