"""Parsing the other values of a cell: percentages and lists of items with their shares
('KEN (60%); TZA (40%)')."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import NamedTuple

from importers.sheets.amounts import SPACES
from importers.sheets.text import CellError

_SHARE_NUMBER = re.compile(r"[-+]?(?:\d+(?:[.,]\d+)?|[.,]\d+)")
_SHARE_SUFFIX = re.compile(r"^(.*?)[\s:]*\(?\s*(\d+(?:[.,]\d+)?)\s*%\s*\)?$")


class Item(NamedTuple):
    """One item of a list cell, and the share written after it, if any ('60' of 'KEN (60%)')."""

    text: str
    share: str | None


def parse_share(text: str) -> Decimal:
    """A percentage ('60', '33,3', '12.5 %'): its one ',' or '.' is a decimal mark (no share
    reaches a thousand)."""
    t = SPACES.sub("", text.replace("%", ""))
    if not _SHARE_NUMBER.fullmatch(t):
        raise CellError(f"{text!r} is not a percentage", "invalid_share")
    return Decimal(t.replace(",", "."))


def split_items(text: str, commas: bool = False) -> list[Item]:
    """'KEN (60%); TZA (40%)' -> [Item('KEN', '60'), Item('TZA', '40')]."""
    parts = re.split(r"[;|\n]" if not commas else r"[;|,/\n]", text)
    out = []
    for part in parts:
        part = part.strip()
        if not part:
            continue
        m = _SHARE_SUFFIX.match(part)
        if m and m.group(1).strip():
            out.append(Item(m.group(1).strip(), m.group(2).replace(",", ".")))
        else:
            out.append(Item(part, None))
    return out
