"""Geometry for the metrics page's server-rendered SVG charts (the template draws it).

Numbers in, coordinates out: no chart library, nothing for the browser to run.
Every bar and point carries its value as text (a <title>) for screen readers
and hover, and the page repeats the figures in tables.
"""

from dataclasses import dataclass

from babel import dates
from flask_babel import gettext, ngettext

from ..i18n import formats
from ..services.metrics import duration, nice_ceiling

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 28


def _long(day):
    """ "Mon 30 Nov 2026" in the panel's language."""
    return dates.format_skeleton("yMMMEd", day, locale=formats())


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    title: str


def _plot():
    return WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def _ticks(maximum, fmt):
    _, plot_h = _plot()
    return [{"y": round(TOP + plot_h - plot_h * f, 1), "label": fmt(maximum * f)} for f in (0, 0.5, 1)]


def _labels(days, slot):
    """About eight date labels under the x axis, whatever the number of days."""
    every = max(1, round(len(days) / 8))
    return [
        {"x": round(LEFT + slot * (i + 0.5), 1), "text": dates.format_skeleton("MMMd", d.day, locale=formats())}
        for i, d in enumerate(days)
        if i % every == 0
    ]


def inquiries_chart(days):
    plot_w, plot_h = _plot()
    top = nice_ceiling(max((d.inquiries for d in days), default=0))
    slot = plot_w / max(len(days), 1)
    bars = []
    for i, d in enumerate(days):
        h = plot_h * d.inquiries / top
        bars.append(
            Bar(
                round(LEFT + slot * i + slot * 0.15, 1),
                round(TOP + plot_h - h, 1),
                round(max(slot * 0.7, 1), 1),
                round(h, 1),
                str(d.inquiries),
                ngettext("%(day)s: %(num)s inquiry", "%(day)s: %(num)s inquiries", d.inquiries, day=_long(d.day)),
            )
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "bottom": TOP + plot_h,
        "right": WIDTH - RIGHT,
        "bars": bars,
        "ticks": _ticks(top, lambda v: f"{v:g}"),
        "labels": _labels(days, slot),
    }


def response_chart(days):
    """Two bars a day: median (p50) and p90 time to first answer, in business time."""
    plot_w, plot_h = _plot()
    top = nice_ceiling(max((d.p90 or 0 for d in days), default=0) / 60) * 60
    slot = plot_w / max(len(days), 1)
    series = {"p50": [], "p90": []}
    for i, d in enumerate(days):
        for j, name in enumerate(("p50", "p90")):
            value = getattr(d, name)
            if value is None:
                continue
            h = plot_h * value / top
            series[name].append(
                Bar(
                    round(LEFT + slot * i + slot * (0.1 + 0.4 * j), 1),
                    round(TOP + plot_h - h, 1),
                    round(max(slot * 0.38, 1), 1),
                    round(h, 1),
                    duration(value),
                    gettext("%(day)s: median %(time)s", day=_long(d.day), time=duration(value))
                    if name == "p50"
                    else gettext("%(day)s: 90th percentile %(time)s", day=_long(d.day), time=duration(value)),
                )
            )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "bottom": TOP + plot_h,
        "right": WIDTH - RIGHT,
        "series": series,
        "ticks": _ticks(top, lambda v: duration(round(v))),
        "labels": _labels(days, slot),
    }
