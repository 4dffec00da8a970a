from flask_babel.speaklater import LazyString


def _written(text):
    return str(text) if isinstance(text, LazyString) else text


class ServiceError(Exception):
    status = 400

    def __init__(self, message, fields=None):
        # Lazy strings (module constants) are written now, in the language of this request.
        message = _written(message)
        super().__init__(message)
        self.message = message
        self.fields = {name: _written(text) for name, text in (fields or {}).items()}


class ValidationError(ServiceError):
    """Bad input; ``fields`` maps a field name to what is wrong with it."""

    status = 422


class BadParameter(ValidationError):
    """A malformed query parameter or id (``²``, ``-1``, past 2**63): 400, naming it."""

    status = 400


class UnknownChoice(ValidationError):
    """A value outside a fixed set (status, priority): 400, naming the allowed ones."""

    status = 400


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409
