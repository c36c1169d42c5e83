"""How the finder words its reasons in the reader's language.

A reason is a whole sentence from the catalogue with named placeholders; the values put in it
(lists of codes or names, several clauses about one verdict) are joined the way the reader's
language joins them, never with English punctuation glued in code. Outside a request (the
command line, the queue's worker) the locale is English.
"""

from __future__ import annotations

from collections.abc import Iterable

from babel import Locale
from babel.lists import format_list
from flask_babel import get_locale, gettext

from registry.i18n import DEFAULT_LANGUAGE


def _locale() -> Locale:
    return get_locale() or Locale.parse(DEFAULT_LANGUAGE)


def all_of(values: Iterable[str]) -> str:
    """Items that all hold, in the locale's list format (LDC, LLDC, and SIDS; LDC, LLDC et SIDS)."""
    return format_list([str(v) for v in values], style="standard", locale=_locale())


def one_of(values: Iterable[str]) -> str:
    """Alternatives, in the locale's list format (23b or 23c; 23b ou 23c)."""
    return format_list([str(v) for v in values], style="or", locale=_locale())


def clauses(texts: Iterable[str]) -> str:
    """Independent clauses about one verdict, one after the other as the language separates
    them (a semicolon in English)."""
    parts = list(texts)
    if not parts:
        return ""
    joined = parts[0]
    for text in parts[1:]:
        joined = gettext("%(clause)s; %(next_clause)s", clause=joined, next_clause=text)
    return joined
