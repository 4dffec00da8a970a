"""The service layer: every state change goes through these functions.

HTML views, the JSON API and the CLI all call them, so they cannot disagree.
"""

from .errors import BadParameter, NotFound, ServiceError, ValidationError  # noqa: F401
