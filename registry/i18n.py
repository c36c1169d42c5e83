"""The six UN languages: which one a request is answered in, and the switch between them.

Pages speak the user's own setting when they have one (saved by the language switch), then
the language chosen on this browser (a cookie, for visitors), then the browser's
Accept-Language. The API answers in Accept-Language first: a script says what it wants on each
call. English is the source language of the catalogues in ``registry/translations``.

Numbers, dates and currencies are formatted by Babel (CLDR) for the request's locale; names
are sorted by the Unicode Collation Algorithm (:func:`sort_key`), not by code point.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from babel import Locale
from babel.numbers import format_compact_decimal, format_decimal, format_percent
from flask import Blueprint, Flask, current_app, g, has_request_context, redirect, request
from flask_babel import Babel, get_locale, refresh
from markupsafe import Markup
from pyuca import Collator

# In the UN's order (the English names' alphabetical order); each named in its own language.
LANGUAGES: dict[str, str] = {
    "ar": "العربية",
    "zh": "中文",
    "en": "English",
    "fr": "Français",
    "ru": "Русский",
    "es": "Español",
}
DEFAULT_LANGUAGE = "en"
RIGHT_TO_LEFT = frozenset({"ar"})
COOKIE = "lang"
COOKIE_AGE = 365 * 24 * 3600
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

babel = Babel()
bp = Blueprint("i18n", __name__)


def language_of_request() -> str:
    """The language code (one of LANGUAGES) this request is answered in."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    asked = request.accept_languages.best_match(LANGUAGES) if request.accept_languages else None
    if request.path.startswith("/api/") and asked:
        return asked
    user = g.get("user")
    if user is not None and getattr(user, "language", None) in LANGUAGES:
        return user.language
    if request.cookies.get(COOKIE) in LANGUAGES:
        return request.cookies[COOKIE]
    return asked or DEFAULT_LANGUAGE


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def text_direction(language: str | None = None) -> str:
    return "rtl" if (language or current_language()) in RIGHT_TO_LEFT else "ltr"


# --- formatting for the reader's locale ---------------------------------------------------


def _locale() -> Locale:
    return get_locale() or Locale.parse(DEFAULT_LANGUAGE)


def number(value: Decimal | int | str | None, places: int | None = None) -> str:
    """A number as the reader's locale writes it: 1,250,000.5 (en), 1 250 000,5 (fr); with
    ``places`` decimals kept as given (amounts to the cent)."""
    if value is None:
        return "–"
    value = Decimal(value)
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
        pattern = "#,##0" + ("." + "0" * places if places else "")
        return format_decimal(value, format=pattern, locale=_locale(), decimal_quantization=False)
    return format_decimal(value, locale=_locale(), decimal_quantization=False)


def percent(share: Decimal | int | str | None) -> str:
    """A share (a fraction of 1) as a percentage to one decimal, as the reader's locale writes
    it: 66.7 % (en), 66,7 % (fr)."""
    if share is None:
        return "–"
    return format_percent(Decimal(share), format="#,##0.0 %", locale=_locale(), decimal_quantization=True)


# English keeps the style of UN and OECD statistical tables rather than CLDR's "6.75B".
_ENGLISH_SCALE = ((Decimal("1e12"), "tn"), (Decimal("1e9"), "bn"), (Decimal("1e6"), "m"))


def money(amount: Decimal | int | str | None, currency: str = "") -> str:
    """An amount to its currency's decimals as the reader's locale writes numbers, the code after
    it (1,250,000.00 USD; 1 250 000,00 USD in French)."""
    from registry.money import minor_units

    if amount is None:
        return "–"
    text = number(amount, minor_units(currency) if currency else 2)
    return f"{text} {currency}".strip()


def compact_number(value: Decimal | int | str | None) -> str:
    """A large amount to three significant digits for reading at a glance (6.75 bn, 12.3 m;
    6,75 Md in French, 67.5亿 in Chinese); under a million the full figure is short enough."""
    if value is None:
        return "–"
    value = Decimal(value)
    if abs(value) < Decimal("1e6"):
        return number(value.quantize(Decimal(1)))
    language = current_language()
    if language == "en":
        for scale, suffix in _ENGLISH_SCALE:
            if abs(value) >= scale:
                return f"{_significant(value / scale)} {suffix}"
    # CLDR's short scales per locale (Md, млрд, mil M, 亿...), three significant digits.
    digits = len(str(int(abs(value)))) - 1
    rounded = _round_significant(value, 3)
    fraction = max(0, 2 - digits % 3) if language not in ("zh",) else 2
    return format_compact_decimal(rounded, format_type="short", locale=_locale(), fraction_digits=fraction)


def _round_significant(value: Decimal, digits: int) -> Decimal:
    return round(value, digits - 1 - value.adjusted()) if value else value


def _significant(value: Decimal) -> str:
    return number(_round_significant(value, 3).normalize())


def compact_money(value: Decimal | int | str | None, currency: str | None = None) -> Markup:
    """An abbreviated amount in an element whose title is the exact figure (6.75 bn USD, the
    cents on hover); exports and the API always carry the exact one."""
    if value is None:
        return Markup("–")
    from registry.money import minor_units

    exact = number(value, minor_units(currency) if currency else 2)  # to the currency's own unit
    suffix = f" {currency}" if currency else ""
    return Markup('<data class="amount-compact" value="{raw}" title="{exact}{suffix}">{short}{suffix}</data>').format(
        raw=f"{Decimal(value):f}", exact=exact, short=compact_number(value), suffix=suffix
    )


