"""A site's business hours and time zone, set on its page in the panel (chat/services/hours.py checks them)."""

from functools import cache
from zoneinfo import available_timezones

from flask import flash, redirect, request, url_for
from flask_babel import gettext

from ..services import ValidationError, hours, sites
from . import bp
from .sites import _site_page


@cache
def zone_names():
    """Every IANA zone name, sorted (the select's options), computed once (it reads the zone files)."""
    return tuple(sorted(available_timezones()))


@bp.app_context_processor
def hours_form_helpers():
    return {
        "time_zone_names": zone_names,
        "hours_as_form": lambda site: hours.as_form(hours.of_site(site)),
        "hours_days": hours.DAYS,
        "hours_day_names": hours.DAY_NAMES,
        "weekday_name": weekday_name,
    }


def weekday_name(day):
    """ "Monday", "Montag": a weekday ("mon"...) in the panel's language (Babel's names)."""
    from babel.dates import get_day_names

    from ..i18n import formats

    return get_day_names("wide", locale=formats())[hours.DAYS.index(day)].capitalize()


@bp.post("/sites/<public_id>/hours")
def update_site_hours(public_id):
    """Save the time zone and weekly hours together; a bad field re-renders the page with its error (422)."""
    site = sites.get(public_id)
    form = {
        "mode": request.form.get("mode", ""),
        "timezone": request.form.get("timezone", ""),
        "days": {day: request.form.get(day, "") for day in hours.DAYS},
    }
    try:
        hours.save(site, form["timezone"], hours.from_form(form["mode"], form["days"]))
    except ValidationError as error:
        return _site_page(site, 422, hours_form=form, hours_errors=error.fields)
    flash(gettext("Business hours saved."))
    return redirect(url_for("admin.site_page", public_id=site.public_id, _anchor="hours"), code=303)
