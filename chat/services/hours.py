"""Business hours: when a site's shop answers, in its own time zone.

Hours are stored per site as JSON, ``{"mon": [["09:00", "17:30"]], ..., "sun": []}``
(several spans a day allowed; a day left out is closed), with an IANA time zone
(``Europe/Berlin``). No hours at all means always open. Everything here takes
and returns naive UTC datetimes, like the rest of the app; ``zoneinfo`` (the
standard library) handles daylight saving.
"""

import json
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask_babel import gettext

from .errors import ValidationError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = dict(zip(DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")))
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
MAX_SCAN_DAYS = 14  # a week with no open hour at all is "never open"


def parse(value):
    """Validate hours given as a dict (or JSON text); returns the normalised dict, or None (always open)."""
    if value in (None, "", {}):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValidationError(gettext("Hours must be JSON."), {"hours": gettext("not JSON")}) from None
    if not isinstance(value, dict) or set(value) - set(DAYS):
        raise ValidationError(
            gettext("Hours are given per day: mon, tue, ... sun."), {"hours": gettext("keys mon..sun")}
        )
    hours = {}
    for day in DAYS:
        spans = value.get(day) or []
        if not isinstance(spans, list) or len(spans) > 4:
            raise ValidationError(
                gettext("%(day)s: give up to 4 spans.", day=_day_name(day)), {day: gettext("up to 4 [from, to] spans")}
            )
        clean = []
        for span in spans:
            if (
                not isinstance(span, list)
                or len(span) != 2
                or not all(isinstance(t, str) and _HHMM.match(t) for t in span)
                or span[0] >= span[1]
            ):
                raise ValidationError(
                    gettext("%(day)s: a span is two times like 09:00 and 17:30, in order.", day=_day_name(day)),
                    {day: gettext('["HH:MM", "HH:MM"], from before to')},
                )
            clean.append(span)
        clean.sort()
        for earlier, later in zip(clean, clean[1:]):
            if later[0] < earlier[1]:
                raise ValidationError(
                    gettext("%(day)s: spans overlap.", day=_day_name(day)), {day: gettext("spans overlap")}
                )
        hours[day] = clean
    return hours


def _day_name(day):
    """ "Monday", "Montag": a day ("mon"...) in the language of the page or mail (Babel's names)."""
    from babel.dates import get_day_names

    from ..i18n import formats

    return get_day_names("wide", locale=formats())[DAYS.index(day)].capitalize()


def zone(name):
    """A time zone by its IANA name (400-free: 422 naming the field)."""
    if not isinstance(name, str) or name not in available_timezones():
        raise ValidationError(
            gettext("Choose a time zone such as Europe/Berlin."), {"timezone": gettext("an IANA time zone")}
        )
    return name


class Hours:
    """One site's hours, ready to answer questions about UTC instants."""

    def __init__(self, hours_json, timezone_name):
        self.hours = json.loads(hours_json) if isinstance(hours_json, str) and hours_json else hours_json
        try:
            self.tz = ZoneInfo(timezone_name or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self.tz = ZoneInfo("UTC")

    @classmethod
    def of(cls, site):
        return cls(site.business_hours, site.timezone)

    @property
    def always_open(self):
        return not self.hours

    def _local(self, utc_naive):
        return utc_naive.replace(tzinfo=UTC).astimezone(self.tz)

    def _spans_on(self, local_date):
        """The open spans of a local date, as aware local datetimes."""
        out = []
        for start, end in self.hours.get(DAYS[local_date.weekday()], []):
            begin = datetime.combine(local_date, _time(start), self.tz)
            finish = (
                datetime.combine(local_date + timedelta(days=1), time(0), self.tz)
                if end == "24:00"
                else datetime.combine(local_date, _time(end), self.tz)
            )
            out.append((begin, finish))
        return out

    def is_open(self, at):
        if self.always_open:
            return True
        local = self._local(at)
        return any(begin <= local < end for begin, end in self._spans_on(local.date()))

    def next_open(self, at):
        """When the shop opens next (``at`` itself while open); None if it never does."""
        if self.always_open or self.is_open(at):
            return at
        local = self._local(at)
        for offset in range(MAX_SCAN_DAYS):
            for begin, _ in self._spans_on(local.date() + timedelta(days=offset)):
                if begin > local:
                    return begin.astimezone(UTC).replace(tzinfo=None)
        return None

    def open_seconds(self, start, end):
        """Seconds of open time between two UTC instants (all of them when always open)."""
        if end <= start:
            return 0
        if self.always_open:
            return int((end - start).total_seconds())
        a, b = self._local(start), self._local(end)
        total = 0.0
        day = a.date() - timedelta(days=1)  # a span from the day before may run past midnight
        while day <= b.date():
            for begin, finish in self._spans_on(day):
                overlap = (min(finish, b) - max(begin, a)).total_seconds()
                if overlap > 0:
                    total += overlap
            day += timedelta(days=1)
        return int(total)

    def describe_next_open(self, at):
        """ "today at 09:00", "tomorrow at 09:00", "on Monday at 09:00" (local time of the shop),
        in the page's language."""
        from babel import dates
        from flask_babel import gettext

        from ..i18n import formats

        when = self.next_open(at)
        if when is None:
            return None
        local, now = self._local(when), self._local(at)
        days = (local.date() - now.date()).days
        locale = formats()
        clock = dates.format_time(local, "short", locale=locale)
        if days == 0:
            return gettext("today at %(time)s", time=clock)
        if days == 1:
            return gettext("tomorrow at %(time)s", time=clock)
        return gettext("on %(day)s at %(time)s", day=dates.format_date(local.date(), "EEEE", locale=locale), time=clock)


def check(timezone_name, hours_value):
    """A time zone and hours validated together: one error names every bad field."""
    problems, messages, cleaned = {}, [], []
    for clean, value in ((zone, timezone_name), (parse, hours_value)):
        try:
            cleaned.append(clean(value))
        except ValidationError as error:
            problems.update({name: error.message for name in error.fields})
            messages.append(error.message)
    if problems:
        raise ValidationError(" ".join(messages), problems)
    return cleaned


def save(site, timezone_name, hours_value):
    """Set a site's time zone and hours (None: always open); both are checked before either is stored."""
    from ..extensions import db

    site.timezone, hours_value = check(timezone_name, hours_value)
    site.business_hours = json.dumps(hours_value) if hours_value else None
    from . import audit

    audit.record("hours.changed", "site", site.public_id, f"time zone {site.timezone}")
    db.session.commit()
    return site


def of_site(site):
    """The stored hours of a site as a dict, or None (always open)."""
    return json.loads(site.business_hours) if site.business_hours else None


def from_form(mode, day_texts):
    """Hours from the settings form: ``mode`` "always" or "hours", and per day a text such as
    "09:00-12:30, 13:30-18:00" (empty: closed). Errors name the day's field."""
    if mode == "always":
        return None
    if mode != "hours":
        raise ValidationError(gettext("Choose always open or opening hours."), {"mode": gettext("always or hours")})
    value, problems = {}, {}
    for day in DAYS:
        text = (day_texts.get(day) or "").strip()
        spans = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            ends = [t.strip() for t in part.replace("–", "-").split("-")]
            if len(ends) != 2:
                problems[day] = gettext(
                    "%(day)s: write spans like 09:00-17:30, separated by commas.", day=_day_name(day)
                )
                break
            spans.append([_padded(t) for t in ends])
        value[day] = spans
    if problems:
        raise ValidationError(" ".join(problems.values()), problems)
    if not any(value.values()):
        text = gettext("Give the hours of at least one day, or choose always open.")
        raise ValidationError(text, {"mon": text})
    try:
        return parse(value)
    except ValidationError as error:
        raise ValidationError(error.message, {name: error.message for name in error.fields}) from None


def as_form(hours_value):
    """The form's texts per day for stored hours."""
    hours_value = hours_value or {}
    return {day: ", ".join(f"{a}-{b}" for a, b in hours_value.get(day, [])) for day in DAYS}


def _padded(text):
    # "9:00" is what people type; the stored form is "09:00".
    return "0" + text if len(text) == 4 and text[1] == ":" else text


def _time(text):
    hours, minutes = map(int, text.split(":"))
    return time(hours % 24, minutes)
