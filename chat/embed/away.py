"""Outside the shop's business hours, the widget says when an answer can be expected.

``shop_away()`` (for the embed templates) is None while the site is open (or
has no hours), else when it opens next: the shop's own wording ("on Monday at
09:00", in its time zone) and the UTC instant, which conversation.js shows in
the shopper's local time (``time[data-local]``). The clock is ``chat.clock``,
so tests fix it with ``CHAT_CLOCK``.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import g

from .. import clock
from ..services import hours
from . import bp


@dataclass
class Away:
    when: str | None  # "tomorrow at 09:00" in the shop's zone; None: no opening hours at all
    opens_at: datetime | None  # naive UTC
    zone: str


def away_for(site, now=None):
    """None while the site answers, else an ``Away``."""
    now = now or clock.now()
    shop = hours.Hours.of(site)
    if shop.is_open(now):
        return None
    return Away(shop.describe_next_open(now), shop.next_open(now), site.timezone or "UTC")


@bp.app_context_processor
def away_notice():
    def shop_away():
        site = g.get("chat_site")
        if site is None:
            return None
        if "shop_away" not in g:
            g.shop_away = away_for(site)
        return g.shop_away

    return {"shop_away": shop_away}
