"""Emails: rendered from the templates (escaped, formatted for people, no raw ids), sent once per message
key on the job primitive, retried after a failing mailer, and never twice with concurrent workers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billingos import Billing
from billingos.domain_events import UsageThresholdReached
from billingos.errors import InvalidInputError
from billingos.jobs import BillingJob
from billingos.notifications import TEMPLATES, EmailMessage, OutboxMailer

QUEUE = "notifications.send"

SAMPLES: dict[str, dict[str, Any]] = {
    "trial_ending": {"plan": "Pro", "trial_end": "2026-02-01T12:00:00+00:00", "amount": 3000, "currency": "usd",
                     "has_payment_method": False},
    "payment_failed": {"amount": 3000, "currency": "usd", "invoice_number": "ACME-0002", "plan": "Pro",
                       "decline_reason": "insufficient funds"},
    "retry_scheduled": {"amount": 3000, "currency": "usd", "invoice_number": "ACME-0002", "retry": 2, "retries": 3,
                        "retry_at": "2026-02-20T12:00:00+00:00", "access_until": "2026-02-25T12:00:00+00:00"},
    "payment_recovered": {"amount": 3000, "currency": "usd", "invoice_number": "ACME-0002"},
    "dunning_exhausted": {"amount": 3000, "currency": "usd", "invoice_number": "ACME-0002", "outcome": "unpaid",
                          "attempts": 4},
    "usage_threshold": {"meter_name": "API calls", "threshold": 90, "used": 9000, "limit": 10000,
                        "period_end": "2026-03-01T00:00:00+00:00"},
    "upgrade_suggestion": {"reason": "You used 95% of your API calls.", "suggested_plan": "Team",
                           "suggested_amount": 9000, "current_amount": 12500, "savings": 3500, "currency": "usd"},
    "churn_risk_alert": {"customer_email": "ada@example.com", "risk": 0.734, "mrr": 3000, "currency": "usd",
                         "reasons": ["usage fell 70% in the last 7 days", "2 failed payments"]},
}
EXPECTED_SUBJECTS = {
    "trial_ending": "Your Acme trial ends on February 1, 2026",
    "payment_failed": "Your payment of $30.00 failed",
    "retry_scheduled": "We will retry your payment of $30.00 on February 20, 2026",
    "payment_recovered": "Payment received: $30.00, thank you",
    "dunning_exhausted": "Your Acme subscription is unpaid",
    "usage_threshold": "You have used 90% of your API calls this period",
    "upgrade_suggestion": "Team would suit you better",
    "churn_risk_alert": "Churn risk: <Ada> & co (73%)",
}


@pytest.fixture
def outbox() -> OutboxMailer:
    return OutboxMailer()


@pytest.fixture
def mailing(engine: Any, emulator: Any, clock: Any, outbox: OutboxMailer) -> Billing:
    from tests.conftest import WEBHOOK_SECRET
    b = Billing(engine=engine, emulator=emulator, clock=clock, webhook_secrets=[WEBHOOK_SECRET], mailer=outbox,
                email_from="billing@acme.test", email_brand="Acme", portal_url="https://app.acme.test/billing")
    yield b
    b.close()


def _jobs(b: Billing) -> list[Any]:
    return b.jobs.list(queue=QUEUE, limit=1000)


def test_every_template_renders_escaped_and_formatted(mailing: Billing) -> None:
    assert set(SAMPLES) == set(TEMPLATES)
    for name in TEMPLATES:
        ctx = {**SAMPLES[name], "customer_name": "<Ada> & co", "action_url": "https://app.acme.test/billing"}
        m = mailing.notifications.render(name, ctx)
        assert m.subject == EXPECTED_SUBJECTS[name], name
        assert "\n" not in m.subject
        assert "&lt;Ada&gt; &amp; co" in m.html and "<Ada>" not in m.html, name       # autoescaped
        assert "<Ada> & co" in m.text or name == "churn_risk_alert", name              # plain text as is
        assert 'href="https://app.acme.test/billing"' in m.html and m.html.startswith("<!doctype html>")
        assert "None" not in m.text and "None" not in m.html, name
    m = mailing.notifications.render("churn_risk_alert", {**SAMPLES["churn_risk_alert"], "customer_name": "Ada"})
    assert "- usage fell 70% in the last 7 days\n- 2 failed payments" in m.text and "$30.00 MRR" in m.text
    m = mailing.notifications.render("usage_threshold", SAMPLES["usage_threshold"])
    assert "9,000 of 10,000 API calls (90%)" in m.text and "March 1, 2026" in m.text
    m = mailing.notifications.render("payment_recovered", {**SAMPLES["payment_recovered"], "amount": 500,
                                                           "currency": "jpy"})
    assert m.subject == "Payment received: ¥500, thank you"


def test_send_is_once_per_key_and_bad_input_writes_nothing(mailing: Billing, outbox: OutboxMailer) -> None:
    n = mailing.notifications
    assert n.send("payment_recovered", to="ada@example.com", context=SAMPLES["payment_recovered"], key="k1")
    assert not n.send("payment_recovered", to="ada@example.com", context=SAMPLES["payment_recovered"], key="k1")
    assert [m.idempotency_key for m in outbox.messages] == ["k1"]
    sent = outbox.messages[0]
    assert (sent.sender, sent.to, sent.headers["Idempotency-Key"]) == ("billing@acme.test", "ada@example.com", "k1")
    bad: list[tuple[str, dict[str, Any]]] = [
        ("template", {"template": "nope"}), ("to", {"to": "not-an-address"}), ("key", {"key": "has space"}),
        ("context", {"context": {"amount": 1}}), ("context", {"context": "text"}),
    ]
    for param, change in bad:
        args = {"template": "payment_recovered", "to": "ada@example.com", "context": SAMPLES["payment_recovered"],
                "key": "k2", **change}
        with pytest.raises(InvalidInputError) as err:
            n.send(args.pop("template"), **args)
        assert err.value.param == param
    assert len(_jobs(mailing)) == 1 and len(outbox.messages) == 1
    with pytest.raises(InvalidInputError):
        n.configure(disabled=["nope"])
    n.configure(disabled=["payment_recovered"])
    assert not n.send("payment_recovered", to="ada@example.com", context=SAMPLES["payment_recovered"], key="k3")
    assert len(outbox.messages) == 1


class FlakyMailer:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.messages: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("SMTP server said 421: try again later")
        self.messages.append(message)


def test_a_failing_mailer_is_retried_with_backoff(mailing: Billing, clock: Any) -> None:
    flaky = FlakyMailer(failures=2)
    mailing.notifications.mailer = flaky
    mailing.notifications.send("payment_recovered", to="ada@example.com", context=SAMPLES["payment_recovered"],
                               key="recovered:in_1")
    job = mailing.jobs.get(QUEUE, "recovered:in_1")
    assert job is not None and (job.status, job.attempts) == ("failed", 1) and "421" in (job.last_error or "")
    assert mailing.jobs.retry_due() == 0                   # backing off: not due yet
    clock.advance(timedelta(minutes=1, seconds=1))
    mailing.jobs.retry_due()
    assert mailing.jobs.get(QUEUE, "recovered:in_1").attempts == 2 and flaky.messages == []   # type: ignore[union-attr]
    clock.advance(timedelta(minutes=2, seconds=1))
    mailing.jobs.retry_due()
    done = mailing.jobs.get(QUEUE, "recovered:in_1")
    assert done is not None and (done.status, done.result, done.attempts) == ("done", "sent", 3)
    assert [m.idempotency_key for m in flaky.messages] == ["recovered:in_1"] and flaky.calls == 3
    clock.advance(timedelta(hours=1))
    mailing.jobs.retry_due()
    assert flaky.calls == 3


def test_domain_events_send_each_email_once(mailing: Billing, outbox: OutboxMailer) -> None:
    c = mailing.customers.create(owner_id="org_u", email="u@example.com", name="Uma")
    start = datetime(2026, 1, 15, tzinfo=UTC)
    event = UsageThresholdReached("org_u", "api_calls", 90, 1000, 900, start, start + timedelta(days=31))
    for _ in range(3):      # a replayed or duplicated fact
        with mailing.transaction() as s:
            mailing.events.publish(s, event)
    with pytest.raises(RuntimeError), mailing.transaction() as s:      # rolled back: nothing is sent
        mailing.events.publish(s, UsageThresholdReached("org_u", "api_calls", 100, 1000, 1000, start,
                                                        start + timedelta(days=31)))
        raise RuntimeError("the host's transaction failed")
    assert [(m.template, m.to) for m in outbox.messages] == [("usage_threshold", "u@example.com")]
    m = outbox.messages[0]
    assert "Hello Uma," in m.text and "900 of 1,000 api calls (90%)" in m.text and "February 15, 2026" in m.text
    assert c.id not in m.text + m.html and "https://app.acme.test/billing" in m.html


def test_trial_ending_email_once(mailing: Billing, outbox: OutboxMailer) -> None:
    v1 = mailing.stripe.v1
    prod = v1.products.create(params={"name": "Pro"})
    v1.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": 3000,
                             "recurring": {"interval": "month"}, "lookup_key": "pro_monthly"})
    mailing.testing.connect()
    c = mailing.customers.create(owner_id="org_t", email="t@example.com")
    mailing.subscriptions.create(c, price="pro_monthly", trial_days=14)
    mailing.testing.advance(days=11, hours=1)
    mailing.testing.advance(days=1)
    sent = outbox.sent("trial_ending")
    assert len(sent) == 1 and sent[0].subject == "Your Acme trial ends on January 29, 2026"
    assert "Add a payment method" in sent[0].text and "Your Pro trial" in sent[0].text


@pytest.mark.postgres
def test_concurrent_workers_never_send_twice(engine: Any, emulator: Any, clock: Any) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent workers are checked on PostgreSQL")
    outbox = OutboxMailer()
    b = Billing(engine=engine, emulator=emulator, clock=clock, mailer=outbox)
    b.tasks.deferred = True                       # hold the inline trigger: the workers below do the sending
    try:
        for i in range(300):
            b.notifications.send("payment_recovered", to=f"c{i}@example.com", context=SAMPLES["payment_recovered"],
                                 key=f"recovered:{i}")
        b.tasks.queued.clear()
        start = threading.Barrier(4)
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                start.wait()
                while b.jobs.run(QUEUE, limit=7):
                    pass
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        keys = [m.idempotency_key for m in outbox.messages]
        assert len(keys) == 300 and len(set(keys)) == 300
        with b.session_factory() as s:
            from sqlalchemy import func, select
            rows = s.execute(select(BillingJob.status, func.count()).where(BillingJob.queue == QUEUE)
                             .group_by(BillingJob.status)).all()
        assert dict(rows) == {"done": 300}
    finally:
        b.close()
