"""Response metrics from known fixtures: exact counts, percentiles, satisfaction, suggestions,
per-day rows, the page, the CSV and the JSON API; bad periods are refused."""

import csv
import io
import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.models import (
    Product,
    ProductInquiry,
    ProductMessage,
    PublishedQuestion,
    SuggestionView,
    User,
)
from chat.services import sites

NOW = datetime(2026, 11, 26, 12, 0)  # a Thursday
PERIOD = {"from": "2026-11-20", "to": "2026-11-26"}


@pytest.fixture
def app_config():
    return {"CHAT_CLOCK": lambda: NOW}


def _inquiry(product, session, created, seconds=None, rating=None, waiting=False, assignee=None, asked=None):
    inquiry = ProductInquiry(
        product_id=product.id,
        session_id=session,
        created_at=created,
        first_response_seconds=seconds,
        rating=rating,
        assigned_admin_id=assignee,
        first_response_at=created + timedelta(seconds=seconds) if seconds is not None else None,
        waiting_since=created if waiting else None,
    )
    db.session.add(inquiry)
    db.session.flush()
    db.session.add(
        ProductMessage(
            inquiry_id=inquiry.id, sender_type="customer", message_text="Which size?", created_at=asked or created
        )
    )
    return inquiry


def _view(question, session, at):
    db.session.add(
        SuggestionView(question_id=question.id, product_id=question.product_id, session_id=session, created_at=at)
    )


@pytest.fixture
def fixtures(app, demo):
    """Two products on the demo site, one on another site; days are Nov 2026."""
    with app.app_context():
        demo_site = sites.demo_site()
        other_site, _ = sites.create("Other shop", "https://other.example", public_id="other")
        a = Product(site_id=demo_site.id, external_id="A", name="Anorak")
        b = Product(site_id=demo_site.id, external_id="B", name="Boots")
        c = Product(site_id=other_site.id, external_id="C", name="Cap")
        db.session.add_all([a, b, c])
        db.session.flush()
        me = db.session.scalar(sa.select(User))
        d = lambda day, hour=10: datetime(2026, 11, day, hour)  # noqa: E731
        # Nov 20: three answered (1 min, 2 min, 10 min), rated good, good, bad.
        _inquiry(a, "s-a1", d(20, 9), 60, "good")
        _inquiry(a, "s-a2", d(20, 11), 120, "good")
        _inquiry(b, "s-b1", d(20, 15), 600, "bad")
        # Nov 21: answered after an hour, rated good; the customer wrote again and waits (assigned to me).
        _inquiry(a, "s-a3", d(21), 3600, "good", waiting=True, assignee=me.id)
        # Nov 22: unanswered, waiting, nobody assigned; and one on the other site (30 s).
        _inquiry(b, "s-b2", d(22), waiting=True)
        _inquiry(c, "s-c1", d(22), 30)
        # Before the period: not counted (but still waiting now).
        _inquiry(a, "s-old", d(19, 23), 9999, "bad", waiting=True)
        # Suggestions: s-v1 opened one and never wrote (served); s-v2 opened twice, then asked (not served);
        # s-b1 opened one after their only message (served); one view before the period (not counted).
        qa = PublishedQuestion(product_id=a.id, question="Waterproof?", answer="Yes.")
        qb = PublishedQuestion(product_id=b.id, question="Wide fit?", answer="Yes.")
        db.session.add_all([qa, qb])
        db.session.flush()
        _view(qa, "s-v1", d(23))
        _view(qa, "s-v2", d(23))
        _view(qa, "s-v2", d(23, 11))
        _inquiry(a, "s-v2", d(23, 12), asked=d(23, 12))
        _view(qb, "s-b1", d(24))
        _view(qa, "s-gone", d(10))
        db.session.commit()


