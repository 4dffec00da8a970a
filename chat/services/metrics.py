"""Response metrics over a period, computed in SQL (no rows loaded into Python).

One ``compute(period)`` feeds the admin page, its CSV and the JSON API, so the
three cannot disagree. Definitions (all days are UTC dates):

- *Inquiries per day*: inquiries created that day (``idx_created_at``).
- *Time to first answer*: ``first_response_seconds`` of the inquiries created
  in the period, i.e. seconds of the shop's business hours between the
  question and the first answer (set by ``inquiries.respond``). Percentiles
  are nearest-rank: the p-th percentile is the smallest time that at least
  p % of the answered inquiries did not exceed (the median of 4 answers is
  the 2nd smallest). Unanswered inquiries have no time and are not counted.
- *Waiting now*: the panel's "Waiting for us" queue (``inquiries.Filters``
  with ``waiting=True``) as it is now, whatever the period, grouped by product
  and by assignee, with the oldest wait of each group.
- *Satisfaction*: ratings of the inquiries created in the period: good, bad,
  and the good share of those rated.
- *Served by a suggested answer alone*: a shopper (chat session) who opened a
  suggested answer about a product in the period and sent no message about
  that product from their first opening on. Counted once per shopper and
  product, next to how many shopper-product pairs opened a suggestion at all.
"""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext

from .. import clock
from ..extensions import db
from ..models import INQUIRY_STATUSES, Product, ProductInquiry, ProductMessage, Site, SuggestionView, User
from . import access, inquiries, sites
from .errors import ValidationError

PRESETS = (7, 30, 90)
DEFAULT_DAYS = 30
MAX_DAYS = 366
PERCENTILES = (50, 90)


@dataclass
class Period:
    start: date  # first day, inclusive
    end: date  # last day, inclusive
    site: Site | None = None
    # The sites of the person asking (None: every site): the figures count only those.
    site_ids: frozenset | None = None

    @property
    def days(self):
        return (self.end - self.start).days + 1

    @property
    def since(self):
        return datetime.combine(self.start, datetime.min.time())

    @property
    def until(self):
        return datetime.combine(self.end + timedelta(days=1), datetime.min.time())

    def as_args(self):
        args = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.site is not None:
            args["site"] = self.site.public_id
        return args


def _date(value, name):
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError(
            gettext("%(name)s must be a date like 2026-01-31.", name=name), {name: gettext("a date, YYYY-MM-DD")}
        ) from None


def period_from(args, today=None, admin=None):
    """The period asked for by ``from``/``to`` (dates), or ``days`` (7, 30, 90), and ``site``.

    Default: the last 30 days up to today. Bad values are a 422 naming the field.
    """
    today = today or clock.now().date()
    raw_from, raw_to, raw_days = (args.get(name) or "" for name in ("from", "to", "days"))
    site = None
    if args.get("site"):
        site = sites.find(args.get("site"))
        if site is None or (admin is not None and not access.sees_site(admin, site.id)):
            raise ValidationError(gettext("No such site."), {"site": gettext("a site id")})
    if raw_days and not (raw_from or raw_to):
        if raw_days not in {str(d) for d in PRESETS}:
            raise ValidationError(gettext("days must be 7, 30 or 90."), {"days": gettext("7, 30 or 90")})
        return Period(today - timedelta(days=int(raw_days) - 1), today, site, _site_ids(admin))
    end = _date(raw_to, "to") if raw_to else today
    start = _date(raw_from, "from") if raw_from else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationError(gettext("The period starts after it ends."), {"from": gettext("on or before to")})
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationError(
            gettext("Choose at most %(num)s days.", num=MAX_DAYS),
            {"from": gettext("at most %(num)s days before to", num=MAX_DAYS)},
        )
    return Period(start, end, site, _site_ids(admin))


def _site_ids(admin):
    return access.visible_site_ids(admin) if admin is not None else None


def _products(period):
    """The period's site's (or the asker's sites') products as a subquery; None: every product."""
    if period.site is not None:
        return sa.select(Product.id).where(Product.site_id == period.site.id)
    if period.site_ids is not None:
        return sa.select(Product.id).where(Product.site_id.in_(period.site_ids or [-1]))
    return None


@dataclass
class Day:
    day: date
    inquiries: int = 0
    answered: int = 0
    p50: int | None = None
    p90: int | None = None


@dataclass
class Metrics:
    period: Period
    days: list
    inquiries: int
    answered: int
    median_seconds: int | None
    p90_seconds: int | None
    waiting_by_product: list  # [{"product_id", "product", "waiting", "oldest"}]
    waiting_by_assignee: list  # [{"admin_id", "admin", "waiting", "oldest"}]
    good: int
    bad: int
    suggestion_openers: int
    served_by_suggestion: int
    generated_at: datetime = field(default_factory=clock.now)

    @property
    def rated(self):
        return self.good + self.bad

    @property
    def good_share(self):
        """The share of rated inquiries rated good (0..1), or None with no rating."""
        return round(self.good / self.rated, 4) if self.rated else None

    @property
    def waiting(self):
        return sum(row["waiting"] for row in self.waiting_by_product)


