"""Churn prediction on a generated SaaS history (``billingos.history``): churn there comes from a hidden
process driven by observable behaviour, so a model that reads the right features at the right time must
find it (holdout ROC AUC >= 0.80, top-decile lift >= 3), and one that is handed shuffled labels must not."""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from billingos import Billing, InsufficientDataError, signals
from billingos.clock import FrozenClock
from billingos.insights.features import Extractor
from billingos.insights.model import evaluate

from .history_db import SIZE, START, generated

END = START + timedelta(days=SIZE["days"])
#: Building the history (first run only, then cached) drives the emulator for minutes.
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def history_file(request: pytest.FixtureRequest) -> Path:
    return generated(request.config)


@pytest.fixture
def history(history_file: Path, tmp_path: Path) -> Iterator[Billing]:
    db = tmp_path / "history.db"
    shutil.copy(history_file, db)
    billing = Billing(database_url=f"sqlite:///{db}", stripe_emulator=True, clock=FrozenClock(END),
                      merchant_email="ops@shop.example")
    assert billing.testing.outbox.messages == []           # capture mail from the start
    yield billing
    billing.close()


def test_the_model_finds_the_hidden_churn_process(history: Billing) -> None:
    report = history.insights.train_churn_model(min_customers=50, min_churn_events=15)
    assert report.roc_auc >= 0.80, report.text()
    assert report.top_decile_lift >= 3, report.text()
    assert set(report.candidates) == {"logistic_regression", "gradient_boosting"}
    assert report.algorithm in report.candidates
    best = report.candidates[report.algorithm]["roc_auc"]
    assert best == max(c["roc_auc"] for c in report.candidates.values()) == report.roc_auc
    assert 0 <= report.brier < report.churn_rate        # better than always answering "no one churns"
    assert sum(b["count"] for b in report.calibration) == report.test_rows
    # the time split: every training snapshot's 30-day outcome was known before the first test snapshot
    split = report.split_at
    assert report.train_rows > 0 and report.test_rows > 0 and split < END.isoformat()
    assert history.insights.report().version == report.version          # stored, and the newest


def test_shuffled_labels_bring_auc_to_chance(history: Billing) -> None:
    """The leakage check: if the features still 'predicted' shuffled labels, they would carry the answer."""
    with history.session_factory() as s:
        ex = Extractor(s)
        hist = ex.history(END)
        dates = [END - timedelta(days=30) - timedelta(days=7 * i) for i in range(16)]
        snaps = [ex.snapshot(hist, d, labelled=True) for d in sorted(dates) if d >= START + timedelta(days=30)]
    aucs = [evaluate(snaps, min_customers=10, min_churn_events=5, seed=seed, shuffle_labels=True)[1]["roc_auc"]
            for seed in range(3)]
    assert all(0.3 < a < 0.7 for a in aucs), aucs
    assert abs(sum(aucs) / len(aucs) - 0.5) < 0.1, aucs


def test_features_are_read_as_of_the_snapshot(history: Billing) -> None:
    """The same snapshot date gives the same rows whatever happened afterwards: nothing later is read."""
    at = START + timedelta(days=80)
    with history.session_factory() as s:
        ex = Extractor(s)
        full = ex.snapshot(ex.history(END), at, labelled=False)
        cut = ex.snapshot(ex.history(at), at, labelled=False)
    assert full.owners == cut.owners and full.rows == cut.rows
    assert "cancel_at_period_end" not in full.names


