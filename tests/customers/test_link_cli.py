"""``billingos customers link --csv FILE``: the bulk path from the shell, on an emulator state file."""

from __future__ import annotations

from pathlib import Path

import pytest

from billingos import Billing
from billingos.cli import main
from billingos.emulator import Emulator


def _setup(tmp_path: Path) -> tuple[list[str], list[str]]:
    state = tmp_path / "stripe.json"
    stripe = Emulator(state_path=state).client()
    ids = [stripe.v1.customers.create(params={"email": f"{n}@x.co"}).id for n in range(3)]
    taken = stripe.v1.customers.create(params={"metadata": {"billingos_owner_id": "someone"}}).id
    url = f"sqlite:///{tmp_path / 'billing.db'}"
    assert main(["db", "upgrade", "--database-url", url]) == 0
    return [*ids, taken], ["--database-url", url, "--emulator-state", str(state)]


def test_link_csv_dry_run_then_run_then_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (a, b, c, taken), settings = _setup(tmp_path)
    csv = tmp_path / "users.csv"
    csv.write_text(f"owner_id,stripe_customer_id\nu1,{a}\nu2,{b}\n\nu3,{c}\nu4,{taken}\n")
    assert main(["customers", "link", "--csv", str(csv), "--dry-run", *settings]) == 1
    out = capsys.readouterr().out
    assert "dry run: nothing was written" in out and "would link: 3, already linked: 0, conflicts: 1" in out
    assert f"conflict u4,{taken}: " in out and "another owner" in out
    assert main(["customers", "link", "--csv", str(csv), *settings]) == 1
    assert "linked: 3, already linked: 0, conflicts: 1" in capsys.readouterr().out
    assert main(["customers", "link", "--csv", str(csv), *settings]) == 1
    assert "linked: 0, already linked: 3, conflicts: 1" in capsys.readouterr().out
    with Billing(database_url=settings[1], emulator_state_path=settings[3], stripe_emulator=True) as billing:
        assert [billing.customers.get(owner_id=o).id for o in ("u1", "u2", "u3")] == [a, b, c]
        entries = [e for e in billing.audit.list().items if e.action == "customer.linked"]
        assert sorted(e.owner_id for e in entries) == ["u1", "u2", "u3"]
        assert {(e.actor_kind, (e.actor_id or "").startswith("cli")) for e in entries} == {("admin", True)}


@pytest.mark.parametrize("body", ["u1\n", "u1,cus_a,extra\n", "u1,pm_123\n", "u\x00,cus_abc\n", "u1,cus_a\nu1,cus_b\n"])
def test_a_bad_csv_stops_before_any_write(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str) -> None:
    _, settings = _setup(tmp_path)
    csv = tmp_path / "bad.csv"
    csv.write_text(body)
    assert main(["customers", "link", "--csv", str(csv), *settings]) == 2
    assert capsys.readouterr().err.startswith("billingos: ")
    with Billing(database_url=settings[1], emulator_state_path=settings[3], stripe_emulator=True) as billing:
        assert billing.customers.list().items == []


def test_a_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["customers", "link", "--csv", str(tmp_path / "nope.csv"), "--database-url", "sqlite://",
                 "--stripe-emulator"]) == 2
    assert "cannot read" in capsys.readouterr().err
