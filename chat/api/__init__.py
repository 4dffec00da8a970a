"""The JSON API for integrators: the seed's endpoints, over the service layer."""
from flask import Blueprint, request

from ..customer import identity
from ..extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)


@bp.before_request
def csrf_unless_header_session():
    # CSRF rides on cookies: a caller whose session comes from our cookie
    # must send the token. A custom header cannot be sent cross-site without
    # CORS, so X-Chat-Session callers (and first calls with no session) need none.
    if request.path.startswith("/api/admin/"):
        return  # the admin API checks its own (chat/api/admin.py)
    unsafe = request.method in ("POST", "PUT", "PATCH", "DELETE")
    if unsafe and not identity.via_header() and request.cookies.get(identity.COOKIE_NAME):
        csrf.protect()


from . import admin, customer  # noqa: E402,F401
