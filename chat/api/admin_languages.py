"""Admin API: a site's languages (the shipped ones its shoppers may get, and the default).

Routes join the admin API blueprint (chat/api/admin.py), so its bearer-token /
session + CSRF check covers them.
"""

from flask import jsonify

from ..inputs import json_object
from ..services import site_languages, sites
from .admin import bp


@bp.get("/sites/<public_id>/languages")
def admin_get_site_languages(public_id):
    """``{"default": "en", "enabled": [...]}``: the languages the site's shoppers may get."""
    return jsonify(site_languages.of_site(sites.get(public_id)))


@bp.put("/sites/<public_id>/languages")
def admin_put_site_languages(public_id):
    """Replace them (422 naming the fields: an unknown code, a default not enabled)."""
    site = sites.get(public_id)
    data = json_object()
    return jsonify(site_languages.save(site, data.get("default"), data.get("enabled")))
