"""``billingos analytics backfill`` and ``billingos analytics export`` on a real SQLite file and a persisted
emulator (system clock)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest

from billingos import Billing
from billingos.cli import main


def test_backfill_then_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, state = f"sqlite:///{tmp_path / 'b.db'}", str(tmp_path / "stripe.json")
    with Billing(database_url=db, stripe_emulator=True, emulator_state_path=state) as billing:
        billing.migrate()
        sc = billing.stripe.v1
        prod = sc.products.create(params={"name": "P"})
        price = sc.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": 2500,
                                         "recurring": {"interval": "month"}}).id
        for n in range(3):
            cust = sc.customers.create(params={"email": f"c{n}@b.co"}).id
            pm = sc.payment_methods.attach("pm_card_visa", params={"customer": cust})
            sc.customers.update(cust, params={"invoice_settings": {"default_payment_method": pm.id}})
            sc.subscriptions.create(params={"customer": cust, "items": [{"price": price}]})
        today = billing.now().date()
    assert main(["analytics", "backfill", "--database-url", db, "--emulator-state", state]) == 0
    out = capsys.readouterr()
    assert "subscriptions: 3, events: 6, ledger rows written: 6" in out.out   # created, then paid: each
    assert "subscriptions" in out.err                                          # the progress bar, on stderr
    end = (today + timedelta(days=1)).isoformat()
    assert main(["analytics", "export", "mrr", "--start", today.isoformat(), "--end", end, "--interval", "day",
                 "--database-url", db, "--emulator-state", state]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [["start", "end", "mrr", "previous"], [f"{today}T00:00:00+00:00", f"{end}T00:00:00+00:00",
                                                           "75.00", "0.00"]]
    target = tmp_path / "ledger.csv"
    assert main(["analytics", "export", "ledger", "--start", today.isoformat(), "--end", end, "-o", str(target),
                 "--database-url", db, "--emulator-state", state]) == 0
    assert len(target.read_text().splitlines()) == 1 + 6
    assert main(["analytics", "export", "movements", "--start", end, "--end", today.isoformat(),
                 "--database-url", db, "--emulator-state", state]) == 2
    assert "end must be after start" in capsys.readouterr().err
    assert main(["analytics", "summary", "--months", "2", "--database-url", db, "--emulator-state", state]) == 0
    out = capsys.readouterr().out
    assert [line.split("│")[2].strip() for line in out.splitlines() if line.startswith("│ MRR ")] == ["$75.00"]
    assert [line.split("│")[2].strip() for line in out.splitlines() if "active subscribers" in line] == ["3"]
    months = [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│ ") and " 20" in
              line.split("│")[1]]
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    assert months == [f"{last_month:%b %Y}", f"{this_month:%b %Y}"]
    new_this_month = [line.split("│")[3].strip() for line in out.splitlines()
                      if line.startswith(f"│ {this_month:%b %Y}")]
    assert new_this_month == ["$75.00"]
    with pytest.raises(SystemExit):
        main(["analytics", "summary", "--months", "40", "--database-url", db, "--emulator-state", state])
