"""Parsing the other values of a cell: percentages, lists of items with their shares
('KEN (60%); TZA (40%)') and tied statuses."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import NamedTuple

from importers.messages import Text
from importers.sheets.amounts import SPACES
from importers.sheets.fields import vocabulary
from importers.sheets.text import CellError, norm
from registry.models.types import N_, tied_status_code

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


def tied_status(text: str) -> str | None:
    """The IATI TiedStatus code of a cell: 3, 4 or 5, or the words (partially tied, tied,
    untied, in English, French or Spanish: importers/column_maps/values.json); None when
    empty. CellError for anything else."""
    try:
        return tied_status_code(text)
    except ValueError:
        pass
    code = vocabulary()["tied_status"].get(norm(text))
    if code is None:
        raise CellError(
            Text(N_("Unknown tied status %(value)s: 3 partially tied, 4 tied, 5 untied"), value=repr(text)),
            "invalid_tied_status",
        )
    return code
