"""Value rules shared by every entry point (HTML forms, JSON, CLI).

Ids are ASCII digits within a signed 64-bit range (``"²".isdigit()`` is True
and ``int("²")`` raises; SQLite overflows past 2**63). Text is a str without
lone surrogates (JSON's ``"\\ud800"`` parses into one and cannot be encoded
as UTF-8) and without NUL.
"""

import ipaddress
import re
import unicodedata
import uuid
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from email.errors import HeaderParseError, MessageError
from email.headerregistry import Address
from urllib.parse import urlsplit

import email_validator
from flask import current_app
from flask_babel import gettext, lazy_gettext

from .errors import BadParameter, UnknownChoice, ValidationError

MAX_ID = 2**63 - 1

_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_id(value, field, allow_zero=False):
    """``value`` (str or int) as a database id, or a 400 naming ``field``."""
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
    else:
        number = None
    if number is None or not (0 if allow_zero else 1) <= number <= MAX_ID:
        raise BadParameter(
            gettext("%(field)s must be an id (a positive whole number).", field=field),
            {field: gettext("must be a positive integer below 2^63")},
        )
    return number


# The words a reader knows a field by, in their language (a message says "Nachricht muss
# Text sein.", never "Message muss ..."). A caller whose field is not here passes ``what``
# (a ``lazy_gettext``); the machine name stays the key of the error's ``fields``.
FIELD_LABELS = {
    "message_text": lazy_gettext("Message"),
    "email": lazy_gettext("Email"),
    "customer_email": lazy_gettext("Email"),
    "comment": lazy_gettext("Comment"),
    "customer_id": lazy_gettext("Customer id"),
    "page_title": lazy_gettext("Page title"),
    "page_url": lazy_gettext("Page address"),
    "url": lazy_gettext("URL"),
    "origin": lazy_gettext("Origin"),
}


def label(field, what=None):
    """What a message calls ``field``: ``what`` if given, else its label, else "Text"."""
    return what or FIELD_LABELS.get(field) or lazy_gettext("Text")


def clean_text(value, field, max_length=None, required=True, what=None):
    """A str without lone surrogates or NUL, within ``max_length``; 422 otherwise."""
    what = label(field, what)
    if not isinstance(value, str):
        raise ValidationError(gettext("%(what)s must be text.", what=what), {field: gettext("must be a string")})
    if _SURROGATE.search(value) or "\x00" in value:
        raise ValidationError(
            gettext("%(what)s contains characters that are not valid text.", what=what),
            {field: gettext("must be valid UTF-8 text without NUL")},
        )
    if required and not value.strip():
        raise ValidationError(gettext("Please fill in: %(what)s.", what=what), {field: gettext("must not be empty")})
    if max_length is not None and len(value) > max_length:
        raise ValidationError(
            gettext(
                "%(what)s can be at most %(max)s characters (this one has %(length)s).",
                what=what,
                max=max_length,
                length=len(value),
            ),
            {field: gettext("at most %(max)s characters", max=max_length)},
        )
    return value


def message_text(value, field="message_text", required=True):
    """A message's text; ``required`` False (files came with it) lets it be empty."""
    if not required and value is None:
        value = ""
    if required and isinstance(value, str) and not value.strip() and not _SURROGATE.search(value):
        raise ValidationError(gettext("Please type a message."), {field: gettext("must not be empty")})
    longest = current_app.config["CHAT_MAX_MESSAGE_LENGTH"]
    if isinstance(value, str) and len(value) > longest:
        raise ValidationError(
            gettext(
                "Messages can be at most %(max)s characters (this one has %(length)s).",
                max=longest,
                length=len(value),
            ),
            {field: gettext("at most %(max)s characters", max=longest)},
        )
    value = clean_text(value, field, longest, required=required)
    if not required and not value.strip():
        return ""
    # Stored as typed; only normalise line endings so \r\n and \n render alike.
    return value.replace("\r\n", "\n").replace("\r", "\n")


def client_msg_id(value, field="client_message_id"):
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise ValidationError(gettext("Bad message id."), {field: gettext("must be a UUID")})
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise ValidationError(gettext("Bad message id."), {field: gettext("must be a UUID")}) from None


