"""Admin API: a site's business hours, and the response metrics (the panel's numbers as JSON).

Routes join the admin API blueprint (chat/api/admin.py), so its bearer-token /
session + CSRF check covers them.
"""

from flask import jsonify, request
from flask_babel import gettext

from .. import clock
from ..inputs import json_object
from ..services import ValidationError, hours, metrics, sites
from .admin import bp, current_admin


def _hours_json(site):
    now = clock.now()
    shop = hours.Hours.of(site)
    next_open = shop.next_open(now)
    return {
        "site": site.public_id,
        "timezone": site.timezone,
        "hours": hours.of_site(site),
        "open_now": shop.is_open(now),
        "next_open": next_open.isoformat() + "Z" if next_open is not None else None,
    }


@bp.get("/sites/<public_id>/hours")
def admin_get_site_hours(public_id):
    """The site's time zone and weekly hours (null: always open), and whether it is open now."""
    return jsonify(_hours_json(sites.get(public_id)))


@bp.put("/sites/<public_id>/hours")
def admin_put_site_hours(public_id):
    """Replace the time zone and hours together (422 naming the fields; nothing stored then)."""
    site = sites.get(public_id)
    data = json_object()
    if "timezone" not in data:
        raise ValidationError(gettext("timezone is required."), {"timezone": gettext("required")})
    hours.save(site, data["timezone"], data.get("hours"))
    return jsonify(_hours_json(site))


@bp.get("/metrics")
def admin_metrics():
    """Response metrics for ``from``..``to`` (or ``days`` 7/30/90; default the last 30 days), optionally a ``site``."""
    return jsonify(metrics.as_dict(metrics.compute(metrics.period_from(request.args, admin=current_admin()))))
