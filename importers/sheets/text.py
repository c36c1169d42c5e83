"""Cells as text: every raw cell (calamine's float, int, bool, date; a CSV's str) becomes the
text the later stages parse, with number and date cells marked by their class so that no
stage reads them as typed text that looks the same.

Conversions are remembered per distinct cell (``column_texts``, ``cached_map``): a donor
file repeats its references, countries, types and dates on every row.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from functools import cache
from typing import Any

CACHE_LIMIT = 100_000  # distinct cells remembered per column or kind before starting afresh


class NumText(str):
    """The text of a numeric spreadsheet cell (a '.' decimal point, no separators)."""


class DateText(str):
    """The ISO text of a cell the spreadsheet itself stores as a date."""


class CellError(ValueError):
    """A cell that cannot be read; the message says why in plain words."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code
        self.message = message  # a Text keeps its message id (importers.messages)


_PUNCT = re.compile(r"[^0-9a-z%$€£]+")


@cache
def norm(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a header or a name."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    plain = plain.replace("'", "").replace("’", "").replace("&", " and ")
    return _PUNCT.sub(" ", plain).strip()


def cell_text(value: Any) -> str:
    """A cell value as text: numbers without float noise, dates as ISO, empty as ''."""
    cls = value.__class__
    if cls is str:
        return value.strip()
    if value is None:
        return ""
    if cls is float:
        if value.is_integer() and abs(value) < 1e15:
            return NumText(str(int(value)))
        return NumText(repr(value))
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return NumText(str(int(value)))
        return NumText(repr(value))
    if isinstance(value, int):
        return NumText(str(value))
    if isinstance(value, dt.datetime):
        return DateText(value.date().isoformat())
    if isinstance(value, dt.date):
        return DateText(value.isoformat())
    return str(value).strip()


_NO_CACHE = object()  # a column's cache holding this key converts cell by cell


def column_texts(cells: tuple, cache: dict, all_text: bool) -> list[str]:
    """One column of raw cells as text (as cell_text gives it), each distinct cell converted once."""
    if all_text:  # CSV: every cell is a str already
        return list(map(str.strip, cells))
    kinds = set(map(type, cells))
    if kinds == {str}:
        return list(map(str.strip, cells))
    if bool in kinds or (int in kinds and float in kinds):
        # True == 1 == 1.0 (and 10**15 == 1e15) would share a cache entry but not a text.
        return list(map(cell_text, cells))
    if _NO_CACHE in cache:
        return list(map(cell_text, cells))
    missing = set(cells).difference(cache)
    if len(missing) * 2 > len(cells) and len(cache) >= 4 * len(cells):
        # Still mostly new values after several blocks (amounts): a cache would only cost memory.
        cache.clear()
        cache[_NO_CACHE] = True
        return list(map(cell_text, cells))
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    for value in missing:
        cache[value] = cell_text(value)
    return list(map(cache.__getitem__, cells))


def cached_map(texts: Any, caches: dict[type, dict], compute: Callable[[str], Any], all_text: bool = False) -> list:
    """compute(text) for each text of a column, computed once per distinct text.

    Remembered per kind of text: a number cell's NumText('44197.5') equals the text
    '44197.5' but does not always mean the same (a date serial, not a date)."""
    kinds = {str} if all_text else set(map(type, texts))
    for kind in kinds:
        cache = caches.setdefault(kind, {})
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
    if len(kinds) == 1:
        cache = caches[kinds.pop()]
        for text in set(texts).difference(cache):
            cache[text] = compute(text)
        return list(map(cache.__getitem__, texts))
    for kind, text in set(zip(map(type, texts), texts, strict=True)):
        cache = caches[kind]
        if text not in cache:
            cache[text] = compute(text)
    return [caches[t.__class__][t] for t in texts]
