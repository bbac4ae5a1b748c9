"""The admin insights pages on both adapters (and SQLite and PostgreSQL): the inbox with its filters, keyset
pages, read / dismiss / act with the admin's name and the bell's count, the CSV export, the churn model
report, a customer's risk on the customer page, and hostile input answered with 4xx and nothing written."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest

from billingos import Billing

from . import insights_data
from .conftest import Client, World

A = "/billing/admin"


@pytest.fixture
def alerts(world: World) -> dict[str, int]:
    return insights_data.record_alerts(world.billing)


def _bell(text: str) -> int:
    found = re.search(r'class="bos-bell-count" data-count="(\d+)"', text)
    assert found, "no bell on the page"
    return int(found.group(1))


def _ids(text: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="bos-insight [^"]*" id="insight-(\d+)"', text)]


def _states(billing: Billing) -> list[tuple[int, str, str | None, str | None]]:
    return [(a.id, a.state, a.acted_by or a.dismissed_by or a.read_by, a.note)
            for a in billing.insights.alerts(limit=1000).items]


def test_the_inbox_lists_and_filters(world: World, client: Client, alerts: dict[str, int]) -> None:
    page = client.get(f"{A}/insights")
    assert page.status == 200
    newest_first = sorted(alerts.values(), reverse=True)
    assert _ids(page.text) == newest_first
    assert "api_calls reached 90% of its limit (920 of 1,000)." in page.text
    assert "Payment of 30.00 USD failed (attempt 1)" in page.text
    assert _bell(page.text) == 3 and "<strong>3</strong> unread" in page.text
    bob = alerts["payment_failed:org_bob:"]
    usage = [alerts["usage_limit:org_alice:90"], alerts["usage_limit:org_alice:80"]]
    for query, expected in (({"kind": "usage_limit"}, usage), ({"kind": "payment_failed"}, [bob]),
                            ({"customer": "org_bob"}, [bob]), ({"customer": world.bob.id}, [bob]),
                            ({"customer": "org_nobody"}, []), ({"state": "new"}, newest_first),
                            ({"state": "acted"}, []), ({"since": "2026-01-15", "until": "2026-01-15"}, newest_first),
                            ({"since": "2026-01-16"}, []), ({"until": "2026-01-14"}, []),
                            ({"kind": "usage_limit", "customer": "org_bob"}, [])):
        answer = client.get(f"{A}/insights", **query)
        assert answer.status == 200 and _ids(answer.text) == expected, query
    # the rows link to the customer page (found from the insight's owner on click)
    jump = client.get(f"{A}/insights/{bob}/customer")
    assert jump.status == 302 and jump.location == f"{A}/customers/{world.bob.id}"


def test_keyset_pages_cover_everything_once(world: World, client: Client) -> None:
    with world.billing.session_factory.begin() as s:
        for i in range(57):
            world.billing.insights.store.record(s, kind="usage_limit", owner_id="org_alice", dedupe_key=f"t:{i}",
                                                message=f"alert number {i}", data={"i": i})
    first = client.get(f"{A}/insights", kind="usage_limit")
    assert len(_ids(first.text)) == 50
    after = re.search(r'href="(/billing/admin/insights\?[^"]*after=[^"]+)"', first.text)
    assert after, "no next page link"
    second = client.get(html.unescape(after.group(1)))
    assert second.status == 200 and len(_ids(second.text)) == 7
    assert "kind=usage_limit" in after.group(1)
    everything = [a.id for a in world.billing.insights.alerts(limit=1000).items]
    assert _ids(first.text) + _ids(second.text) == everything


def test_read_dismiss_and_act_record_the_admin_and_move_the_bell(world: World, client: Client,
                                                                 alerts: dict[str, int]) -> None:
    b = world.billing
    bob, a90, a80 = alerts["payment_failed:org_bob:"], alerts["usage_limit:org_alice:90"], \
        alerts["usage_limit:org_alice:80"]
    token = client.token(f"{A}/insights")
    back = f"{A}/insights?kind=usage_limit"
    done = client.post(f"{A}/insights/{a90}/read", {"csrf_token": token, "next": back})
    assert done.status == 303 and done.location == f"{A}/insights?kind=usage_limit&done=insight_read"
    got = b.insights.get(a90)
    assert (got.state, got.read_by, got.read_at) == ("read", "ops@example.com", b.now())
    page = client.get(done.location)
    assert _bell(page.text) == 2 and "Marked as read." in page.text and "Read by ops@example.com" in page.text

    done = client.post(f"{A}/insights/{bob}/dismiss", {"csrf_token": token, "note": "pays by wire", "next": back})
    assert done.status == 303
    got = b.insights.get(bob)
    assert (got.state, got.dismissed_by, got.note, got.read_by) == ("dismissed", "ops@example.com", "pays by wire",
                                                                    "ops@example.com")
    done = client.post(f"{A}/insights/{a80}/act", {"csrf_token": token, "note": "called, offered Pro",
                                                   "next": "https://evil.example/x"})
    assert done.status == 303 and done.location == f"{A}/insights?done=insight_acted"      # never off-site
    got = b.insights.get(a80)
    assert (got.state, got.acted_by, got.note) == ("acted", "ops@example.com", "called, offered Pro")
    page = client.get(f"{A}/insights")
    assert _bell(page.text) == 0
    assert "Acted on by ops@example.com" in page.text and "called, offered Pro" in page.text
    assert "Dismissed by ops@example.com" in page.text

    # the audit log names the admin for each step
    entries = b.audit.list(target_type="insight").items
    assert [(e.action, e.target_id, e.actor_kind, e.actor_id) for e in entries] == [
        ("insight.acted", str(a80), "admin", "ops@example.com"), ("insight.dismissed", str(bob), "admin",
                                                                   "ops@example.com"),
        ("insight.read", str(a90), "admin", "ops@example.com")]
    assert entries[0].after["note"] == "called, offered Pro" and entries[0].before == {"state": "new"}

    # a settled insight cannot move back: 409, nothing written
    before = _states(b)
    again = client.post(f"{A}/insights/{bob}/act", {"csrf_token": token, "note": "x"})
    assert again.status == 409 and "already dismissed" in again.text
    assert _states(b) == before and len(b.audit.list(target_type="insight").items) == 3


def test_hostile_input_is_4xx_and_writes_nothing(world: World, client: Client, alerts: dict[str, int]) -> None:
    b = world.billing
    before = _states(b)
    for query in ({"kind": "nope"}, {"state": "open"}, {"since": "yesterday"}, {"since": "2026-02-30"},
                  {"until": "99999-01-01"}, {"since": "2026-02-01", "until": "2026-01-01"}, {"after": "!!"},
                  {"after": "x" * 5000}, {"customer": "cus_nothing"}, {"customer": "x" * 300},
                  {"customer": "a\x00b"}, {"kind": "churn_risk\x00"}):
        for path in (f"{A}/insights", f"{A}/insights.csv")[:1 if "after" in query else 2]:   # no pages in CSV
            answer = client.get(path, **query)
            assert 400 <= answer.status < 500 and "Something is not right" in answer.text, (path, query)
    token = client.token(f"{A}/insights")
    some = alerts["payment_failed:org_bob:"]
    for path in (f"{A}/insights/999999/dismiss", f"{A}/insights/0/read", f"{A}/insights/-1/act",
                 f"{A}/insights/99999999999999999999999/act", f"{A}/insights/abc/dismiss",
                 f"{A}/insights/9223372036854775808/read"):
        answer = client.post(path, {"csrf_token": token})
        assert answer.status == 404 and "Page not found" in answer.text, path
    for form in ({"note": "a\x00b"}, {"note": "x" * 2001}, {"note": "bell\x07"}):
        answer = client.post(f"{A}/insights/{some}/act", {"csrf_token": token, **form})
        assert answer.status == 400, form
    assert client.post(f"{A}/insights/{some}/dismiss", {"note": "no token"}).status == 403
    assert client.get(f"{A}/insights/999999/customer").status == 404
    for query, status in (({"version": "abc"}, 400), ({"version": "999"}, 404), ({"version": "0"}, 400),
                          ({"version": "9" * 30}, 400)):
        assert client.get(f"{A}/insights/model", **query).status == status, query
    assert _states(b) == before and b.insights.unread_count() == 3


def test_csv_export_has_every_match_and_defuses_formulas(world: World, client: Client,
                                                         alerts: dict[str, int]) -> None:
    bob = alerts["payment_failed:org_bob:"]
    world.billing.insights.act(bob, by="ops@example.com", note="=HYPERLINK(\"http://x\")")
    answer = client.get(f"{A}/insights.csv")
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/csv")
    assert 'filename="insights.csv"' in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [int(r["id"]) for r in rows] == sorted(alerts.values(), reverse=True)
    by_id = {int(r["id"]): r for r in rows}
    assert by_id[bob]["acted_by"] == "ops@example.com" and by_id[bob]["note"] == "'=HYPERLINK(\"http://x\")"
    assert json.loads(by_id[bob]["data"])["amount_due"] == 3000
    only = list(csv.DictReader(io.StringIO(client.get(f"{A}/insights.csv", kind="usage_limit").text)))
    assert {r["kind"] for r in only} == {"usage_limit"} and len(only) == 2


def test_the_model_report(world: World, client: Client) -> None:
    empty = client.get(f"{A}/insights/model")
    assert empty.status == 200 and "No model yet" in empty.text
    assert "billingos insights evaluate" in empty.text and "chart.umd.min.js" not in empty.text
    first = insights_data.train(world.billing, seed=3)
    second = insights_data.train(world.billing, seed=4)
    report = world.billing.insights.report()
    assert report.version == second
    page = client.get(f"{A}/insights/model")
    assert page.status == 200 and f"Churn model v{second}" in page.text
    assert f"{report.roc_auc:.3f}" in page.text and f"{report.top_decile_lift:.2f}" in page.text
    assert f"{report.brier:.4f}" in page.text
    chosen = report.algorithm.replace("_", " ").capitalize()
    assert f"<strong>{chosen}</strong> chosen" in page.text
    for name, r in report.candidates.items():
        assert f"{r['roc_auc']:.3f}" in page.text, name
    data = re.search(r'<script type="application/json" id="bos-calibration-data">(.*?)</script>', page.text, re.S)
    assert data
    bins = json.loads(data.group(1))["bins"]
    assert [(b["count"], round(b["observed"], 4)) for b in bins] == [
        (int(b["count"]), round(b["observed"], 4)) for b in report.calibration]
    assert sum(b["count"] for b in bins) == report.test_rows
    top = max(report.feature_weights, key=lambda k: report.feature_weights[k])
    assert f'aria-label="{top} weight"' in page.text and top == "days_since_usage"
    assert "chart.umd.min.js" in page.text and "insights.js" in page.text
    assert page.text.count('href="/billing/admin/insights/model?version=') == 2
    old = client.get(f"{A}/insights/model", version=str(first))
    assert old.status == 200 and f"Churn model v{first}" in old.text and "In use" in old.text


def test_the_customer_page_shows_risk_trend_and_open_alerts(world: World, client: Client,
                                                            alerts: dict[str, int]) -> None:
    b = world.billing
    insights_data.train(b)
    insights_data.score(b)
    score = b.insights.risk("org_alice")
    assert score is not None and score.score >= 0.3 and score.reasons
    page = client.get(f"{A}/customers/{world.alice.id}")
    assert page.status == 200
    risk = page.text[page.text.index('id="risk-title"'):page.text.index("<h2>Invoices</h2>")]
    assert f"{score.score * 100:.0f}%" in risk
    for reason in score.reasons:
        assert html.escape(reason.capitalize()) in risk
    history = b.insights.risk_history("org_alice")
    assert len(history) >= 5 and history[-1] == (score.scored_at, score.score)     # the daily job scores too
    assert f"Churn risk went from {history[0][1]:.0%}" in html.unescape(risk)
    assert risk.count("<polyline points=") == 1
    open_ids = [a.id for a in b.insights.alerts(owner_id="org_alice", limit=50).items if a.state in ("new", "read")]
    assert _ids(risk) == sorted(open_ids, reverse=True) and len(open_ids) >= 3
    # acting from the customer page comes back to it
    token = client.token(f"{A}/insights")
    here = f"{A}/customers/{world.alice.id}"
    done = client.post(f"{A}/insights/{open_ids[0]}/act", {"csrf_token": token, "next": here})
    assert done.status == 303 and done.location == f"{here}?done=insight_acted"
    assert open_ids[0] not in _ids(client.get(here).text)
    unscored = client.get(f"{A}/customers/{world.bob.id}")
    assert "Not scored yet." in unscored.text and "No scores yet." in unscored.text


def test_the_bell_on_empty_tables_and_on_every_admin_page(world: World, client: Client) -> None:
    for path in (f"{A}/customers", f"{A}/insights", f"{A}/insights/model", f"{A}/audit",
                 f"{A}/customers/{world.alice.id}"):
        page = client.get(path)
        assert page.status == 200 and _bell(page.text) == 0, path
        assert 'aria-label="0 unread insights"' in page.text
    empty = client.get(f"{A}/insights")
    assert "No insights match." in empty.text
    insights_data.record_alerts(world.billing)
    assert _bell(client.get(f"{A}/customers").text) == 3

