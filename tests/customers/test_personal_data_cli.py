"""``billingos customers export|erase --owner ID``: data-subject requests from the shell, on an emulator state file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from billingos import Billing
from billingos.cli import main


def _setup(tmp_path: Path) -> list[str]:
    url, state = f"sqlite:///{tmp_path / 'billing.db'}", tmp_path / "stripe.json"
    assert main(["db", "upgrade", "--database-url", url]) == 0
    with Billing(database_url=url, emulator_state_path=str(state), stripe_emulator=True) as billing:
        billing.customers.create(owner_id="u1", email="ada@example.org", name="Ada Lovelace")
        billing.customers.create(owner_id="u2", email="grace@example.org", name="Grace Hopper")
    return ["--database-url", url, "--emulator-state", str(state)]


def test_export_prints_the_owners_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = _setup(tmp_path)
    capsys.readouterr()                     # the migration's line
    assert main(["customers", "export", "--owner", "u1", *settings]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["owner_id"], data["customer"]["email"], data["customer"]["name"]) == \
        ("u1", "ada@example.org", "Ada Lovelace")
    assert "grace" not in json.dumps(data)
    assert main(["customers", "export", "--owner", "nobody", *settings]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("billingos: No customer for owner_id='nobody'") and err.count("\n") == 1


def test_erase_needs_yes_then_erases_and_is_audited(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = _setup(tmp_path)
    capsys.readouterr()                     # the migration's line
    assert main(["customers", "erase", "--owner", "u1", *settings]) == 2
    assert "--yes" in capsys.readouterr().err
    with Billing(database_url=settings[1], emulator_state_path=settings[3], stripe_emulator=True) as billing:
        assert billing.customers.get(owner_id="u1").email == "ada@example.org"      # nothing was written
    assert main(["customers", "erase", "--owner", "u1", "--yes", "--delete-in-stripe", *settings]) == 0
    out = capsys.readouterr().out
    assert out.startswith("u1 (cus_") and "erased, deleted in Stripe" in out and "billing_customers: 1" in out
    with Billing(database_url=settings[1], emulator_state_path=settings[3], stripe_emulator=True) as billing:
        erased = billing.customers.list(include_deleted=True).items
        assert [(c.owner_id, c.email, c.deleted) for c in erased] == [("u1", None, True),
                                                                       ("u2", "grace@example.org", False)]
        entry = billing.audit.list(action="customer.erased").items[0]
        assert entry.actor_kind == "admin" and (entry.actor_id or "").startswith("cli")


def test_nothing_configured_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLINGOS_")}
    for argv in (["customers", "export", "--owner", "u1"], ["customers", "erase", "--owner", "u1", "--yes"]):
        out = subprocess.run([sys.executable, "-m", "billingos", *argv], env=env, capture_output=True, text=True,
                             cwd=tmp_path)
        assert out.returncode == 2 and out.stdout == ""
        assert out.stderr.startswith("billingos: give --database-url") and "Traceback" not in out.stderr
