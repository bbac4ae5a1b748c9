"""``billingos catalog sync FILE`` and ``billingos catalog show``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from billingos.cli import main
from billingos.migrations import upgrade

EXAMPLE = Path(__file__).parents[2] / "example_app" / "catalog.toml"


@pytest.fixture
def db(tmp_path: Path) -> str:
    from sqlalchemy import create_engine

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_sync_dry_run_then_sync_then_noop(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path / "stripe.json")
    common = ["--database-url", db, "--emulator-state", state]
    code, out, _ = _run(capsys, "catalog", "sync", str(EXAMPLE), *common, "--dry-run")
    assert code == 0
    assert "+ price pro_monthly (created)" in out
    assert out.strip().endswith(
        "dry run: would change 1 meters, 5 features, 3 products, 6 prices, 9 plan features"
    )
    code, out, _ = _run(capsys, "catalog", "show", *common)
    assert "no products" in out  # the dry run wrote nothing

    code, out, _ = _run(capsys, "catalog", "sync", str(EXAMPLE), *common)
    assert code == 0 and out.strip().endswith(
        "changed 1 meters, 5 features, 3 products, 6 prices, 9 plan features"
    )
    code, out, _ = _run(capsys, "catalog", "sync", str(EXAMPLE), *common, "--json")
    report = json.loads(out)
    assert report["noop"] is True and report["stripe_writes"] == 0
    assert report["prices"]["unchanged"][:2] == ["free_monthly", "pro_monthly"]

    code, out, _ = _run(capsys, "catalog", "show", *common)
    assert "pro  Pro" in out
    assert "price pro_monthly: $29.00 every month" in out
    assert "feature api_calls: 100,000 per billing_period" in out
    assert "api_calls  API calls  (sum, active)" in out


def test_bad_file_exits_2_with_the_file_name(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("products:\n  - key: pro\n    nam: Pro\n")
    code, out, err = _run(
        capsys,
        "catalog",
        "sync",
        str(bad),
        "--database-url",
        db,
        "--emulator-state",
        str(tmp_path / "s.json"),
    )
    assert code == 2 and out == ""
    assert "bad.yaml" in err and "unknown key 'nam'" in err and "missing required key 'name'" in err
    assert not (tmp_path / "s.json").exists()


def test_unmigrated_database_is_explained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(
        capsys,
        "catalog",
        "show",
        "--database-url",
        f"sqlite:///{tmp_path / 'empty.db'}",
        "--emulator-state",
        str(tmp_path / "s.json"),
    )
    assert code == 2 and "billingos db upgrade" in err