def test_metrics_from_known_fixtures_are_exact(app, fixtures):
    from chat.services import metrics

    with app.app_context():
        report = metrics.compute(metrics.period_from(PERIOD))
        # Nov 20-26: 3 + 1 + 2 + 1 (s-v2's question on the 23rd) = 7 inquiries, 5 answered.
        assert (report.inquiries, report.answered) == (7, 5)
        # Sorted: 30, 60, 120, 600, 3600 s. Median: rank ceil(2.5) = 3; p90: rank ceil(4.5) = 5.
        assert (report.median_seconds, report.p90_seconds) == (120, 3600)
        assert (report.good, report.bad, report.good_share) == (3, 1, 0.75)
        assert (report.suggestion_openers, report.served_by_suggestion) == (3, 2)
        days = {d.day.isoformat(): (d.inquiries, d.answered, d.p50, d.p90) for d in report.days}
        assert len(report.days) == 7 and list(days)[0] == "2026-11-20" and list(days)[-1] == "2026-11-26"
        assert days["2026-11-20"] == (3, 3, 120, 600)  # 60, 120, 600: ranks 2 and 3
        assert days["2026-11-21"] == (1, 1, 3600, 3600)
        assert days["2026-11-22"] == (2, 1, 30, 30)
        assert days["2026-11-25"] == (0, 0, None, None)
        # Waiting now: whatever the period.
        assert [(r["product"], r["waiting"]) for r in report.waiting_by_product] == [("Anorak", 2), ("Boots", 1)]
        assert [(r["admin"], r["waiting"]) for r in report.waiting_by_assignee] == [(None, 2), ("Demo Admin", 1)]
        oldest = {r["product"]: r["oldest"] for r in report.waiting_by_product}
        assert oldest["Anorak"] == datetime(2026, 11, 19, 23)


def test_one_site_and_presets(app, fixtures):
    from chat.services import metrics

    with app.app_context():
        demo_only = metrics.compute(metrics.period_from(dict(PERIOD, site="demo")))
        # Without the Cap's 30 s: 60, 120, 600, 3600 -> median rank 2, p90 rank ceil(3.6) = 4.
        assert (demo_only.inquiries, demo_only.median_seconds, demo_only.p90_seconds) == (6, 120, 3600)
        other = metrics.compute(metrics.period_from(dict(PERIOD, site="other")))
        assert (other.inquiries, other.median_seconds, other.waiting_by_product) == (1, 30, [])
        assert other.suggestion_openers == 0
        week = metrics.period_from({"days": "7"})
        assert (week.start.isoformat(), week.end.isoformat()) == ("2026-11-20", "2026-11-26")
        default = metrics.period_from({})
        assert (default.start.isoformat(), default.days) == ("2026-10-28", 30)
        # Nov 19 joins with 90 days: 8 inquiries, 9999 s becomes the p90.
        quarter = metrics.compute(metrics.period_from({"days": "90"}))
        assert (quarter.inquiries, quarter.p90_seconds, quarter.bad) == (8, 9999, 2)


def test_the_page_shows_the_numbers_and_charts(app, fixtures, admin):
    client, _, _ = admin
    page = client.get("/admin/metrics?from=2026-11-20&to=2026-11-26")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'id="metric-inquiries">7<', html)
    assert re.search(r'id="metric-median">2 min<', html) and re.search(r'id="metric-p90">1 h 00 min<', html)
    assert "75%" in html and "(3 good, 1 not good)" in html
    assert re.search(r'id="metric-suggestions">2 <span class="muted">of 3 who opened one', html)
    # One bar per day, each with its value as text.
    chart = html.split('id="chart-inquiries"')[1].split("</svg>")[0]
    assert chart.count("<rect") == 7 and "<title>Fri, 20 Nov 2026: 3 inquiries</title>" in chart
    assert "<title>Sat, 21 Nov 2026: 1 inquiry</title>" in chart
    response = html.split('id="chart-response"')[1].split("</svg>")[0]
    assert "Fri, 20 Nov 2026: median 2 min" in response and "Fri, 20 Nov 2026: 90th percentile 10 min" in response
    by_product = html.split('id="waiting-by-product"')[1].split("</table>")[0]
    assert re.search(r"Anorak</a></td><td>2<", by_product) and re.search(r"Boots</a></td><td>1<", by_product)
    assert 'href="/admin/metrics' in client.get("/admin").get_data(as_text=True)  # in the nav


