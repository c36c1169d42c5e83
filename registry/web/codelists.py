"""The IATI code lists the forms offer: DAC 5-digit purpose codes, flow, finance and aid types.

Shipped in registry/data (dac_purpose_codes.csv, flow_types.csv, finance_types.csv,
aid_types.csv: ``code,name,name_fr,...,status``; SOURCES.md says where they come from). The
forms offer the active codes, named in French for French readers and in English otherwise
(the lists' own languages); a withdrawn code is still known, so a flow recorded with one keeps
it when edited.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from flask_babel import gettext as _

from registry.i18n import current_language

DATA = Path(__file__).resolve().parent.parent / "data"
FILES = {
    "sectors": "dac_purpose_codes.csv",
    "flow_type": "flow_types.csv",
    "finance_type": "finance_types.csv",
    "aid_type": "aid_types.csv",
}


@cache
def codes(kind: str) -> dict[str, dict[str, str]]:
    """Every code of a list (active and withdrawn), with its row."""
    with open(DATA / FILES[kind], encoding="utf-8", newline="") as handle:
        return {row["code"]: row for row in csv.DictReader(handle)}


def _sort_key(code: str) -> tuple:
    return (0, int(code), "") if code.isdigit() else (1, 0, code)


def name(kind: str, code: str | None) -> str:
    """A code's name in the reader's language where the list has it (French), else English."""
    row = codes(kind).get(code or "")
    if row is None:
        return ""
    return (row.get("name_fr") if current_language() == "fr" else None) or row["name"]


def options(kind: str, current: str | None = None) -> list[tuple[str, str]]:
    """(code, 'code · name') of the active codes in code order, and the current value when it is
    not one of them (a withdrawn code, or one the list does not know, kept as it is)."""
    table = codes(kind)
    shown = [code for code, row in table.items() if row["status"] == "active"]
    if current and current not in shown:
        shown.append(current)
    return [(code, f"{code} · {name(kind, code)}" if code in table else code) for code in sorted(shown, key=_sort_key)]


def unknown(kind: str, values) -> list[str]:
    """The values the list does not know, in the order given."""
    table = codes(kind)
    return [value for value in values if value and value not in table]


MESSAGES = {
    "sectors": lambda code: _("Unknown DAC purpose code '%(code)s'", code=code),
    "flow_type": lambda code: _("Unknown IATI flow type '%(code)s'", code=code),
    "finance_type": lambda code: _("Unknown IATI finance type '%(code)s'", code=code),
    "aid_type": lambda code: _("Unknown IATI aid type '%(code)s'", code=code),
}


def errors(values: dict[str, list[str]]) -> dict[str, list[str]]:
    """Form errors naming each unknown code, keyed by the field ({} when every code is known)."""
    found: dict[str, list[str]] = {}
    for kind, given in values.items():
        bad = unknown(kind, given)
        if bad:
            found[kind] = [MESSAGES[kind](code) for code in bad]
    return found