def one_address():
    return gettext("one address such as name@example.com: no name, comment, list or line break")


def single_address(value, field="email"):
    """``value`` as exactly one addr-spec (``name@domain``), parsed by the standard library.

    A list (``a@x.io,b``), a display name, angle brackets, a comment or a line
    break is refused (422), even where the parser would read a first address
    out of it: the parse must consume the whole input and give it back as it
    was. Returns the ``email.headerregistry.Address``.
    """
    problem = ValidationError(
        gettext("Please enter one email address, such as name@example.com (no name, comma or second address)."),
        {field: one_address()},
    )
    if not isinstance(value, str):
        raise ValidationError(gettext("Email must be text."), {field: gettext("must be a string")})
    value = clean_text(value, field, what=FIELD_LABELS["email"]).strip()
    if len(value) > 254 or any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in value):
        raise problem
    try:
        address = Address(addr_spec=value)  # ValueError when the parse leaves anything over
    except (ValueError, IndexError, HeaderParseError, MessageError):
        raise problem from None
    if address.addr_spec != value:  # a comment or quoting the parser dropped or added
        raise problem
    return address


def email(value, field="customer_email"):
    """One deliverable-looking address, normalised (the domain lower-cased, IDNA-checked).

    ``single_address`` first (nothing but one addr-spec), then email-validator's
    syntax rules (no DNS look-up: that would make a form wait on the network).
    """
    address = single_address(value, field)
    try:
        checked = email_validator.validate_email(address.addr_spec, check_deliverability=False, allow_smtputf8=False)
    except email_validator.EmailNotValidError as error:
        raise ValidationError(
            gettext("Please enter a valid email address (%(problem)s).", problem=error), {field: str(error)}
        ) from None
    return checked.normalized


def mail_address(value):
    """The ``Address`` to put in a mail's ``To:`` (a stored address, checked again: ASCII, one)."""
    checked = email_validator.validate_email(
        single_address(value, "to_addr").addr_spec, check_deliverability=False, allow_smtputf8=False
    )
    return Address(addr_spec=checked.ascii_email)


def message_id_list(value, field="message_ids"):
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 500:
        raise ValidationError(
            gettext("message_ids must be a list of ids."), {field: gettext("must be a list of at most 500 ids")}
        )
    if any(isinstance(item, str) for item in value):  # JSON ids are numbers, not strings
        raise ValidationError(
            gettext("message_ids must be a list of integers."), {field: gettext("must be a list of integers")}
        )
    return [parse_id(item, field) for item in value]


def choice(value, allowed, field):
    """``value`` if it is one of ``allowed``; else a 400 that names them."""
    if not isinstance(value, str) or value not in allowed:
        names = ", ".join(allowed)
        raise UnknownChoice(
            gettext("Unknown %(field)s %(value)s; use one of: %(names)s.", field=field, value=repr(value), names=names)[
                :300
            ],
            {field: gettext("one of %(names)s", names=names)},
        )
    return value


def http_url(value, field, required=False, what=None):
    """An absolute http(s) URL of at most 500 characters, or None when empty and optional."""
    if value in (None, "") and not required:
        return None
    what = what or FIELD_LABELS.get(field) or FIELD_LABELS["url"]
    value = clean_text(value, field, 500, what=what).strip()
    try:
        parts = urlsplit(value)
    except ValueError:  # a malformed [IPv6] host
        parts = urlsplit("")
    # Spaces and control characters inside are a sign of a pasted mistake (browsers encode them).
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() or unicodedata.category(c) == "Cc" for c in value)
    ):
        raise ValidationError(
            gettext("%(what)s must be an http(s) URL.", what=what),
            {field: gettext("must be an absolute http(s) URL")},
        )
    return value


