"""The app's idea of "now" (naive UTC), which tests can fix.

``app.config["CHAT_CLOCK"]``, when set, is a callable returning a naive UTC
datetime; production leaves it unset and gets the real time. Only code whose
behaviour depends on the time of day (business hours, metrics' default
period) asks here, so a test fixes one setting instead of patching datetime.
"""

from flask import current_app, has_app_context

from .models import utcnow


def now():
    clock = current_app.config.get("CHAT_CLOCK") if has_app_context() else None
    return clock() if clock else utcnow()
