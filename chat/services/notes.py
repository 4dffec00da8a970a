"""Private notes: what admins write on an inquiry for each other.

A note is a message row of type "note" with internal visibility, so every
customer-facing query (``conversations.customer_visible``) leaves it out and
it is never announced on the customer's channel. It is not an answer: the
wait, the first-response time and the unread counts ignore it.
"""

from . import conversations, validation


def add(inquiry_id, admin, text):
    """Store a note by ``admin``; other admins viewing the inquiry see it live."""
    text = validation.message_text(text, "text")
    result = conversations.add_admin_message(
        inquiry_id, text, admin_id=admin.id, message_type="note", visibility="internal"
    )
    return result.message
