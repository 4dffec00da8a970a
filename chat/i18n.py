"""Languages: which one a page speaks, and how it writes dates, times and numbers.

Shoppers get one of ``SHOPPER_LANGUAGES`` (everything they see ships complete in each):
the shop's choice on the tag (``data-locale``, passed as ``?locale=``), else the
browser's languages (the loader passes ``navigator.languages`` as ``?languages=``;
``Accept-Language`` for direct requests) negotiated against the site's enabled
languages, else the site's default. Inside the chat page every request carries the
page's negotiated language (``X-Chat-Locale``). Admins get one of ``ADMIN_LANGUAGES``:
their own choice on the Account page, else their browser's.

Every tag from a request is only ever compared with these lists: nothing a page or a
URL says is echoed back unless it is one of our own language codes.
"""

from datetime import UTC

from babel import Locale, dates
from flask import g, has_request_context, request
from flask_babel import Babel, format_currency, format_decimal, get_locale, get_translations
from flask_babel import force_locale as force_locale  # re-exported: mails in the shopper's language
from jinja2 import pass_eval_context
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

# Code -> (its own name, direction).
SHOPPER_LANGUAGES = {
    "en": ("English", "ltr"),
    "de": ("Deutsch", "ltr"),
    "fr": ("Français", "ltr"),
    "es": ("Español", "ltr"),
    "ar": ("العربية", "rtl"),
}
ADMIN_LANGUAGES = ("en", "de")
DEFAULT = "en"
MAX_TAGS = 12  # of a browser's list; more say nothing new

babel = Babel()


def clean(tag, allowed=SHOPPER_LANGUAGES):
    """One of ``allowed`` for a language tag ("de", "de-AT", "DE_at"), or None."""
    if not isinstance(tag, str) or not 1 <= len(tag) <= 35:
        return None
    tag = tag.strip().replace("_", "-").lower()
    if tag in allowed:
        return tag
    primary = tag.split("-", 1)[0]
    return primary if primary in allowed else None


def negotiate(tags, enabled):
    """The first of the shopper's languages (in their order) that is enabled, or None."""
    for tag in list(tags)[:MAX_TAGS]:
        code = clean(tag, enabled)
        if code:
            return code
    return None


def _browser_tags():
    return [tag for tag, _quality in request.accept_languages][:MAX_TAGS]


def _arg(name):
    """A query argument, or None where the query string cannot be read (its error is the
    request's own: the page that says so must still render, in some language)."""
    try:
        return request.args.get(name)
    except Exception:  # noqa: BLE001 - chat/inputs.py refuses a query string that is not UTF-8
        return None


def shopper_locale(site):
    """The language of a shopper's page on ``site`` (see the module's docstring)."""
    enabled = site_languages(site)["enabled"] if site is not None else list(SHOPPER_LANGUAGES)
    chosen = clean(request.headers.get("X-Chat-Locale") or _arg("locale"), enabled)
    if chosen:
        return chosen
    listed = _arg("languages")
    if listed:
        chosen = negotiate(listed.split(",")[:MAX_TAGS], enabled)
        if chosen:
            return chosen
    chosen = negotiate(_browser_tags(), enabled)
    if chosen:
        return chosen
    return site_languages(site)["default"] if site is not None else DEFAULT


def admin_locale(user):
    """An admin's panel language: their choice, else their browser's, else English."""
    chosen = clean(getattr(user, "language", None), ADMIN_LANGUAGES)
    return chosen or negotiate(_browser_tags(), ADMIN_LANGUAGES) or DEFAULT


def select_locale():
    """Flask-Babel's choice for this request: a shared Locale per language (a code
    would be parsed anew by every request and every live stream's step)."""
    return _locale(_select_code())


def _locale(code):
    locale = _LOCALES.get(code)
    if locale is None:
        locale = _LOCALES[code] = Locale.parse(code)
    return locale


_LOCALES = {}


def _select_code():
    if not has_request_context():
        return DEFAULT
    if "chat_locale" in g:
        return g.chat_locale
    blueprint = request.blueprint or ""
    try:
        if blueprint == "admin":
            from flask_login import current_user

            locale = admin_locale(current_user if current_user.is_authenticated else None)
        else:
            locale = shopper_locale(g.get("chat_site"))
    except SQLAlchemyError:
        # The database is down and the 503 page is being written: the admin's choice or the
        # site's languages cannot be read, so the browser's languages decide.
        locale = negotiate(_browser_tags(), ADMIN_LANGUAGES if blueprint == "admin" else SHOPPER_LANGUAGES) or DEFAULT
    g.chat_locale = locale
    return locale


def site_languages(site):
    """``{"default": "en", "enabled": [...]}`` for a site (every shipped language unless it chose)."""
    enabled = [code for code in (site.languages or "").split(",") if code in SHOPPER_LANGUAGES]
    if not enabled:
        enabled = list(SHOPPER_LANGUAGES)
    default = site.default_language if site.default_language in enabled else enabled[0]
    return {"default": default, "enabled": enabled}


def current():
    """The language code of this page."""
    return str(get_locale() or DEFAULT)


def direction(code=None):
    return SHOPPER_LANGUAGES.get(code or current(), ("", "ltr"))[1]


