"""Admin API for Web Push: subscribe this browser (its ``PushSubscription`` JSON), unsubscribe.

Routes on the admin API blueprint (chat/api/admin.py). A subscription belongs to the
login session that made it, so an API token (no device, no session) gets 403.
"""

from flask import jsonify, request

from ..inputs import json_object
from ..services import push
from .admin import bp, current_admin


@bp.post("/push-subscriptions")
def admin_subscribe_push():
    """This browser's push subscription (201 ``{"id"}``); the same endpoint again updates it."""
    row = push.subscribe(current_admin(), json_object(), request.headers.get("User-Agent"))
    return jsonify(id=row.id), 201


@bp.delete("/push-subscriptions/<id:subscription_id>")
def admin_unsubscribe_push(subscription_id):
    """Stop pushing to that device (204); 404 if it is not one of the caller's."""
    push.unsubscribe(current_admin(), subscription_id)
    return "", 204