def _inquiry_scope(period):
    """Inquiries created in the period (and on the site): a WHERE clause over indexed columns."""
    condition = sa.and_(ProductInquiry.created_at >= period.since, ProductInquiry.created_at < period.until)
    products = _products(period)
    if products is not None:
        condition = sa.and_(condition, ProductInquiry.product_id.in_(products))
    return condition


def _day(column):
    return sa.func.date(column)


def _as_date(value):
    # SQLite's date() is text, MariaDB's a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _rank_in(rank, total, percent):
    """The row at nearest rank ceil(percent/100 * total), in integers (no ceil() on SQLite)."""
    return sa.and_(rank * 100 >= total * percent, (rank - 1) * 100 < total * percent)


def _percentiles(scope, by_day):
    """{day or None: {50: seconds, 90: seconds}}: one window query over the answered inquiries.

    Overall and per day are two queries: MariaDB 10.11 mixed up the ranks of
    two windows with different orders in one SELECT.
    """
    seconds = ProductInquiry.first_response_seconds
    day = _day(ProductInquiry.created_at)
    partition = [day] if by_day else None
    ranked = (
        sa.select(
            (day if by_day else sa.literal(None)).label("day"),
            seconds.label("seconds"),
            sa.func.row_number().over(partition_by=partition, order_by=seconds).label("rank"),
            sa.func.count().over(partition_by=partition).label("total"),
        )
        .where(scope, seconds.is_not(None))
        .subquery()
    )
    out = {}
    for row in db.session.execute(
        sa.select(ranked.c.day, ranked.c.seconds, ranked.c.rank, ranked.c.total).where(
            sa.or_(*(_rank_in(ranked.c.rank, ranked.c.total, p) for p in PERCENTILES))
        )
    ):
        for p in PERCENTILES:
            if _hit(row.rank, row.total, p):
                out.setdefault(_as_date(row.day) if by_day else None, {})[p] = int(row.seconds)
    return out


def _hit(rank, total, percent):
    return rank * 100 >= total * percent and (rank - 1) * 100 < total * percent


def _per_day(period, scope):
    """Per-day rows and the period's totals (sums of the days): one grouped scan."""
    days = {period.start + timedelta(days=n): Day(period.start + timedelta(days=n)) for n in range(period.days)}
    good = sa.func.sum(sa.case((ProductInquiry.rating == "good", 1), else_=0))
    bad = sa.func.sum(sa.case((ProductInquiry.rating == "bad", 1), else_=0))
    totals = [0, 0, 0, 0]
    for day, count, answered, good_count, bad_count in db.session.execute(
        sa.select(
            _day(ProductInquiry.created_at).label("day"),
            sa.func.count(),
            sa.func.count(ProductInquiry.first_response_seconds),
            good,
            bad,
        )
        .where(scope)
        .group_by(_day(ProductInquiry.created_at))
    ):
        row = days.get(_as_date(day))
        if row is not None:
            row.inquiries, row.answered = int(count), int(answered)
        for i, value in enumerate((count, answered, good_count, bad_count)):
            totals[i] += int(value or 0)
    overall = _percentiles(scope, by_day=False).get(None, {})
    for day, values in _percentiles(scope, by_day=True).items():
        if day in days:
            days[day].p50, days[day].p90 = values.get(50), values.get(90)
    return list(days.values()), totals, overall


def _waiting(period, column):
    """(key, count, oldest) per value of ``column`` over the waiting queue, biggest first."""
    waiting = inquiries.filtered_query(inquiries.Filters(status="all", waiting=True), None)
    # Always true (status is one of these), but it lets (status, waiting_since) range over the waiting rows.
    waiting = waiting.where(ProductInquiry.status.in_(INQUIRY_STATUSES))
    products = _products(period)
    if products is not None:
        waiting = waiting.where(ProductInquiry.product_id.in_(products))
    queue = waiting.subquery()
    key = queue.c[column]
    return (
        sa.select(
            key.label("key"), sa.func.count().label("waiting"), sa.func.min(queue.c.waiting_since).label("oldest")
        )
        .group_by(key)
        .subquery()
    )


def waiting_by_product(period):
    groups = _waiting(period, "product_id")
    rows = db.session.execute(
        sa.select(groups.c.key, Product.name, groups.c.waiting, groups.c.oldest)
        .join(Product, Product.id == groups.c.key)
        .order_by(groups.c.waiting.desc(), Product.name)
    )
    return [
        {"product_id": key, "product": name, "waiting": int(count), "oldest": oldest}
        for key, name, count, oldest in rows
    ]


