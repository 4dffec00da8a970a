"""Rate limits shared by the HTML and JSON sides (one budget per customer)."""
from flask import current_app

from ..extensions import limiter
from .. import identity

# One shared budget for sending, whichever endpoint the message comes through.
send_limit = limiter.shared_limit(lambda: current_app.config["CHAT_SEND_RATE_LIMIT"], scope="chat-send",
                                  key_func=identity.rate_key)
typing_limit = limiter.limit("40/minute", key_func=identity.rate_key)
