"""A site's languages: which of the shipped ones its shoppers may get, and the default
for a shopper whose browser asks for none of them (chat/i18n.py negotiates)."""

from flask_babel import gettext

from ..extensions import db
from ..i18n import SHOPPER_LANGUAGES, site_languages
from .errors import ValidationError


def of_site(site):
    """``{"default": "en", "enabled": ["en", "de", ...]}``."""
    return site_languages(site)


def check(default, enabled):
    """The default and enabled languages, validated together: one 422 names every bad field.
    Only shipped codes ("en", "de", "fr", "es", "ar"); the default must be enabled."""
    problems = {}
    shipped = ", ".join(SHOPPER_LANGUAGES)
    if not isinstance(enabled, list) or not enabled or not all(isinstance(code, str) for code in enabled):
        problems["enabled"] = gettext("Enable at least one language: %(codes)s.", codes=shipped)
        cleaned = []
    else:
        unknown = [code for code in enabled if code not in SHOPPER_LANGUAGES]
        if unknown:
            problems["enabled"] = gettext(
                "%(unknown)s: not a language we ship; choose from %(codes)s.",
                unknown=", ".join(repr(code)[:40] for code in unknown[:5]),
                codes=shipped,
            )
        cleaned = [code for code in SHOPPER_LANGUAGES if code in enabled]  # our order, no repeats
    if not isinstance(default, str) or default not in SHOPPER_LANGUAGES:
        problems["default"] = gettext("The default must be one of %(codes)s.", codes=shipped)
    elif "enabled" not in problems and default not in cleaned:
        problems["default"] = gettext("The default language must be one of the enabled ones.")
    if problems:
        raise ValidationError(" ".join(problems.values()), problems)
    return default, cleaned


def save(site, default, enabled):
    """Set a site's languages (nothing is stored when either is wrong)."""
    site.default_language, cleaned = check(default, enabled)
    site.languages = ",".join(cleaned)
    db.session.commit()
    return of_site(site)