def date(value) -> str:
    """A date as the reader's locale writes it (Dec 7, 2026; 7 déc. 2026; 2026年12月7日)."""
    from babel.dates import format_date

    return "–" if value is None else format_date(value, format="medium", locale=_locale())


def month(value) -> str:
    """A month and year (Dec 2026, déc. 2026, 2026年12月)."""
    from babel.dates import format_skeleton

    return "–" if value is None else format_skeleton("yMMM", value, locale=_locale())


def datetime(value, seconds: bool = False) -> str:
    """A moment in UTC as the reader's locale writes it, the zone named (Dec 7, 2026, 14:05 UTC):
    the registry keeps and shows every moment in UTC."""
    import datetime as dt

    from babel.dates import format_date, format_time
    from flask_babel import gettext

    if value is None:
        return "–"
    moment = value.astimezone(dt.UTC) if value.tzinfo else value
    locale = _locale()
    day = format_date(moment.date(), format="medium", locale=locale)
    time = format_time(moment.time(), "HH:mm:ss" if seconds else "HH:mm", locale=locale)
    # the locale's own way of joining a date and a time ("{1}, {0}", "{1} {0}", "{1} في {0}"...)
    text = str(locale.datetime_formats["medium"]).replace("{1}", day).replace("{0}", time)
    return gettext("%(moment)s UTC", moment=text)


def territory_name(iso2: str | None, fallback: str = "") -> str:
    """A country's name in the reader's language from CLDR (Côte d'Ivoire, 科特迪瓦), else the
    registry's own English name."""
    if not iso2:
        return fallback
    return _locale().territories.get(iso2.upper(), fallback) or fallback


# --- collation ------------------------------------------------------------------------------

_collator: Collator | None = None


def sort_key(text: str | None) -> tuple:
    """A key that sorts names as readers expect (Côte d'Ivoire beside Costa Rica, not after
    Cuba): the Unicode Collation Algorithm's default table (DUCET). A Chinese reader gets
    names in pinyin order, as CLDR's default Chinese collation and Chinese interfaces sort
    them (阿富汗 ā, 巴西 bā, 中国 zhōng), rather than DUCET's radical-and-stroke order."""
    global _collator
    if _collator is None:
        _collator = Collator()
    text = text or ""
    if _reading_chinese():
        return _collator.sort_key(_pinyin(text)) + (0,) + _collator.sort_key(text)
    return _collator.sort_key(text)


def _reading_chinese() -> bool:
    locale = get_locale()  # None outside a request or application context: no reader
    return locale is not None and locale.language == "zh"


def _pinyin(text: str) -> str:
    """Each Han character by its most common reading in numbered-tone pinyin (中国 ->
    zhong1guo2), other characters as they are. Single characters only (pypinyin's phrase
    dictionary costs some 50 MB per process for no gain on names this short)."""
    from pypinyin.contrib.tone_convert import to_tone3
    from pypinyin.pinyin_dict import pinyin_dict

    out = []
    for char in text:
        readings = pinyin_dict.get(ord(char))
        out.append(to_tone3(readings.split(",", 1)[0]) if readings else char)
    return "".join(out)


def sorted_by_name(items, key=lambda item: item):
    return sorted(items, key=lambda item: sort_key(key(item)))


# --- the switch -----------------------------------------------------------------------------


@bp.post("/language")
def switch_language():
    """Choose the language of the pages: remembered on this browser, and as the user's own
    setting when logged in (so it follows them to another device)."""
    from registry.services.accounts import set_language
    from registry.unit_of_work import commit
    from registry.web.auth import safe_next  # the login's own check: a local path, never another site

    language = request.form.get("language", "")
    target = safe_next(request.form.get("next"))
    if language not in LANGUAGES:
        return redirect(target)
    user = g.get("user")
    if user is not None:
        set_language(user, language)
        commit()
    response = redirect(target)
    response.set_cookie(
        COOKIE,
        language,
        max_age=COOKIE_AGE,
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        httponly=True,
        samesite="Lax",
    )
    return response


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=language_of_request)
    # Flask-Babel keeps the locale on ``g``; each request chooses its own (an app context held
    # across requests, as a test's is, would keep the first request's language).
    app.before_request(refresh)
    app.register_blueprint(bp)
    # {% trans %} blocks are trimmed, so the catalogue's messages carry no layout whitespace.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["compact_money"] = compact_money
    app.jinja_env.filters["compact"] = compact_number
    app.jinja_env.filters["date"] = date
    app.jinja_env.filters["datetime"] = datetime
    app.jinja_env.filters["utc"] = datetime
    app.jinja_env.filters["month"] = month
    app.jinja_env.globals["sort_key"] = sort_key
    from registry.reference_names import FILTERS

    app.jinja_env.filters.update(FILTERS)

    @app.context_processor
    def languages():
        language = current_language()
        return {
            "languages": LANGUAGES,
            "current_language": language,
            "text_direction": text_direction(language),
        }