def origin(value, field="origin"):
    """``scheme://host[:port]``, lower-cased, with nothing after it."""
    value = clean_text(value, field, 200, what=FIELD_LABELS["origin"]).strip().rstrip("/").lower()
    try:
        parts = urlsplit(value)
    except ValueError:  # "https://[::1" and the like
        parts = urlsplit("")
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise ValidationError(
            gettext("%(value)s is not an origin such as https://shop.example.", value=repr(value)),
            {field: gettext("scheme://host[:port], nothing after it")},
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValidationError(
            gettext("%(value)s has a bad port.", value=repr(value)), {field: gettext("bad port")}
        ) from None
    # Origins end up in CSP and CORS headers: a host of letters, digits, dots and
    # hyphens (an IDN in its xn-- form, as browsers send it) or an [IPv6] literal.
    if not (_HOST.match(parts.hostname) or _ipv6(parts)):
        raise ValidationError(
            gettext(
                "%(value)s has a host name with characters a browser never sends "
                "(write an international name in its xn-- form).",
                value=repr(value),
            ),
            {field: gettext("host of letters, digits, dots and hyphens")},
        )
    return value


_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")


def _ipv6(parts):
    try:
        return parts.netloc.startswith("[") and ipaddress.IPv6Address(parts.hostname) is not None
    except ValueError:
        return False


# -- the catalog ----------------------------------------------------------------


def external_id_rule():
    """The rule a shop's product id follows, in the reader's language."""
    return gettext("1 to 100 characters, no '/', no whitespace or control characters")


MAX_PRICE = 10**8  # products.price is NUMERIC(10, 2)
MAX_STOCK = 2**31 - 1  # products.stock is a 32-bit INTEGER
_PRICE_STRING = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,2})?$")


def external_id(value, field="external_id"):
    """A shop's own product id: the ``<external:...>`` shape plus valid text; 400 naming ``field``.

    U+FFFD is refused too: it is what a path with invalid UTF-8 decodes to.
    """
    bad = (
        not isinstance(value, str)
        or not 1 <= len(value) <= 100
        or "/" in value
        or "\ufffd" in value
        or _SURROGATE.search(value)
        or any(c.isspace() or unicodedata.category(c) == "Cc" for c in value)
    )
    if bad:
        raise BadParameter(
            gettext("%(field)s must be %(EXTERNAL_ID_RULE)s.", field=field, EXTERNAL_ID_RULE=external_id_rule()),
            {field: external_id_rule()},
        )
    return value


def one_line(value, field, max_length, what=None):
    """Required text on one line (no control characters), stripped."""
    what = label(field, what)
    value = clean_text(value, field, max_length, what=what).strip()
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValidationError(
            gettext("%(what)s must be one line without control characters.", what=what),
            {field: gettext("one line, no control characters")},
        )
    return value


def price(value, field="price"):
    """A price >= 0 with at most two decimals, below 10^8, from a JSON number or a decimal
    string; None stays None. Returned as a Decimal with exactly two places."""
    if value is None:
        return None
    problem = gettext("a number or decimal string >= 0 with at most 2 decimals, below 100000000")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValidationError(gettext("%(field)s must be %(problem)s.", field=field, problem=problem), {field: problem})
    if isinstance(value, str) and not _PRICE_STRING.match(value):
        raise ValidationError(gettext("%(field)s must be %(problem)s.", field=field, problem=problem), {field: problem})
    try:
        # repr() of a float is its shortest round-trip form: 19.99 stays 19.99.
        number = Decimal(repr(value) if isinstance(value, float) else value)
    except InvalidOperation:
        number = None
    if (
        number is None
        or not number.is_finite()
        or number < 0
        or number >= MAX_PRICE
        or number != number.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    ):
        raise ValidationError(gettext("%(field)s must be %(problem)s.", field=field, problem=problem), {field: problem})
    return abs(number).quantize(Decimal("0.01"))  # abs: -0.0 is stored as 0.00


def currency(value, field="currency"):
    """An ISO 4217 code in use, upper-case (``EUR``)."""
    from .currencies import CODES

    if not isinstance(value, str) or value not in CODES:
        raise ValidationError(
            gettext("%(field)s must be an ISO 4217 currency code such as EUR or USD.", field=field),
            {field: gettext("an ISO 4217 code in use, three upper-case letters (EUR, USD, ...)")},
        )
    return value


def stock(value, field="stock"):
    """A whole number of items >= 0, or None (unknown)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_STOCK:
        raise ValidationError(
            gettext("%(field)s must be a whole number >= 0 (or null).", field=field),
            {field: gettext("an integer from 0 to %(MAX_STOCK)s, or null", MAX_STOCK=MAX_STOCK)},
        )
    return value