def test_scoring_stores_reasons_and_fires_once_per_episode(history: Billing) -> None:
    history.insights.train_churn_model(min_customers=50, min_churn_events=15)
    fired: list[dict[str, Any]] = []
    signals.churn_risk_detected.connect(lambda sender, **kw: fired.append(kw), sender=history, weak=False)
    first = history.insights.score_churn()
    assert first.scored > 20 and first.model_version == history.insights.report().version
    *top, fourth = history.insights.at_risk(limit=4)
    assert [t.score for t in top] == sorted((t.score for t in top), reverse=True) and fourth.score < top[-1].score
    assert all(t.reasons and all(isinstance(r, str) for r in t.reasons) for t in top)
    between = (top[-1].score + fourth.score) / 2

    history.insights.configure(threshold=between)              # the three riskiest are now at risk
    run = history.insights.score_churn()
    assert sorted(run.detected) == sorted(t.owner_id for t in top)
    assert sorted(f["owner_id"] for f in fired) == sorted(t.owner_id for t in top)
    assert history.insights.score_churn().detected == ()        # the episode is still open: no new signal
    assert len(fired) == 3
    history.testing.drain()
    mails = history.testing.outbox.sent("churn_risk_alert", to="ops@shop.example")
    assert len(mails) == 3 and all("risk of churning" in m.text for m in mails)
    alerts = history.insights.alerts(kind="churn_risk").items
    assert sorted(a.owner_id for a in alerts) == sorted(t.owner_id for t in top)
    assert all(a.message.startswith("Churn risk") for a in alerts)

    history.insights.configure(threshold=0.999)                 # risk back below: the episodes close
    history.insights.score_churn()
    assert history.insights.risk(top[0].owner_id).at_risk_since is None
    history.insights.configure(threshold=between)
    history.clock.set(END + timedelta(seconds=1))
    reopened = history.insights.score_churn().detected          # new episodes, one signal each
    above = [t.owner_id for t in history.insights.at_risk(limit=10) if t.score >= between]
    assert top[0].owner_id in reopened and sorted(reopened) == sorted(above)
    assert len(fired) == 3 + len(reopened)
    signals.churn_risk_detected.receivers.clear()


def test_too_little_data_is_refused(history: Billing) -> None:
    with pytest.raises(InsufficientDataError) as e:
        history.insights.train_churn_model(min_customers=10_000)
    assert "customers" in e.value.message and e.value.details["need"] == 10_000
    with pytest.raises(InsufficientDataError):
        history.insights.train_churn_model(start=END - timedelta(days=45))   # one snapshot date only


def test_the_command_line_prints_the_report(history_file: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from billingos.cli import main
    db = tmp_path / "cli.db"
    shutil.copy(history_file, db)
    end = (END - timedelta(days=30)).date().isoformat()
    assert main(["insights", "evaluate", "--database-url", f"sqlite:///{db}", "--stripe-emulator", "--end", end,
                 "--min-churn-events", "15"]) == 0
    out = capsys.readouterr().out
    assert "holdout ROC AUC" in out and "top-decile lift" in out and "calibration" in out
    auc = float(out.split("holdout ROC AUC ")[1].split()[0])
    assert auc >= 0.80
    assert main(["insights", "evaluate", "--stored", "--database-url", f"sqlite:///{db}", "--stripe-emulator"]) == 0
    assert f"holdout ROC AUC {auc:.3f}" in capsys.readouterr().out
    settings = ["--database-url", f"sqlite:///{db}", "--stripe-emulator"]
    assert main(["insights", "score", *settings]) == 0
    scored = re.fullmatch(r"model v(\d+): scored ([\d,]+) customers at .* UTC; ([\d,]+) at risk, ([\d,]+) newly "
                          r"detected\n", capsys.readouterr().out)
    assert scored is not None and int(scored[2].replace(",", "")) > 0
    assert int(scored[4].replace(",", "")) <= int(scored[3].replace(",", "")) <= int(scored[2].replace(",", ""))
    assert main(["insights", "alerts", "--kind", "churn_risk", *settings]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == int(scored[4].replace(",", "")) and {r["kind"] for r in rows} <= {"churn_risk"}
    with pytest.raises(SystemExit) as bad:
        main(["insights", "alerts", "--kind", "nonsense", *settings])
    assert bad.value.code == 2