def formats():
    """The Locale dates and times are written in: the page's, with English written as in
    Britain (a 24-hour clock, day before month), as the app always has. A Locale, not a
    code: Babel parses a code again at every call (``when`` made three parses a date)."""
    code = current()
    return _locale("en_GB" if code == "en" else code)


def when(value, year=False):
    """A naive UTC datetime as the page's language writes it ("30 Nov 08:00", "30. Nov. 08:00";
    with ``year``: "30 Nov 2026 08:00"), in UTC: the browser turns ``time[data-local]`` into
    the reader's own time."""
    if value is None:
        return ""
    value, locale = value.replace(tzinfo=UTC), formats()
    day_format = "yMMMd" if year else "MMMd"
    return (
        dates.format_skeleton(day_format, value, tzinfo=UTC, locale=locale)
        + " "
        + dates.format_time(value, "short", tzinfo=UTC, locale=locale)
    )


def number(value):
    return format_decimal(value)


def day(value):
    """A date as the page's language writes it ("6 Dec 2026", "06.12.2026")."""
    return dates.format_date(value, "medium", locale=formats()) if value is not None else ""


def price(amount, currency):
    """A price with its currency, per locale ("65,00 €" in German); an unknown code stays as given."""
    try:
        return format_currency(amount, currency)
    except (ValueError, TypeError, LookupError):
        return f"{format_decimal(amount)} {currency or ''}".strip()


def _translations():
    """Flask-Babel's translations for the page's language, kept on Flask-Babel's own
    per-request namespace. Flask-Babel looks them up anew for every string a template
    translates (three context look-ups and the language's code each time): a sixth of a
    live list row's rendering. Kept with the language they are for: ``force_locale``
    (a mail in the shopper's language) sets another, and they are looked up again."""
    try:
        ctx = g._flask_babel
        locale, translations = ctx.chat_translations
        if locale is ctx.babel_locale:
            return translations
    except AttributeError:
        pass
    translations = get_translations()
    ctx = g.get("_flask_babel")
    if ctx is not None:
        ctx.chat_translations = (getattr(ctx, "babel_locale", None), translations)
    return translations


# Templates' translations, as Jinja's newstyle gettext makes them: the text is marked safe
# where the template autoescapes, and always formatted with its variables (escaped there):
# "%(name)s" in the translation, ``name=`` in the call.


@pass_eval_context
def _template_gettext(eval_ctx, __string, **variables):
    return _formatted(eval_ctx, _translations().ugettext(__string), variables)


@pass_eval_context
def _template_ngettext(eval_ctx, __singular, __plural, __num, **variables):
    variables.setdefault("num", __num)
    return _formatted(eval_ctx, _translations().ungettext(__singular, __plural, __num), variables)


@pass_eval_context
def _template_pgettext(eval_ctx, __context, __string, **variables):
    variables.setdefault("context", __context)
    return _formatted(eval_ctx, _translations().upgettext(__context, __string), variables)


@pass_eval_context
def _template_npgettext(eval_ctx, __context, __singular, __plural, __num, **variables):
    variables.setdefault("context", __context)
    variables.setdefault("num", __num)
    return _formatted(eval_ctx, _translations().unpgettext(__context, __singular, __plural, __num), variables)


def _formatted(eval_ctx, text, variables):
    return (Markup(text) if eval_ctx.autoescape else text) % variables


def _vary(response):
    """A response whose language was chosen says so to caches (the browser's languages may have chosen it)."""
    if "chat_locale" in g:
        response.vary.add("Accept-Language")
    return response


def init_app(app):
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=select_locale)
    # Jinja's newstyle gettext, one call deep: ``_()`` went through three (an alias that looks
    # ``gettext`` up, Jinja's wrapper, then ours), each with Jinja's checks of what to pass.
    app.jinja_env.newstyle_gettext = True  # how {% trans %} blocks compile: as these calls
    app.jinja_env.globals.update(
        _=_template_gettext,
        gettext=_template_gettext,
        ngettext=_template_ngettext,
        pgettext=_template_pgettext,
        npgettext=_template_npgettext,
    )
    app.jinja_env.globals.update(
        current_language=current,
        text_direction=direction,
        shopper_languages=SHOPPER_LANGUAGES,
        site_languages=site_languages,
        admin_languages=ADMIN_LANGUAGES,
    )
    app.after_request(_vary)
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["day"] = day
    app.jinja_env.filters["price"] = price


def catalog_paths():
    """Each shipped language's ``messages.po``, by code."""
    import os

    here = os.path.join(os.path.dirname(__file__), "translations")
    return {
        code: os.path.join(here, code, "LC_MESSAGES", "messages.po")
        for code in sorted(os.listdir(here))
        if os.path.isfile(os.path.join(here, code, "LC_MESSAGES", "messages.po"))
    }


def compile_catalogs():
    """What ``pybabel compile -d chat/translations`` does: each .po into its .mo (fuzzy
    entries left out), where the .mo is missing or older."""
    import os

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for code, po in catalog_paths().items():
        mo = po[:-3] + ".mo"
        if os.path.exists(mo) and os.path.getmtime(mo) >= os.path.getmtime(po):
            continue
        with open(po, "rb") as fh:
            catalog = read_po(fh, locale=code)
        tmp = f"{mo}.{os.getpid()}.tmp"  # two test runs at once each write their own, then swap
        with open(tmp, "wb") as fh:
            write_mo(fh, catalog)
        os.replace(tmp, mo)
