"""The shopper rates an answered question from the widget."""

from flask import request
from flask_babel import gettext

from ..htmx import render_fragment
from ..services import ratings
from ..services.errors import Conflict, NotFound, ValidationError
from . import bp
from .views import _inquiry


@bp.app_template_global("rating_offered")
def rating_offered(message):
    return ratings.offered_on(message)


@bp.post("/embed/<site>/products/<external:external_id>/rating")
def rate():
    """Good or not good (and an optional comment) for the caller's own resolved inquiry."""
    inquiry = _inquiry()
    if inquiry is None:
        raise NotFound(gettext("No conversation about this product yet."), {"inquiry": "none yet"})
    try:
        ratings.rate(inquiry, request.form.get("rating"), request.form.get("comment"))
    except ValidationError as error:
        return render_fragment("conversation/_rating.html", inquiry=inquiry, error=error.message, status=422)
    except Conflict:
        # Not answered (or reopened since the form was shown): say so in place of the buttons.
        return render_fragment("conversation/_rating.html", inquiry=inquiry, not_resolved=True)
    return render_fragment("conversation/_rating.html", inquiry=inquiry, saved=True)
