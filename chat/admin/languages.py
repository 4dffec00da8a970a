"""A site's languages, set on its page in the panel (chat/services/site_languages.py checks them)."""

from flask import flash, redirect, request, url_for
from flask_babel import gettext

from ..services import ValidationError, site_languages, sites
from . import bp
from .sites import _site_page


@bp.post("/sites/<public_id>/languages")
def update_site_languages(public_id):
    """Save the enabled languages and the default; a bad choice re-renders the page with its error (422)."""
    site = sites.get(public_id)
    form = {"default": request.form.get("default", ""), "enabled": request.form.getlist("enabled")}
    try:
        site_languages.save(site, form["default"], form["enabled"])
    except ValidationError as error:
        return _site_page(site, 422, languages_form=form, languages_errors=error.fields)
    flash(gettext("Languages saved."))
    return redirect(url_for("admin.site_page", public_id=site.public_id, _anchor="languages"), code=303)
