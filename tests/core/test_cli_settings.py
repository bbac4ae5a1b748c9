"""Issue 8 items 1 and 12: every CLI command takes Billing's settings (flags or BILLINGOS_* variables),
refuses to run without them, and answers any refusal with one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from billingos import Billing
from billingos.cli import main, parser
from billingos.customers import BillingCustomer

SETTINGS = ("BILLINGOS_DATABASE_URL", "BILLINGOS_STRIPE_API_KEY", "BILLINGOS_STRIPE_EMULATOR",
            "BILLINGOS_EMULATOR_STATE", "BILLINGOS_EMULATOR_STATE_PATH", "BILLINGOS_STRIPE_API_BASE",
            "BILLINGOS_REDIS_URL")
CATALOG = Path(__file__).resolve().parents[2] / "example_app" / "catalog.toml"
REQUIRED = {"start": "2026-01-01", "end": "2026-02-01", "owner": "org_1",  # required options without choices
            "csv": str(Path(__file__).resolve().parents[1] / "fixtures" / "link_pairs.csv")}


@pytest.fixture(autouse=True)
def _nothing_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


def _commands() -> list[list[str]]:
    """Every leaf command of the parser, with its required positional arguments filled in."""
    out: list[list[str]] = []

    def walk(p: argparse.ArgumentParser, path: list[str]) -> None:
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            extra = [str(CATALOG) if a.dest == "file" else (next(iter(a.choices)) if a.choices else "x")
                     for a in p._actions if not a.option_strings and a.nargs is None]
            for a in p._actions:          # required options get a valid value, so only the settings are missing
                if a.option_strings and a.required:
                    extra += [a.option_strings[0], next(iter(a.choices)) if a.choices else REQUIRED[a.dest]]
            out.append(path + extra)
            return
        for name, child in subs[0].choices.items():
            walk(child, [*path, name])
    walk(parser(), [])
    return out


COMMANDS = [c for c in _commands() if c[:2] != ["emulator", "serve"]]   # the emulator needs no settings


def test_every_command_is_listed() -> None:
    names = {" ".join(c[:2]) for c in _commands()}
    assert {"db upgrade", "db current", "webhooks list", "webhooks replay", "reconcile", "catalog sync",
            "catalog show", "emulator serve"} <= names | {"reconcile"}


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_nothing_configured_is_one_line_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    if argv[:2] == ["webhooks", "replay"]:
        argv = [*argv, "--dead"]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "--database-url" in err and "BILLINGOS_DATABASE_URL" in err


@pytest.mark.parametrize("argv", [c for c in COMMANDS if c[0] != "db"], ids=" ".join)
def test_a_database_without_a_stripe_is_refused(argv: list[str], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    if argv[:2] == ["webhooks", "replay"]:
        argv = [*argv, "--dead"]
    assert main([*argv, "--database-url", f"sqlite:///{tmp_path / 'b.db'}"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "--stripe-api-key" in err and "BILLINGOS_STRIPE_API_KEY" in err and "--stripe-emulator" in err


def test_db_commands_need_only_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    assert main(["db", "current", "--database-url", url]) == 0
    assert main(["db", "upgrade", "--database-url", url]) == 0
    assert main(["db", "upgrade", "nope", "--database-url", url]) == 2
    out, err = capsys.readouterr()
    assert "(empty)" in out and "billingos schema at" in out and "is not a billingos migration" in err


def test_settings_come_from_flags_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    url, state = f"sqlite:///{tmp_path / 'b.db'}", str(tmp_path / "stripe.json")
    assert main(["db", "upgrade", "--database-url", url]) == 0
    assert main(["webhooks", "list", "--database-url", url, "--stripe-emulator"]) == 0
    assert main(["reconcile", "--database-url", url, "--emulator-state", state]) == 0
    monkeypatch.setenv("BILLINGOS_DATABASE_URL", url)
    monkeypatch.setenv("BILLINGOS_STRIPE_EMULATOR", "1")
    assert main(["webhooks", "list"]) == 0
    monkeypatch.setenv("BILLINGOS_STRIPE_EMULATOR", "0")
    monkeypatch.setenv("BILLINGOS_STRIPE_API_KEY", "pk_test_nope")      # the same validation as Billing
    assert main(["webhooks", "list"]) == 2
    assert "stripe_api_key must be a Stripe secret or restricted key" in capsys.readouterr().err


def test_the_reported_wipe_cannot_happen(tmp_path: Path) -> None:
    """The issue's command, `billingos reconcile --database-url sqlite:///billing.db`, in a subprocess:
    refused with one line, and the local customers are untouched."""
    db = tmp_path / "billing.db"
    billing = Billing(database_url=f"sqlite:///{db}", stripe_emulator=True)
    billing.migrate()
    billing.customers.create(owner_id="org_1", email="a@b.co")
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    done = subprocess.run([sys.executable, "-m", "billingos", "reconcile", "--database-url", f"sqlite:///{db}"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr and "--stripe-api-key" in done.stderr
    # An empty emulator state is a Stripe with nothing in it: the removal limit refuses it.
    empty = subprocess.run([sys.executable, "-m", "billingos", "reconcile", "--database-url", f"sqlite:///{db}",
                            "--emulator-state", str(tmp_path / "empty.json")],
                           env=env, capture_output=True, text=True, timeout=120)
    assert empty.returncode == 2 and "refused to remove" in empty.stderr and "Traceback" not in empty.stderr
    dry = subprocess.run([sys.executable, "-m", "billingos", "reconcile", "--dry-run", "--database-url",
                          f"sqlite:///{db}", "--emulator-state", str(tmp_path / "empty.json")],
                         env=env, capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0 and "dry run: nothing was written" in dry.stdout
    assert "would remove cus_" in dry.stdout
    with billing.session_factory() as s:
        assert [(r.owner_id, r.deleted_at) for r in s.scalars(select(BillingCustomer))] == [("org_1", None)]


@pytest.mark.parametrize(("extra", "reason"), [
    (["--host", "0.0.0.0"], "loopback only"),
    (["--host", "example.com"], "loopback only"),
    (["--state", "STATE"], "is not an emulator state file"),
])
def test_emulator_serve_refusals_are_one_line(extra: list[str], reason: str, tmp_path: Path) -> None:
    bad = tmp_path / "billing.db"
    bad.write_bytes(b"SQLite format 3\x00" + bytes(100))      # the database given as --state by mistake
    argv = [a.replace("STATE", str(bad)) for a in extra]
    done = subprocess.run([sys.executable, "-m", "billingos", "emulator", "serve", "--port", "0", *argv],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert reason in done.stderr and "Traceback" not in done.stderr


def test_emulator_serve_on_a_busy_port_is_one_line() -> None:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "billingos", "emulator", "serve", "--port", str(port)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
