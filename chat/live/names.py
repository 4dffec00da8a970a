"""Every live event and channel name, defined once.

Services publish broker events by these names; streams send SSE events by
these names; templates get them as ``live`` (``sse-swap="{{ live.MESSAGE }}"``)
and JavaScript reads them from the ``data-live-events`` attribute, so a rename
is one edit here.
"""

from enum import StrEnum


class Event(StrEnum):
    MESSAGE = "message"  # a new message in a conversation
    MARKS = "marks"  # delivered/read marks moved on
    TYPING = "typing"  # someone is typing (ephemeral, no row behind it)
    PRESENCE = "presence"  # which admins have an inquiry open
    INQUIRY = "inquiry"  # an inquiry changed (the admin list re-renders its row)
    CONTROLS = "controls"  # status, priority or assignee changed (the open inquiry's controls)
    UNREAD = "unread"  # a shopper's unread answers, across the site
    WAITING = "waiting"  # how many inquiries wait for an answer (the admin badge); on the
    # broker: a message moved the count (ADMIN_NOTICES)
    CUSTOMER_WROTE = "customer-wrote"  # a customer wrote (admin streams only): the admins' notifications
    ROW = "row"  # an admin list row, rendered
    REMOVE = "remove"  # an admin list row leaves this list
    READY = "ready"  # the stream flows (first event after the replay)
    RESYNC = "resync"  # you may have missed events: reload from the database


def names_for_js():
    """The names as a JSON-ready dict for a data attribute."""
    return {event.name.lower(): event.value for event in Event}


# Channels, derived on the server from the session or the login, never from a request.
def customer_channel(session_id):
    return f"customer:{session_id}"


def inquiry_channel(inquiry_id):
    return f"inquiry:{inquiry_id}"


# The admin list's rows (Event.INQUIRY): only list pages subscribe.
ADMIN_LIST = "admins:list"
# What every admin page shows (Event.WAITING: the waiting badge and "a customer
# wrote"): a light channel, rendered once per worker for all its admin pages.
ADMIN_NOTICES = "admins:notices"
ADMINS = ADMIN_LIST  # the older name (one admin channel for everything)


def site_channel(channel, site_id):
    """ADMIN_LIST or ADMIN_NOTICES for one site's people only (people of every site hear ``channel``)."""
    return f"{channel}:site:{site_id}"


def admin_channels(channel, site_ids):
    """What a stream of an admin subscribes to for ``channel``: it, for every site (``site_ids``
    None), else one channel per site they work on."""
    if site_ids is None:
        return (channel,)
    return tuple(site_channel(channel, site_id) for site_id in sorted(site_ids))
