"""The small readings every part of an IATI activity shares: dates, decimals, codes, narratives."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from importers.iati.xml import XML_LANG
from registry.models.types import N_, TIED_STATUS_CODES


def parse_date(value: str | None) -> dt.date | None:
    """An ISO date (its first ten characters), or None when absent or not a date."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def parse_decimal(value: str | None) -> Decimal | None:
    """A finite decimal (thousands commas removed), or None when absent or not a number."""
    if value is None or not value.strip():
        return None
    try:
        number = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def narrative(parent, default_lang: str) -> str:
    """The English narrative of ``parent``, else the first one; whitespace tidied."""
    if parent is None:
        return ""
    narratives = parent.findall("narrative")
    if not narratives:
        return " ".join((parent.text or "").split())  # IATI 1.x style text, tolerated
    chosen = next(
        (n for n in narratives if (n.get(XML_LANG) or default_lang or "").lower().startswith("en")), narratives[0]
    )
    return " ".join("".join(chosen.itertext()).split())


def code_of(parent, tag: str) -> str | None:
    """The @code of the first ``tag`` child of ``parent``, trimmed; None when absent or empty."""
    elem = parent.find(tag)
    return (elem.get("code") or "").strip() or None if elem is not None else None


def aid_type_of(parent, tag: str) -> str | None:
    """The first DAC (vocabulary 1) aid type code among the ``tag`` children of ``parent``."""
    for elem in parent.findall(tag):
        if (elem.get("vocabulary") or "1") == "1" and elem.get("code"):
            return elem.get("code").strip()
    return None


def tied_status_of(ctx, parent, tag: str) -> str | None:
    """The IATI TiedStatus code (3 partially tied, 4 tied, 5 untied) of the ``tag`` child of
    ``parent``; None when absent, and when not one of these (with a warning: unknown)."""
    code = code_of(parent, tag)
    if code is None or code in TIED_STATUS_CODES:
        return code
    ctx.warn(
        "tied_status",
        N_("Not an IATI TiedStatus code (3 partially tied, 4 tied, 5 untied): the tied status is unknown"),
        parent.find(tag),
        f"{tag}/@code",
        code,
    )
    return None