def waiting_by_assignee(period):
    groups = _waiting(period, "assigned_admin_id")
    rows = db.session.execute(
        sa.select(groups.c.key, User.name, groups.c.waiting, groups.c.oldest)
        .join(User, User.id == groups.c.key, isouter=True)
        .order_by(groups.c.waiting.desc(), User.name)
    )
    return [
        {"admin_id": key, "admin": name, "waiting": int(count), "oldest": oldest} for key, name, count, oldest in rows
    ]


def _suggestions(period):
    """(shopper-product pairs that opened a suggestion, of them served by it alone)."""
    views = sa.select(
        SuggestionView.session_id, SuggestionView.product_id, sa.func.min(SuggestionView.created_at).label("first_view")
    ).where(SuggestionView.created_at >= period.since, SuggestionView.created_at < period.until)
    products = _products(period)
    if products is not None:
        views = views.where(SuggestionView.product_id.in_(products))
    first = views.group_by(SuggestionView.session_id, SuggestionView.product_id).subquery()
    asked_after = (
        sa.select(ProductMessage.id)
        .join(ProductInquiry, ProductInquiry.id == ProductMessage.inquiry_id)
        .where(
            ProductInquiry.session_id == first.c.session_id,
            ProductInquiry.product_id == first.c.product_id,
            ProductMessage.sender_type == "customer",
            ProductMessage.created_at >= first.c.first_view,
        )
        .exists()
    )
    openers, served = db.session.execute(
        sa.select(sa.func.count(), sa.func.sum(sa.case((asked_after, 0), else_=1))).select_from(first)
    ).one()
    return int(openers), int(served or 0)


def compute(period):
    """Every figure for the period (see the module docstring for what each means)."""
    scope = _inquiry_scope(period)
    days, (count, answered, good, bad), overall = _per_day(period, scope)
    openers, served = _suggestions(period)
    return Metrics(
        period=period,
        days=days,
        inquiries=count,
        answered=answered,
        median_seconds=overall.get(50),
        p90_seconds=overall.get(90),
        waiting_by_product=waiting_by_product(period),
        waiting_by_assignee=waiting_by_assignee(period),
        good=good,
        bad=bad,
        suggestion_openers=openers,
        served_by_suggestion=served,
    )


def _iso(value):
    return value.isoformat() + "Z" if value is not None else None


def as_dict(metrics):
    """The JSON form (the API's MetricsReport)."""
    period = metrics.period
    return {
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "site": period.site.public_id if period.site else None,
        "inquiries": metrics.inquiries,
        "answered": metrics.answered,
        "first_response_seconds": {"median": metrics.median_seconds, "p90": metrics.p90_seconds},
        "satisfaction": {"good": metrics.good, "bad": metrics.bad, "good_share": metrics.good_share},
        "suggestions": {"openers": metrics.suggestion_openers, "served_alone": metrics.served_by_suggestion},
        "waiting_now": metrics.waiting,
        "waiting_by_product": [dict(row, oldest=_iso(row["oldest"])) for row in metrics.waiting_by_product],
        "waiting_by_assignee": [dict(row, oldest=_iso(row["oldest"])) for row in metrics.waiting_by_assignee],
        "days": [
            {
                "date": d.day.isoformat(),
                "inquiries": d.inquiries,
                "answered": d.answered,
                "first_response_p50": d.p50,
                "first_response_p90": d.p90,
            }
            for d in metrics.days
        ],
    }


CSV_HEADER = ("section", "key", "metric", "value")


def csv_rows(metrics):
    """The same numbers in a tidy long format: one (section, key, metric, value) per figure."""
    period = metrics.period
    yield CSV_HEADER
    yield ("period", "", "from", period.start.isoformat())
    yield ("period", "", "to", period.end.isoformat())
    yield ("period", "", "site", period.site.public_id if period.site else "all")
    for metric, value in (
        ("inquiries", metrics.inquiries),
        ("answered", metrics.answered),
        ("first_response_median_seconds", metrics.median_seconds),
        ("first_response_p90_seconds", metrics.p90_seconds),
        ("rated_good", metrics.good),
        ("rated_bad", metrics.bad),
        ("good_share", metrics.good_share),
        ("suggestion_openers", metrics.suggestion_openers),
        ("served_by_suggestion_alone", metrics.served_by_suggestion),
        ("waiting_now", metrics.waiting),
    ):
        yield ("totals", "", metric, "" if value is None else value)
    for d in metrics.days:
        for metric in ("inquiries", "answered", "p50", "p90"):
            value = getattr(d, metric)
            yield (
                "day",
                d.day.isoformat(),
                metric if metric in ("inquiries", "answered") else f"first_response_{metric}_seconds",
                "" if value is None else value,
            )
    for row in metrics.waiting_by_product:
        yield ("waiting_by_product", row["product"], "waiting", row["waiting"])
    for row in metrics.waiting_by_assignee:
        yield ("waiting_by_assignee", row["admin"] or "unassigned", "waiting", row["waiting"])


def duration(seconds):
    """ "45 s", "12 min", "3 h 05 min" (business time), or an em dash."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def nice_ceiling(value):
    """A round axis maximum at or above value (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power
