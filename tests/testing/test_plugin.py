"""The pytest plugin, tested as a host app uses it: host_app/ (a tiny notes service, its catalog, its conftest
and its billing tests) is copied to an empty folder and run by a fresh pytest, which must find the fixtures
through the ``pytest11`` entry point alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HOST_APP = Path(__file__).parent / "host_app"
MUST_FAIL = '''
def test_a_canceled_subscription_still_exports(app, billing_factory):
    sub = billing_factory.subscription(price="pro_monthly", state="canceled")
    assert app.test_client().get("/export", headers={"X-Org": sub.owner_id}).status_code == 200
'''


def _pytest(folder: Path, *args: str) -> tuple[dict[str, str], str]:
    """Run pytest in ``folder`` (no rootdir conftest of billingos's own); each test's outcome by name."""
    report = folder / "report.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                          f"--junitxml={report}", *args], cwd=folder, capture_output=True, text=True, timeout=600)
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        outcomes[case.get("name", "")] = ("failed" if "failure" in kinds else "error" if "error" in kinds
                                          else "skipped" if "skipped" in kinds else "passed")
    return outcomes, run.stdout + run.stderr


def test_a_host_apps_suite_runs_on_the_plugins_fixtures(tmp_path: Path) -> None:
    host = tmp_path / "host"
    shutil.copytree(HOST_APP, host)
    (host / "test_must_fail.py").write_text(MUST_FAIL)
    outcomes, output = _pytest(host)
    assert outcomes.pop("test_a_canceled_subscription_still_exports") == "failed", output
    states = ["trialing-200", "active-200", "past_due-200", "incomplete-403", "canceled-403", "paused-403"]
    assert outcomes == {
        **{f"test_subscriptions_in_every_state_gate_the_route[{s}]": "passed" for s in states},
        "test_usage_is_metered_and_the_quota_spent": "passed",
        "test_advance_renews_and_the_webhooks_go_through_the_apps_route": "passed",
        "test_a_past_due_subscription_is_canceled_after_the_retries": "passed",
        "test_a_failed_payment_emails_the_customer": "passed",
        "test_one_clock_for_billing_and_the_emulator": "passed",
    }, output
    assert "assert 403 == 200" in output          # the failing test fails on the gate, not on a fixture


def test_the_fixtures_come_from_the_entry_point(tmp_path: Path) -> None:
    host = tmp_path / "host"
    shutil.copytree(HOST_APP, host)
    outcomes, output = _pytest(host, "-p", "no:billingos", "-k", "emails or clock")
    assert list(outcomes.values()) == ["error", "error"], output
    assert output.count("fixture 'billing' not found") == 2
