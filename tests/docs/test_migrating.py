"""docs/migrating.md runs as written (issue 14): a "legacy" app is built first with the plain stripe SDK
against the emulator (a product, a price without a lookup key, two paying users with customers and active
subscriptions, a free user, and the app's own users table in app.db); then the page's ```python blocks,
in order, run as one program in that folder. The result is checked from outside: the price adopted (not
re-created), customers linked to the app's user ids, subscriptions and invoices mirrored with their owner,
entitlements answering by plan, the revenue ledger posted, and a change made in Stripe arriving through
the app's own webhook route. Each ``print(...)  # comment`` line must print what its comment says."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import stripe as stripe_sdk
from sqlalchemy import func, select

from billingos.clock import FrozenClock
from billingos.emulator import Emulator
from billingos.invoices.models import BillingInvoice

from .test_quickstarts import _documented_outputs, _run

PAGE = Path(__file__).resolve().parents[2] / "docs" / "migrating.md"
LEGACY_HOOK = "https://app.example.com/stripe/webhook"    # the old glue's endpoint, still registered
USERS = [(42, "a@acme.co", {"user_id": "42"}), (43, "b@beta.io", {})]   # one already carries an id, one not


def _legacy_app(folder: Path) -> dict[str, Any]:
    """What hand-written glue leaves behind: Stripe objects made with the SDK, ids in the app's own table."""
    ten_days_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)    # before reconcile's window
    stripe = Emulator(state_path=folder / "stripe_emulator.json", clock=FrozenClock(ten_days_ago)).client()
    product = stripe.v1.products.create(params={"id": "prod_pro", "name": "Pro plan"})
    price = stripe.v1.prices.create(params={"product": product.id, "unit_amount": 2900, "currency": "usd",
                                            "recurring": {"interval": "month"}})
    legacy_endpoint = stripe.v1.webhook_endpoints.create(params={"url": LEGACY_HOOK, "enabled_events": ["*"]})
    db = sqlite3.connect(folder / "app.db")
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, stripe_customer_id TEXT, plan TEXT)")
    customers, subscriptions = {}, {}
    for user_id, email, metadata in USERS:
        customer = stripe.v1.customers.create(params={"email": email, "metadata": metadata,
                                                      "payment_method": "pm_card_visa"})
        card = stripe.v1.payment_methods.list(params={"customer": customer.id}).data[0].id
        stripe.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card}})
        sub = stripe.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})
        assert sub.status == "active"
        db.execute("INSERT INTO users VALUES (?, ?, ?, 'pro')", (user_id, email, customer.id))
        customers[str(user_id)], subscriptions[str(user_id)] = customer.id, sub.id
    db.execute("INSERT INTO users VALUES (44, 'c@free.dev', NULL, 'free')")
    db.commit()
    db.close()
    return {"price": price.id, "customers": customers, "subscriptions": subscriptions,
            "endpoint": legacy_endpoint.id, "endpoint_secret": legacy_endpoint.secret}


def test_the_migration_guide_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    legacy = _legacy_app(tmp_path)
    monkeypatch.setenv("STRIPE_PRICE_PRO", legacy["price"])
    ns, printed = _run(PAGE, tmp_path, monkeypatch)
    billing, app = ns["billing"], ns["app"]
    try:
        documented = _documented_outputs(PAGE)
        assert len(printed) == len(documented) == 12, printed
        for out, says in zip(printed, documented, strict=True):
            assert says is None or says.startswith(out), (out, says)
        # the existing product and price were adopted, not re-created
        price = billing.catalog.price("pro_monthly")
        assert (price.id, price.unit_amount) == (legacy["price"], 2900)
        assert billing.catalog.product("pro").id == "prod_pro"
        assert [p.id for p in billing.stripe.v1.prices.list(params={"product": "prod_pro"}).data] == [legacy["price"]]
        assert [f.feature_key for f in billing.catalog.plan_features("pro")] == ["export"]
        # each Stripe customer linked to its user, the existing metadata kept
        for user_id, customer_id in legacy["customers"].items():
            customer = billing.customers.get(owner_id=user_id)
            assert customer.id == customer_id
            assert billing.stripe.v1.customers.retrieve(customer_id).metadata["billingos_owner_id"] == user_id
        assert billing.customers.get(owner_id="42").metadata["user_id"] == "42"
        # subscriptions mirrored with their owner, on the legacy price; invoices too
        [sub42] = billing.subscriptions.list("42")
        assert (sub42.id, sub42.status, sub42.items[0].price) == (legacy["subscriptions"]["42"], "active",
                                                                   legacy["price"])
        assert sub42.cancel_at_period_end                          # the guide's /cancel route ran
        [sub43] = billing.subscriptions.list("43")
        assert (sub43.id, sub43.status, sub43.cancel_at_period_end) == (legacy["subscriptions"]["43"], "active",
                                                                         False)
        for owner in ("42", "43"):
            [invoice] = billing.invoices.list(owner)
            assert (invoice.status, invoice.amount_paid, invoice.owner_id) == ("paid", 2900, owner)
        with billing.session_factory() as s:
            assert s.scalar(select(func.count()).select_from(BillingInvoice)
                            .where(BillingInvoice.owner_id.is_(None))) == 0
        # linked through customers.link_many: one audit entry each, by the system
        linked = [e for e in billing.audit.list().items if e.action == "customer.linked"]
        assert sorted((e.target_id, e.owner_id, e.actor_kind) for e in linked) == sorted(
            (c, o, "system") for o, c in legacy["customers"].items())
        # the cards saved ten days ago (before the event window), imported by link and reconcile, default marked
        for owner, customer_id in legacy["customers"].items():
            [card] = billing.payment_methods.list(owner)
            assert (card.customer, card.last4, card.default) == (customer_id, "4242", True)
        # entitlements answer by plan: both paying users, not the free one
        assert [billing.has_feature(o, "export") for o in ("42", "43", "44")] == [True, True, False]
        assert billing.analytics.mrr().amount == 5800
        # the app's route gates by entitlement, and Stripe's changes arrive through the app's webhook route
        client = app.test_client()
        with client.session_transaction() as s:
            s["user_id"] = 44
        assert client.get("/export").status_code == 403
        assert billing.testing.url == "http://testserver/billing/webhooks"
        ours = [a for a in billing.emulator.webhooks.log if a.endpoint_id == billing.testing.endpoint_id]
        assert ours and {a.status for a in ours} == {200}
        assert billing.customers.get(owner_id="43").name == "Beta Ltd"
        # step 6: both endpoints run in parallel, each verifying its own secret; billingos applies each event once
        legacy_seen: list[str] = []

        def legacy_handler(body: bytes, headers: dict[str, str]) -> int:
            event = stripe_sdk.Webhook.construct_event(body, headers["Stripe-Signature"], legacy["endpoint_secret"])
            legacy_seen.append(event.id)
            return 200

        billing.emulator.webhooks.connect(LEGACY_HOOK, legacy_handler)
        before = {a.event_id for a in billing.emulator.webhooks.log}
        billing.stripe.v1.customers.update(legacy["customers"]["42"], params={"name": "Acme Inc."})
        billing.testing.drain()
        new = [a for a in billing.emulator.webhooks.log if a.event_id not in before]
        [event_id] = {a.event_id for a in new}
        assert {a.endpoint_id for a in new if a.ok} == {legacy["endpoint"], billing.testing.endpoint_id}
        assert event_id in legacy_seen and billing.customers.get(owner_id="42").name == "Acme Inc."
        assert [e.id for e in billing.webhooks.events(limit=1000)].count(event_id) == 1
    finally:
        billing.close()


