"""A stream's cursor: the newest message id it has sent. It only moves forward.

What a stream may promise, and why it holds:

- **Never again.** A stream never sends a message id at or below its cursor: not a
  retried send announced again, not an event that arrives after a catch-up already
  read its message. The cursor starts at the client's ``Last-Event-ID`` or
  ``after=`` (the newest id it shows).
- **Never skipped, always in order.** A message event names the message before it
  (``records.MessageStored.follows``): a stream whose cursor is exactly that one renders
  the event's own message. Any other message event is only a nudge (decision 3): a
  stream answers one that is past its cursor by reading its conversation's messages
  after the cursor from the database, oldest first. Writers commit one
  inquiry's messages in id order (``conversations.lock_for_message``), and a message
  is announced after its commit, so that read holds the announced message and every
  earlier one. Events that overtake each other on their way (two workers publish in
  any order) change nothing: the later one finds its message sent already.

The admin list's rows span every inquiry, whose commits are not ordered: its cursor
stops below the first id that is handed out but not visible yet (``inquiries.list_cursor``).
"""

from .names import Event


class Cursor:
    def __init__(self, position=None):
        self.position = position  # None: the client named none; no replay, live from now

    def take(self, message):
        """True if this flask-sse Message may be written: anything but a message, or a
        message past the cursor (which then moves to it)."""
        if message.type != Event.MESSAGE or not message.id:
            return True
        message_id = int(message.id)
        if self.position is not None and message_id <= self.position:
            return False
        self.position = message_id
        return True

    def read_from(self, message_id, read_to=None):
        """Where to read a stream's messages from on hearing that ``message_id`` was
        stored: after the cursor (or after ``read_to``, what this step read already), or
        None when those hold it. A stream opened without a cursor starts at the first
        message it hears of."""
        known = self.position if read_to is None else max(read_to, self.position or 0)
        if known is None:
            return message_id - 1
        return known if message_id > known else None
