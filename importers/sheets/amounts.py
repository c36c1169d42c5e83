"""Parsing amounts and currencies: the text of an amount cell as an exact Decimal.

Separators, symbols, parentheses and trailing minus signs; the decimal mark given for the
file, or else the one the amount shows itself (1.234,56; 1,234.56; 1.250.000; 12,5), and
an ``AmbiguousAmount`` for one that reads both ways (12.500, 1,250), which the sheet's
other amounts may settle (``importers.sheets.sheet_amounts``). No float anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from importers.messages import Text
from importers.sheets.text import CellError, NumText
from registry import money
from registry.models.types import N_

CURRENCY_SYMBOLS = {"$": "USD", "us$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
CFA_CHOICE = Text(N_("FCFA is two currencies: XOF (West Africa, BCEAO) or XAF (Central Africa, BEAC)"))

PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_CURRENCY_TOKEN = re.compile(r"[A-Za-z]{3}")
SPACES = re.compile(r"[\s\u00a0\u202f\u2009'’_]")


class AmbiguousAmount(CellError):
    """An amount whose only separator is followed by three digits (12.500, 1,250): a thousands
    separator or a decimal mark, and nothing in the text says which."""

    def __init__(self, text: str, separator: str, whole: str, fraction: str, negative: bool, currency: str | None):
        sign = "-" if negative else ""
        self.text, self.separator, self.currency = text, separator, currency
        self.as_thousands = Decimal(f"{sign}{whole}{fraction}")
        self.as_decimal = Decimal(f"{sign}{whole}.{fraction}")
        super().__init__(self.describe(), "ambiguous_amount")

    def describe(self, factor: Decimal = Decimal(1), currency: str | None = None) -> str:
        """The error, with both readings as they would be stored (the column's unit applied)."""
        thousands, decimal = shown(self.as_thousands * factor), shown(self.as_decimal * factor)
        if currency:
            thousands, decimal = (
                Text(_WITH_CURRENCY, amount=thousands, currency=currency),
                Text(_WITH_CURRENCY, amount=decimal, currency=currency),
            )
        return Text(_AMBIGUOUS[self.separator], text=repr(self.text), thousands=thousands, decimal=decimal)


_WITH_CURRENCY = N_("%(amount)s %(currency)s")
_AMBIGUOUS = {
    ",": N_(
        "Ambiguous amount %(text)s: %(thousands)s if the comma separates thousands, or %(decimal)s if it is the "
        "decimal mark, and the file's other amounts do not show which. Say how the file writes its decimal "
        "mark: choose the decimal separator on the upload page (1,234.56 or 1.234,56), --decimal . or "
        "--decimal , on the command line, decimal=. or decimal=, in the API"
    ),
    ".": N_(
        "Ambiguous amount %(text)s: %(thousands)s if the point separates thousands, or %(decimal)s if it is the "
        "decimal mark, and the file's other amounts do not show which. Say how the file writes its decimal "
        "mark: choose the decimal separator on the upload page (1,234.56 or 1.234,56), --decimal . or "
        "--decimal , on the command line, decimal=. or decimal=, in the API"
    ),
}
# An amount that reads as a number only with the other decimal mark than the file's, by that mark.
_OTHER_MARK = {
    ",": N_(
        "%(text)s is not an amount with the point as the decimal mark, as chosen for this file; with the comma "
        "it would be %(other)s. If that is right, choose the decimal separator 1.234,56 on the upload page, "
        "--decimal , on the command line, decimal=, in the API"
    ),
    ".": N_(
        "%(text)s is not an amount with the comma as the decimal mark, as chosen for this file; with the point "
        "it would be %(other)s. If that is right, choose the decimal separator 1,234.56 on the upload page, "
        "--decimal . on the command line, decimal=. in the API"
    ),
}


def _plain(value: Decimal) -> str:
    """A number as plain digits without trailing zeros after its point (1.250 -> 1.25)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def shown(value: Decimal) -> str:
    """An amount for a message: _plain, its thousands set apart from five digits on (12500000
    -> 12,500,000; 1250 stays 1250, which would read like the cell '1,250' it came from)."""
    text = _plain(value)
    whole, point, fraction = text.partition(".")
    return f"{Decimal(whole):,}{point}{fraction}" if len(whole.lstrip("-")) > 4 else text


_PLAIN_INTEGER = re.compile(r"-?\d+")
_CFA_TEXT = re.compile(r"\b(?:francs? )?f ?cfa\b", re.IGNORECASE)
# A plain number whose point can only be a decimal point: one, two or more than three digits
# after it, or 0 or more than three digits before it. 12.500 (perhaps 12500) is not one.
_POINT_DECIMAL = re.compile(r"-?(?:\d+(?:\.(?:\d\d?|\d{4,}))?|(?:0|\d{4,})\.\d+)")
_DIGITS = re.compile(r"[0-9]*")
# Digit groups set apart by spaces or apostrophes (1 234 567, 1'234): then a lone ',' or '.'
# in the amount is its decimal mark.
_SPACE_GROUPS = re.compile(r"\d[\s\u00a0\u202f\u2009'’_]\d{3}(?!\d)")


class AmountParts(NamedTuple):
    """A text amount taken apart."""

    digits: str  # the digits with their ',' and '.'
    negative: bool
    currency: str | None  # a currency the text names (a symbol, a code, FCFA)
    spaced: bool  # digit groups set apart by spaces or apostrophes


class Amount(NamedTuple):
    """An amount read from a cell, and the currency the cell names (or the row's, once settled)."""

    value: Decimal
    currency: str | None


def plain_number(decimal: str | None) -> Callable[[str], re.Match | None]:
    """The test of a text that is a plain number meaning one amount only, with the file's decimal
    mark (',' or '.') or none given: Decimal(text) is its value, no separators to weigh."""
    return (PLAIN_NUMBER if decimal == "." else _PLAIN_INTEGER if decimal == "," else _POINT_DECIMAL).fullmatch


def fits(amount: Decimal, places: int) -> bool:
    """Whether an amount has no more decimals than ``places``."""
    return amount == amount.quantize(Decimal(1).scaleb(-places), rounding="ROUND_DOWN")


def _amount_parts(text: str) -> AmountParts:
    """A text amount taken apart: its digits, sign, named currency and digit grouping."""
    t = text.strip()
    currency = None
    negative = False
    if t.startswith("(") and t.endswith(")"):
        negative, t = True, t[1:-1]
    for symbol, code in (("US$", "USD"), ("$", "USD"), ("€", "EUR"), ("£", "GBP"), ("¥", "JPY")):
        if symbol in t:
            currency, t = code, t.replace(symbol, "")
    cfa = _CFA_TEXT.search(t)
    if cfa:
        currency, t = "FCFA", t[: cfa.start()] + t[cfa.end() :]
    token = _CURRENCY_TOKEN.search(t)
    if token and money.is_currency(token.group(0).upper()):
        currency, t = token.group(0).upper(), t.replace(token.group(0), "")
    spaced = _SPACE_GROUPS.search(t) is not None
    t = SPACES.sub("", t)
    if t.endswith("-") and t[:-1].replace(",", "").replace(".", "").isdigit():
        negative, t = True, t[:-1]
    if t.startswith("-"):
        negative, t = not negative, t[1:]
    elif t.startswith("+"):
        t = t[1:]
    return AmountParts(t, negative, currency, spaced)


def _own_mark(t: str, spaced: bool) -> str | None:
    """The decimal mark the digits of an amount show by themselves, or None.

    1.234,56 and 1,234.56: the last of two different marks; 1.250.000: the other mark than the
    repeated one; 12,5 or 12.50 (not three digits after a lone mark), 0,250, 1250,500 or
    1 250,500: the lone mark. None for 12.500 or 1,250 (either way) and for plain digits."""
    commas, points = t.count(","), t.count(".")
    if commas and points:
        return "," if t.rfind(",") > t.rfind(".") else "."
    if commas + points > 1:
        return "." if commas else ","
    if commas + points == 0:
        return None
    separator = "," if commas else "."
    whole, fraction = t.split(separator)
    if spaced or len(fraction) != 3 or not whole or whole.startswith("0") or len(whole) > 3:
        return separator
    return None


def decimal_evidence(text: str) -> str | None:
    """The decimal mark (',' or '.') a text amount proves by itself, else None (see _own_mark)."""
    if not text or text.__class__ is NumText or _PLAIN_INTEGER.fullmatch(text):
        return None
    parts = _amount_parts(text)
    if _number(parts.digits, None, parts.spaced) is None:
        return None
    return _own_mark(parts.digits, parts.spaced)


def parse_amount(text: str, decimal: str | None) -> Amount:
    """An amount from text with separators, symbols, parentheses; and a currency if named.

    ``decimal`` is the file's decimal mark (',' or '.'), or None when the file has not said:
    then an amount is read by the mark it shows itself (1.234,56; 1,234.56; 1.250.000; 12,5;
    12.50), and one that reads both ways (12.500, 1,250) raises AmbiguousAmount. Thousands
    separators must set apart groups of three digits (or the Indian 1,25,000)."""
    if isinstance(text, NumText) or plain_number(decimal)(text):
        try:
            return Amount(Decimal(text), None)
        except InvalidOperation:
            raise CellError(Text(N_("%(value)s is not an amount"), value=repr(text)), "invalid_amount") from None
    parts = _amount_parts(text)
    t, spaced, negative = parts.digits, parts.spaced, parts.negative
    value = _number(t, decimal, spaced)
    if value is not None:
        return Amount(-value if negative else value, parts.currency)
    if decimal is None and t.count(",") + t.count(".") == 1 and _own_mark(t, spaced) is None:
        separator = "," if "," in t else "."
        whole, fraction = t.split(separator)
        if _DIGITS.fullmatch(whole + fraction):
            raise AmbiguousAmount(text, separator, whole, fraction, negative, parts.currency)
    other = None if decimal is None else _number(t, "," if decimal == "." else ".", spaced)
    if other is not None:
        mark = "," if decimal == "." else "."
        raise CellError(
            Text(_OTHER_MARK[mark], text=repr(text), other=_plain(-other if negative else other)),
            "invalid_amount",
        )
    raise CellError(Text(N_("%(value)s is not an amount"), value=repr(text)), "invalid_amount")


def _number(t: str, decimal: str | None, spaced: bool) -> Decimal | None:
    """The value of digits with separators, by the given decimal mark or else the one they show
    themselves; None when they are no number that way, or (no mark given) read both ways."""
    if not t or not _DIGITS.fullmatch(t.replace(",", "").replace(".", "")):
        return None
    mark = decimal or _own_mark(t, spaced)
    if mark is None:
        if "," in t or "." in t:
            return None  # 12.500: either way
        mark = "."
    thousands = "," if mark == "." else "."
    whole, has_mark, fraction = t.partition(mark)
    if (has_mark and not fraction) or mark in fraction or thousands in fraction:
        return None
    groups = whole.split(thousands)
    if len(groups) > 1 and not (
        1 <= len(groups[0]) <= 3
        and len(groups[-1]) == 3
        and (all(len(g) == 3 for g in groups[1:]) or (thousands == "," and all(len(g) == 2 for g in groups[1:-1])))
    ):
        return None
    digits = "".join(groups)
    if not digits and not fraction:
        return None
    return Decimal(f"{digits or '0'}.{fraction}" if fraction else digits)


def currency_places(currency: str) -> int | None:
    """The decimals of a currency (0 for XOF, 2 for EUR), None for an unknown code."""
    return money.minor_units(currency) if currency and money.is_currency(currency) else None


_CURRENCY_SPELLINGS = {"EURO": "EUR", "EUROS": "EUR", "F CFA": "FCFA", "CFA": "FCFA", "FRANCS CFA": "FCFA"}
# Codes that name no currency the registry can take, and what to write instead.
NOT_A_CODE = {
    "FCFA": Text(
        N_(
            "FCFA is two currencies: XOF (West Africa, BCEAO) or XAF (Central Africa, BEAC). Write the one "
            "the amount is in"
        )
    ),
    "STD": Text(
        N_(
            "STD is the dobra of São Tomé and Príncipe before 2018; it was redenominated as STN "
            "(1 STN = 1000 STD). Write STN, with amounts in old dobras divided by 1000"
        )
    ),
}


def currency_code(text: str) -> str:
    """A currency as its ISO code ('$' -> USD, 'eur' -> EUR, 'Euros' -> EUR, 'F CFA' -> FCFA)."""
    code = CURRENCY_SYMBOLS.get(text.lower(), text).strip().upper()
    return _CURRENCY_SPELLINGS.get(" ".join(code.split()), code)