def test_names_are_escaped_on_the_page_and_kept_out_of_formulas_in_the_csv(app, fixtures, admin):
    client, _, _ = admin
    with app.app_context():
        evil = db.session.scalar(sa.select(Product).filter_by(external_id="B"))
        evil.name = '=HYPERLINK("x")<script>alert(1)</script>'
        db.session.commit()
    html = client.get("/admin/metrics").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    rows = list(csv.reader(io.StringIO(client.get("/admin/metrics.csv").get_data(as_text=True))))
    assert ["waiting_by_product", '\'=HYPERLINK("x")<script>alert(1)</script>', "waiting", "1"] in rows


def test_a_formula_after_a_separator_inside_a_name_is_neutralised_and_every_cell_quoted(app, fixtures, admin):
    client, _, _ = admin
    with app.app_context():
        product = db.session.scalar(sa.select(Product).filter_by(external_id="B"))
        product.name = "x;=1+1"
        db.session.commit()
    text = client.get("/admin/metrics.csv").get_data(as_text=True)
    assert '"waiting_by_product","\'x;=1+1","waiting","1"' in text.splitlines()
    assert all(line.startswith('"') and line.endswith('"') for line in text.splitlines())


@pytest.mark.parametrize(
    "value, written",
    [
        ("=1+1", "'=1+1"),
        ("x;=1+1", "'x;=1+1"),
        ("x, +1", "'x, +1"),
        ("line\n@SUM(A1)", "'line\n@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("-2", "'-2"),
        ("Rain jacket - blue", "Rain jacket - blue"),
        ("a@b.example", "a@b.example"),
        (-2, -2),
        (0.75, 0.75),
    ],
)
def test_csv_cells_that_could_run_as_formulas_read_as_text(value, written):
    from chat import spreadsheets

    assert spreadsheets.cell(value) == written


def test_csv_has_the_same_numbers(app, fixtures, admin):
    client, _, _ = admin
    response = client.get("/admin/metrics.csv?from=2026-11-20&to=2026-11-26")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "metrics-2026-11-20-2026-11-26.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["section", "key", "metric", "value"]
    table = {(s, k, m): v for s, k, m, v in rows[1:]}
    assert table[("totals", "", "inquiries")] == "7"
    assert table[("totals", "", "first_response_median_seconds")] == "120"
    assert table[("totals", "", "first_response_p90_seconds")] == "3600"
    assert table[("totals", "", "good_share")] == "0.75"
    assert table[("totals", "", "served_by_suggestion_alone")] == "2"
    assert table[("day", "2026-11-20", "first_response_p90_seconds")] == "600"
    assert table[("day", "2026-11-25", "first_response_p50_seconds")] == ""
    assert table[("waiting_by_assignee", "unassigned", "waiting")] == "2"


def test_json_api(app, fixtures, admin):
    client, _, _ = admin
    body = client.get("/api/admin/metrics?from=2026-11-20&to=2026-11-26&site=demo").get_json()
    assert body["inquiries"] == 6 and body["first_response_seconds"] == {"median": 120, "p90": 3600}
    assert body["satisfaction"] == {"good": 3, "bad": 1, "good_share": 0.75}
    assert body["suggestions"] == {"openers": 3, "served_alone": 2}
    assert body["days"][0] == {
        "date": "2026-11-20",
        "inquiries": 3,
        "answered": 3,
        "first_response_p50": 120,
        "first_response_p90": 600,
    }
    assert body["waiting_now"] == 3
    assert app.test_client().get("/api/admin/metrics").status_code == 401


@pytest.mark.parametrize(
    "query, field",
    [
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2026-11-26&to=2026-11-20", "from"),
        ("from=2020-01-01&to=2026-11-20", "from"),
        ("days=12", "days"),
        ("site=nope", "site"),
    ],
)
def test_bad_periods_are_refused_naming_the_field(app, demo, admin, query, field):
    client, _, _ = admin
    api = client.get(f"/api/admin/metrics?{query}")
    assert api.status_code == 422 and field in api.get_json()["fields"]
    page = client.get(f"/admin/metrics?{query}")
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and f'id="metrics-{field}-error"' in html
    assert client.get(f"/admin/metrics.csv?{query}").status_code == 422


def test_metrics_need_a_login(app, demo):
    anonymous = app.test_client()
    for path in ("/admin/metrics", "/admin/metrics.csv"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
