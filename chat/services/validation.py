"""Input checks shared by every entry point."""
import re
import uuid

from flask import current_app

from .errors import ValidationError

# Deliberately simple: one @, a dot in the domain, no spaces. Real checking
# is the confirmation mail; this catches typos without rejecting real ones.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def message_text(value, field="message_text"):
    if not isinstance(value, str):
        raise ValidationError("Message must be text.", {field: "must be a string"})
    if not value.strip():
        raise ValidationError("Please type a message.", {field: "must not be empty"})
    limit = current_app.config["CHAT_MAX_MESSAGE_LENGTH"]
    if len(value) > limit:
        raise ValidationError(
            f"Messages can be at most {limit} characters (this one has {len(value)}).",
            {field: f"at most {limit} characters"},
        )
    # Stored as typed; only normalise line endings so \r\n and \n render alike.
    return value.replace("\r\n", "\n").replace("\r", "\n")


def client_msg_id(value, field="client_message_id"):
    if value in (None, ""):
        return None
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise ValidationError("Bad message id.", {field: "must be a UUID"}) from None


def email(value, field="customer_email"):
    if not isinstance(value, str):
        raise ValidationError("Email must be text.", {field: "must be a string"})
    value = value.strip()
    if len(value) > 254 or not EMAIL_RE.match(value):
        raise ValidationError("Please enter a valid email address.", {field: "not a valid email address"})
    return value


def message_id_list(value, field="message_ids"):
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise ValidationError("message_ids must be a list of integers.", {field: "must be a list of integers"})
    return value