def test_linking_after_importing_brings_subscriptions_and_grants_along_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The order the guide used to warn about: import first, link after. Whether the key arrives through a
    webhook (written by hand) or through customers.link(), the customer's subscriptions, invoices, cards and
    grants follow in the same transaction: no second reconcile."""
    from billingos import Billing
    legacy = _legacy_app(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "catalog.toml").write_text(
        '[[features]]\nkey = "export"\nname = "Export"\n\n[[products]]\nkey = "pro"\nname = "Pro"\n'
        'stripe_id = "prod_pro"\nfeatures = ["export"]\n')
    with Billing(database_url="sqlite:///billing.db", stripe_emulator=True,
                 emulator_state_path="stripe_emulator.json", webhook_secrets=["whsec_migrating_0123456789"]) as b:
        b.migrate()
        b.testing.connect()
        b.catalog.sync("catalog.toml")
        b.reconcile()
        b.reconcile(kinds=["payment_methods"])                  # the cards, once (not in the routine run)
        assert {c.owner_id for c in b.customers.list().items} == {None}
        # by hand, through the webhook
        b.stripe.v1.customers.update(legacy["customers"]["42"], params={"metadata": {"billingos_owner_id": "42"}})
        assert b.customers.get(owner_id="42").id == legacy["customers"]["42"]      # the webhook linked it
        assert [s.id for s in b.subscriptions.list("42")] == [legacy["subscriptions"]["42"]]
        assert b.has_feature("42", "export")
        assert [i.owner_id for i in b.invoices.list("42")] == ["42"]
        assert [m.customer for m in b.payment_methods.list("42")] == [legacy["customers"]["42"]]
        # through link()
        b.customers.link(legacy["customers"]["43"], "43")
        assert [s.id for s in b.subscriptions.list("43")] == [legacy["subscriptions"]["43"]]
        assert b.has_feature("43", "export") and [i.owner_id for i in b.invoices.list("43")] == ["43"]
        report = b.reconcile()
        assert report.kind("subscriptions").updated == [] and report.kind("invoices").updated == []


CONFTEST = '''
from pathlib import Path

import pytest

APP_BLOCK = (Path(__file__).parent / "app_block.py").read_text()


@pytest.fixture
def billing_catalog():
    return Path(__file__).parent / "catalog.toml"


@pytest.fixture
def app(billing, deliver_webhooks):
    namespace = {"billing": billing, "__name__": "guide_app"}
    exec(compile(APP_BLOCK, "migrating.md", "exec"), namespace)     # the page's own app, on the plugin's billing
    deliver_webhooks(namespace["app"])
    return namespace["app"]
'''


def test_the_guides_plugin_tests_pass_on_the_guides_app(tmp_path: Path) -> None:
    """Step 7's tests, run by a fresh pytest through the plugin's entry point, on the app of step 6."""
    import subprocess
    import sys

    from .quickstart import blocks, files
    code = [c for lang, c in blocks(PAGE) if lang == "python"]
    [app_block] = [c for c in code if "app = Flask(__name__)" in c]
    [tests] = [c for c in code if "def test_pro_users_can_export" in c]
    (tmp_path / "catalog.toml").write_text(files(PAGE)["catalog.toml"])
    (tmp_path / "app_block.py").write_text(app_block)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_guide.py").write_text(tests)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                          "test_guide.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "2 passed" in run.stdout, run.stdout + run.stderr
