"""Parsing dates: Excel serials and date cells, ISO, d/m/y or m/d/y (by the file's convention,
given or learnt from its dates that read one way only), dates in words (English, French,
Spanish), and a year alone (dated on a day the field says: 1 January for a start)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from importers.messages import Text
from importers.sheets.text import CellError, DateText, NumText, norm
from registry.models.types import N_

_DATE_ISO = re.compile(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?(?:[T ][\d:.]+Z?)?")
_DATE_YMD = re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})")
DATE_XY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})")
_MONTHS = {
    norm(m): i
    for i, names in enumerate(
        [
            ("jan", "january", "janvier", "janv", "enero", "ene"),
            ("feb", "february", "fevrier", "fev", "febrero"),
            ("mar", "march", "mars", "marzo"),
            ("apr", "april", "avril", "avr", "abril", "abr"),
            ("may", "mai", "mayo"),
            ("jun", "june", "juin", "junio"),
            ("jul", "july", "juillet", "juil", "julio"),
            ("aug", "august", "aout", "agosto", "ago"),
            ("sep", "sept", "september", "septembre", "septiembre"),
            ("oct", "october", "octobre", "octubre"),
            ("nov", "november", "novembre", "noviembre"),
            ("dec", "december", "decembre", "diciembre", "dic"),
        ],
        1,
    )
    for m in names
}
_DATE_WORDS = re.compile(r"(\d{1,2})\s+([a-z]+)\.?\s+(\d{4})|([a-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})")
EXCEL_EPOCH = dt.date(1899, 12, 30)


def _date(y: int, m: int, d: int, text: str) -> dt.date:
    try:
        return dt.date(y, m, d)
    except ValueError:
        raise CellError(Text(N_("%(value)s is not a real date"), value=repr(text)), "invalid_date") from None


def parse_date(text: str, convention: str | None, year_day: tuple[int, int] = (7, 1)) -> dt.date:
    """A date from an Excel serial, ISO, d/m/y or m/d/y (by convention), words, or a year alone."""
    if isinstance(text, DateText):
        return dt.date.fromisoformat(text)
    t = text.strip()
    if isinstance(text, NumText) or t.isdigit():
        try:
            number = Decimal(t)
        except InvalidOperation:
            raise CellError(Text(N_("%(value)s is not a date"), value=repr(text)), "invalid_date") from None
        n = int(number)
        if 1900 <= n <= 2200 and number == n:
            return dt.date(n, *year_day)
        if 0 < number < 2958466:
            return EXCEL_EPOCH + dt.timedelta(days=n)
        raise CellError(Text(N_("%(value)s is not a date"), value=repr(text)), "invalid_date")
    m = _DATE_ISO.fullmatch(t)
    if m:
        return _date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1), text)
    m = _DATE_YMD.fullmatch(t)
    if m:
        return _date(int(m.group(1)), int(m.group(2)), int(m.group(3)), text)
    m = DATE_XY.fullmatch(t)
    if m:
        a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if y < 100:
            y += 2000 if y < 70 else 1900
        if a > 12 >= b:
            return _date(y, b, a, text)
        if b > 12 >= a:
            return _date(y, a, b, text)
        if a == b:
            return _date(y, a, b, text)
        if convention == "dmy":
            return _date(y, b, a, text)
        if convention == "mdy":
            return _date(y, a, b, text)
        raise CellError(
            Text(
                N_(
                    "%(value)s could be %(first)s or %(second)s: say whether this file writes dates "
                    "day/month/year or month/day/year (on the upload page 'Dates like 03/04/2021 mean'; --dates "
                    "dmy or mdy on the command line; dates=dmy or mdy in the API)"
                ),
                value=repr(text),
                first=dt.date(y, b, a),
                second=dt.date(y, a, b),
            ),
            "ambiguous_date",
        )
    m = _DATE_WORDS.fullmatch(norm(t))
    if m:
        if m.group(1):
            day, month, year = int(m.group(1)), _MONTHS.get(m.group(2)), int(m.group(3))
        else:
            month, day, year = _MONTHS.get(m.group(4)), int(m.group(5)), int(m.group(6))
        if month:
            return _date(year, month, day, text)
    raise CellError(Text(N_("%(value)s is not a date (use YYYY-MM-DD)"), value=repr(text)), "invalid_date")


@dataclass
class DateConvention:
    """How a file writes its dates, as its date cells show it (see infer_date_convention)."""

    kind: str | None = None  # 'dmy' or 'mdy'; None when the cells show neither, or both
    example: str | None = None  # a date that can be read only that way ...
    where: Any = None  # ... and where it is
    ambiguous: str | None = None  # a date the convention decides (03/04/2024), if the file has one
    ambiguous_where: Any = None


def infer_date_convention(cells: Iterable[tuple[Any, str]]) -> DateConvention:
    """How a file writes its dates, learnt from the ones that can be read only one way.

    ``cells`` are (where, text) of the file's date cells. 15/01/2025 can only be day first,
    01/15/2025 only month first: when the dates are of one kind and none of the other, that
    is the convention ('dmy' or 'mdy'), returned with an example and where it is, and the
    first date that reads both ways (03/04/2025), the one the convention is needed for. Only
    real dates count: 31/02/2024 is no day of any month, and proves nothing."""
    seen: dict[str, tuple[str, Any]] = {}
    ambiguous: tuple[str, Any] | None = None
    for where, text in cells:
        text = text.strip()
        m = DATE_XY.fullmatch(text)
        if m is None:
            continue
        a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if year < 100:
            year += 2000 if year < 70 else 1900
        if 1 <= a <= 12 and 1 <= b <= 12:
            if a != b and ambiguous is None:
                ambiguous = (text, where)
            continue
        kind = "dmy" if b <= 12 else "mdy" if a <= 12 else None
        if kind is None or kind in seen:
            continue
        day, month = (a, b) if kind == "dmy" else (b, a)
        try:
            dt.date(year, month, day)
        except ValueError:
            continue  # 31/02/2024, 00/13/2024: not a date at all
        seen[kind] = (text, where)
        if len(seen) == 2:
            return DateConvention()
    if len(seen) != 1:
        return DateConvention()
    kind, (example, where) = next(iter(seen.items()))
    return DateConvention(kind, example, where, *(ambiguous or (None, None)))
