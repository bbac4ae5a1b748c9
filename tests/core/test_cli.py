"""The CLI end to end in a subprocess: webhooks list/replay, reconcile with its progress output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from billingos import Billing
from billingos.emulator import signature_header


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "billingos", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_webhooks_replay_and_reconcile(tmp_path: Path) -> None:
    db, state = tmp_path / "cli.db", tmp_path / "stripe.json"
    env = {**os.environ, "BILLINGOS_DATABASE_URL": f"sqlite:///{db}", "BILLINGOS_EMULATOR_STATE": str(state)}
    secret = "whsec_cli_test_123456"
    billing = Billing(database_url=f"sqlite:///{db}", stripe_emulator=True, emulator_state_path=str(state),
                      webhook_secrets=[secret])
    billing.migrate()
    event = {"id": "evt_cli_1", "object": "event", "type": "thing.happened", "livemode": False, "created": 1,
             "data": {"object": {"id": "obj_1"}}}
    body = json.dumps(event).encode()
    billing.webhooks.subscribe("thing.happened", lambda ctx: 1 / 0)
    billing.webhooks.max_attempts = 1
    billing.webhooks.receive(body, {"Stripe-Signature": signature_header(body, [secret],
                                    int(billing.now().timestamp())), "Content-Type": "application/json"})
    assert billing.webhooks.events()[0].status == "dead"
    listed = _run("webhooks", "list", "--status", "dead", env=env)
    assert listed.returncode == 0 and "evt_cli_1" in listed.stdout and "ZeroDivisionError" in listed.stdout
    replayed = _run("webhooks", "replay", "--event", "evt_cli_1", env=env)
    # The CLI's Billing has no handler for this custom type, so the replay ends as ignored.
    assert replayed.returncode == 0 and "replayed 1 event(s)" in replayed.stdout
    assert "evt_cli_1  ignored" in replayed.stdout
    bad = _run("webhooks", "replay", env=env)
    assert bad.returncode != 0 and "--event" in bad.stderr
    missing = _run("webhooks", "replay", "--event", "evt_nope", env=env)
    assert missing.returncode == 2 and "No stored webhook event" in missing.stderr

    key = billing.config.owner_metadata_key
    billing.stripe.v1.customers.create(params={"email": "c@b.co", "metadata": {key: "org_cli"}})
    rec = _run("reconcile", "--days", "2", env=env)
    assert rec.returncode == 0, rec.stderr
    assert "events backfilled: 1" in rec.stdout and "customers" in rec.stdout
    assert "events" in rec.stderr                  # the progress line
    assert Billing(database_url=f"sqlite:///{db}", stripe_emulator=True,
                   emulator_state_path=str(state)).customers.get(owner_id="org_cli").email == "c@b.co"
    bad_days = _run("reconcile", "--days", "45", env=env)
    assert bad_days.returncode == 2 and "--days must be more than 0 and at most 30" in bad_days.stderr
    import getpass
    runs = billing.reconcile.runs().items                  # the CLI's run is stored (the refused one is not)
    assert [(r.source, r.started_by, r.dry_run, r.error) for r in runs] == [("cli", getpass.getuser(), False, None)]
