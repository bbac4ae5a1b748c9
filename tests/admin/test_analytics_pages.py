"""The admin analytics page and its CSV downloads through both adapters, over a seeded year of history
(tests/admin/analytics_seed.py): the figures and chart data on the page are billing.analytics' own numbers
for the chosen range (and MRR matches an oracle read from Stripe's objects), the range picker changes them,
bad input is a 400 with the form, and every series downloads as the library's CSV."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from billingos import Billing, Money

from .conftest import Client, World, make_client

PAGE = "/billing/admin/analytics"
CSV = "/billing/admin/analytics.csv"
_FIGURE = re.compile(r'id="figure-(\w+)".*?data-value>(.*?)</p>', re.S)
_DATA = re.compile(r'<script type="application/json" id="bos-analytics-data">(.*?)</script>', re.S)


def figures(text: str) -> dict[str, str]:
    return {k: html.unescape(v.strip()) for k, v in _FIGURE.findall(text)}


def chart_data(text: str) -> dict[str, Any]:
    found = _DATA.search(text)
    assert found, text[:500]
    return json.loads(found.group(1))


def day(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def major(m: Money) -> float:
    return float(m.decimal)


@pytest.fixture(params=["flask", "fastapi"])
def admin(request: pytest.FixtureRequest, analytics_billing: Billing) -> Client:
    return make_client(request.param, analytics_billing)


def test_default_range_is_the_last_12_months_with_billing_analytics_figures(
        admin: Client, analytics_billing: Billing, analytics_db: tuple[Any, dict[str, int]]) -> None:
    a = analytics_billing.analytics
    page = admin.get(PAGE)
    assert page.status == 200, page.text[:500]
    start, end = datetime(2025, 2, 1, tzinfo=UTC), datetime(2026, 1, 21, tzinfo=UTC)   # Feb 2025 to today
    assert "1 Feb 2025 to 20 Jan 2026, by month" in page.text
    shown = figures(page.text)
    assert list(shown) == ["mrr", "arr", "customers", "arpa", "ltv", "net_new", "nrr", "grr",
                           "customer_churn_rate", "quick_ratio", "trial_conversion", "recovery_rate"]
    # the oracle from Stripe's own subscriptions, then the library's figures at the range's end
    facts = analytics_db[1]
    assert a.mrr(at=end) == Money(facts["mrr"], "usd")
    assert shown["mrr"] == Money(facts["mrr"], "usd").format()
    assert shown["arr"] == a.arr(at=end).format()
    assert shown["customers"] == f"{facts['paying']:,}" == f"{a.active_subscribers(at=end):,}"
    assert shown["arpa"] == a.arpa(at=end).format()      # type: ignore[union-attr]
    ltv = a.ltv(at=end)
    assert shown["ltv"] == (ltv.format() if ltv else "undefined")
    movements = a.movements(start, end, "month")
    net_new = sum(m.net_new.amount for m in movements)
    assert shown["net_new"] == Money(net_new, "usd").format()
    assert net_new == movements[-1].mrr_end.amount - movements[0].mrr_start.amount - sum(m.fx.amount for m in movements)
    whole = a.spans(start, end)[0]
    expected_nrr = Decimal(whole.mrr_start.amount + whole.expansion.amount - whole.contraction.amount
                           - whole.churn.amount) / whole.mrr_start.amount
    assert shown["nrr"] == f"{expected_nrr * 100:.1f}%"
    rates = [m.customer_churn_rate for m in movements if m.customer_churn_rate is not None]
    assert shown["customer_churn_rate"] == f"{sum(rates) / len(rates) * 100:.1f}%"
    trial = a.trial_conversion(start, end)
    assert shown["trial_conversion"] == (f"{trial * 100:.1f}%" if trial is not None else "undefined")
    # the chart data: one point per month, the library's numbers
    data = chart_data(page.text)
    assert len(data["labels"]) == 12 and data["labels"][0] == "Feb 2025" and data["labels"][-1] == "Jan 2026"
    assert data["mrr"] == [major(m.mrr_end) for m in movements]
    assert len(data["mrr_previous"]) == 12
    for key, sign in (("new", 1), ("expansion", 1), ("reactivation", 1), ("contraction", -1), ("churn", -1),
                      ("fx", 1)):
        assert data["movements"][key] == [sign * major(getattr(m, key)) for m in movements], key
    assert any(data["movements"]["reactivation"]) and any(data["movements"]["churn"])
    assert any(data["movements"]["fx"])                   # the euro customer, after the July rate change
    assert data["churn"]["customer_churn_rate"] == [None if m.customer_churn_rate is None else
                                                    float(round(m.customer_churn_rate * 100, 2)) for m in movements]
    # the accessible tables hold the same numbers
    for m in movements:
        assert f'<td class="bos-right">{m.mrr_end}</td>' in page.text
    # the heat map: one row per cohort, NRR per month since
    cohorts = a.cohorts(start, end)
    table = page.text.split('id="cohort-table"')[1].split("</table>")[0]
    assert table.count("<tr><th scope=\"row\"") == len(cohorts) == 12 - 1     # nobody first paid in Jan 2026
    for c in cohorts:
        assert f"{c.start:%b %Y}" in table
    first = table.split("<tbody>")[1].split("</tr>")[0]
    assert [f"{v * 100:.0f}%" for v in cohorts[0].nrr] == re.findall(r'bos-heat-\d+">(\d+%)<', first)
    # the top customers, biggest first, linking to their admin pages
    top = a.top_customers(end, 10)
    rows = page.text.split('id="top-table"')[1].split("</table>")[0]
    assert re.findall(r"customers/(cus_\w+)", rows) == [t.customer for t in top]
    assert "nav" in page.text and 'href="/billing/admin/analytics" aria-current="page"' in page.text


def test_the_date_range_picker_changes_the_figures(admin: Client, analytics_billing: Billing) -> None:
    a = analytics_billing.analytics
    page = admin.get(PAGE, start="2025-03-01", end="2025-08-31", interval="week")
    assert page.status == 200, page.text[:500]
    end = datetime(2025, 9, 1, tzinfo=UTC)
    weeks = a.movements(datetime(2025, 3, 1, tzinfo=UTC), end, "week")
    data = chart_data(page.text)
    assert len(data["labels"]) == len(weeks) == 27 and data["labels"][0] == "1 Mar 2025"
    assert data["mrr"] == [major(m.mrr_end) for m in weeks]
    shown = figures(page.text)
    assert shown["mrr"] == a.mrr(at=end).format() != figures(admin.get(PAGE).text)["mrr"]
    assert shown["customers"] == str(a.active_subscribers(at=end))
    assert 'value="2025-03-01"' in page.text and 'value="2025-08-31"' in page.text
    assert '<option value="week" selected>' in page.text
    # the CSV links keep the range
    assert f'{CSV}?kind=movements&amp;start=2025-03-01&amp;end=2025-08-31&amp;interval=week' in page.text
    # by day
    days = chart_data(admin.get(PAGE, start="2025-06-01", end="2025-06-30", interval="day").text)
    assert len(days["labels"]) == 30
    assert days["mrr"] == [major(m.mrr_end) for m in a.movements(date(2025, 6, 1), date(2025, 7, 1), "day")]


@pytest.mark.parametrize(("preset", "points", "first"), [("3m", 3, "Nov 2025"), ("6m", 6, "Aug 2025"),
                                                          ("12m", 12, "Feb 2025"), ("24m", 24, "Feb 2024")])
def test_presets(admin: Client, preset: str, points: int, first: str) -> None:
    page = admin.get(PAGE, range=preset)
    assert page.status == 200
    data = chart_data(page.text)
    assert len(data["labels"]) == points and data["labels"][0] == first and data["labels"][-1] == "Jan 2026"
    assert f'href="/billing/admin/analytics?range={preset}&amp;interval=month" aria-current="page"' in page.text


def test_weekly_presets_start_on_a_monday(admin: Client) -> None:
    data = chart_data(admin.get(PAGE, range="3m", interval="week").text)
    assert data["labels"][0] == "27 Oct 2025"       # the Monday on or before 1 Nov 2025
    assert datetime(2025, 10, 27).weekday() == 0


@pytest.mark.parametrize(("query", "message"), [
    ({"start": "2025-06-01", "end": "2025-05-01"}, "is before the start date"),
    ({"start": "yesterday", "end": "2025-05-01"}, "must be a date like 2025-01-31, got 'yesterday'"),
    ({"start": "NaN", "end": "NaN"}, "must be a date like 2025-01-31, got 'NaN'"),
    ({"start": "2025-02-30", "end": "2025-05-01"}, "must be a date like 2025-01-31"),
    ({"start": "2025-01-01", "end": ""}, "Give the end date too"),
    ({"start": "1999-12-31", "end": "2025-05-01"}, "between 2000 and 2198"),
    ({"start": "2000-01-01", "end": "2000-03-01"}, "previous period would begin before 2000"),
    ({"start": "2024-01-01", "end": "2025-12-31", "interval": "day"}, "more than 500 days"),
    ({"start": "2025-01-01", "end": "9999-12-31"}, "between 2000 and 2198"),
    ({"interval": "hour"}, "interval must be day, week or month, got 'hour'"),
    ({"range": "99m"}, "range must be one of 3m, 6m, 12m, 24m, got '99m'"),
    ({"start": "2025-01-01\x00", "end": "2025-02-01"}, "must be a date like 2025-01-31"),
    ({"start": "2" * 5000, "end": "2025-02-01"}, "(5,000 characters)"),
    ({"cohort": "evil"}, "cohort must be nrr, grr or customers"),
])
def test_bad_input_is_a_400_with_the_form(admin: Client, query: dict[str, str], message: str) -> None:
    page = admin.get(PAGE, **query)
    assert page.status == 400, (query, page.status, page.text[:300])
    assert message in html.unescape(page.text), page.text[:2000]
    assert 'role="alert"' in page.text and '<form method="get" action="/billing/admin/analytics"' in page.text
    assert "bos-analytics-data" not in page.text and "chart.umd.min.js" not in page.text


@pytest.mark.parametrize("kind", ["movements", "mrr", "customer_churn_rate", "cohorts", "top_customers", "ledger",
                                  "trial_conversion"])
def test_csv_downloads_are_the_librarys_export(admin: Client, analytics_billing: Billing, kind: str) -> None:
    answer = admin.get(CSV, kind=kind, start="2025-03-01", end="2025-08-31", interval="week")
    assert answer.status == 200, answer.text[:300]
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == \
        f'attachment; filename="{kind}_2025-03-01_2025-08-31_week.csv"'
    expected = analytics_billing.analytics.export(kind, date(2025, 3, 1), date(2025, 9, 1), "week")
    assert answer.text == expected and expected.count("\n") > 1


def test_every_download_link_on_the_page_works(admin: Client) -> None:
    page = admin.get(PAGE, range="6m")
    links = sorted(set(re.findall(r'href="(/billing/admin/analytics\.csv\?[^"]+)"', page.text)))
    assert len(links) == 14
    for link in links:
        answer = admin.get(html.unescape(link))
        assert answer.status == 200 and answer.text.count("\n") >= 2, link
    mrr = admin.get(CSV, kind="mrr", range="6m").text.splitlines()
    assert mrr[0] == "start,end,mrr,previous" and len(mrr) == 7


@pytest.mark.parametrize("query", [{"kind": "passwords"}, {"kind": ""}, {"kind": "mrr", "start": "nope", "end": "x"},
                                   {"kind": "mrr", "interval": "year"}])
def test_csv_bad_input_is_a_400(admin: Client, query: dict[str, str]) -> None:
    answer = admin.get(CSV, **query)
    assert answer.status == 400 and "text/html" in answer.headers["content-type"], answer.text[:300]


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_empty_books_render_zeros_and_undefined(world: World, kind: str) -> None:
    client = make_client(kind, world.billing)
    page = client.get(PAGE)
    assert page.status == 200, page.text[:500]
    shown = figures(page.text)
    assert shown["mrr"] == "$10.00" and shown["customers"] == "1"      # Alice's Basic plan
    assert shown["ltv"] == "undefined" and shown["quick_ratio"] == "undefined"
    assert client.get(CSV, kind="movements").status == 200


def test_owner_ids_that_look_like_formulas_are_defused_in_csv(world: World) -> None:
    b = world.billing
    carol = b.customers.create(owner_id="=HYPERLINK(\"http://x\")", email="carol@example.com")
    pm = b.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": carol.id})
    b.customers.update("=HYPERLINK(\"http://x\")", default_payment_method=pm.id)
    b.subscriptions.create(carol, price="pro_monthly")
    b.testing.drain()
    text = make_client("flask", b).get(CSV, kind="top_customers").text
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text


@pytest.mark.parametrize(("query", "start", "end"), [
    ({"range": "6m"}, date(2025, 8, 1), date(2026, 1, 21)),                       # LTV from the months read
    ({"start": "2025-08-04", "end": "2025-12-28", "interval": "week"}, date(2025, 8, 4), date(2025, 12, 29)),
    ({"start": "2025-05-15", "end": "2025-12-14"}, date(2025, 5, 15), date(2025, 12, 15)),   # months off the 1st
])
def test_ltv_now_and_before_are_the_librarys(admin: Client, analytics_billing: Billing, query: dict[str, str],
                                            start: date, end: date) -> None:
    a = analytics_billing.analytics
    page = admin.get(PAGE, **query)
    article = page.text.split('id="figure-ltv"')[1].split("</article>")[0]
    now, before = a.ltv(at=end), a.ltv(at=start)
    assert now is not None and before is not None
    assert figures(page.text)["ltv"] == now.format()
    assert f"from {before.format()}" in article and now != before


def test_spans_compare_each_customer_at_both_ends_and_refuse_bad_bounds(analytics_billing: Billing) -> None:
    from billingos.errors import InvalidInputError
    a = analytics_billing.analytics
    ps, s, e = date(2025, 2, 1), date(2025, 7, 1), date(2026, 1, 1)
    before, now = a.spans(ps, s, e)
    assert [before, now] == [a.spans(ps, s)[0], a.spans(s, e)[0]]
    monthly = a.movements(s, e)
    assert (now.mrr_start, now.mrr_end) == (monthly[0].mrr_start, monthly[-1].mrr_end)
    assert now.mrr_end - now.mrr_start == now.net_new + now.fx
    assert now.grr is not None and now.nrr is not None and now.grr <= 1 <= now.nrr     # expansion in the seed
    for bad in ((s,), (e, s), (s, s), (s, "2025-01-01")):
        with pytest.raises(InvalidInputError):
            a.spans(*bad)
