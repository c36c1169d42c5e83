"""The fields a sheet's column can hold, and the data files that name them (the column maps
in ``importers/column_maps``: headers in English, French and Spanish, IATI and CRS names,
and the words of transaction types and statuses)."""

from __future__ import annotations

import csv
import io
import json
from functools import cache
from importlib import resources
from typing import NamedTuple

from importers.sheets.text import norm

AMOUNT_FIELDS = ("amount", "commitment", "disbursement", "expenditure", "pledge", "incoming_funds")
WIDE_TYPES = ("commitment", "disbursement", "expenditure", "pledge", "incoming_funds")
DATE_FIELDS = ("planned_start", "planned_end", "actual_start", "actual_end", "value_date")


# The fields a column can be mapped to, in the order the mapping drop-downs show them.
FIELDS: dict[str, str] = {
    "reference": "Project reference",
    "title": "Project title",
    "description": "Description",
    "iati_identifier": "IATI identifier",
    "status": "Status",
    "planned_start": "Planned start",
    "planned_end": "Planned end",
    "actual_start": "Actual start",
    "actual_end": "Actual end",
    "country": "Recipient country",
    "region": "Recipient region",
    "recipient": "Recipient (country or region)",
    "share": "Recipient share (%)",
    "area": "Priority area(s)",
    "sector": "DAC purpose code(s)",
    "wsis_action_line": "WSIS action line(s)",
    "transaction_type": "Transaction type",
    "amount": "Amount",
    "currency": "Currency",
    "value_date": "Value date",
    "year": "Year",
    "funding_source": "Funding source",
    "provider_org": "Provider organisation",
    "flow_type": "Flow type",
    "finance_type": "Finance type",
    "aid_type": "Aid type",
    "transaction_description": "Transaction description",
    "need_amount": "Need (total cost)",
    "need_currency": "Need currency",
    "commitment": "Commitment amount",
    "disbursement": "Disbursement amount",
    "expenditure": "Expenditure amount",
    "pledge": "Pledge amount",
    "ignore": "(ignore this column)",
}


class Alias(NamedTuple):
    """What a header named in a column map means: its field, and the options the map gives
    with it (a currency, a unit)."""

    field: str
    options: dict


def column_map_text(name: str) -> str:
    """The text of one file of ``importers/column_maps``."""
    return resources.files("importers").joinpath(f"column_maps/{name}").read_text("utf-8")


@cache
def column_aliases() -> dict[str, Alias]:
    """Normalised header -> its Alias, from every column map file."""
    aliases: dict[str, Alias] = {}
    for name in ("canonical.json", "fr.json", "es.json", "iati.json", "crs.json"):
        data = json.loads(column_map_text(name))
        for fld, headers in data.get("columns", {}).items():
            for header in headers:
                aliases.setdefault(norm(header), Alias(fld, {}))
        for header, spec in data.get("with_options", {}).items():
            spec = dict(spec)
            aliases[norm(header)] = Alias(spec.pop("field"), spec)
    for fld, label in FIELDS.items():
        aliases.setdefault(norm(label), Alias(fld, {}))
        aliases.setdefault(norm(fld), Alias(fld, {}))
    return aliases


@cache
def vocabulary() -> dict[str, dict[str, str]]:
    """Normalised word -> code, for transaction types and project statuses."""
    data = json.loads(column_map_text("values.json"))
    out: dict[str, dict[str, str]] = {}
    for kind in ("transaction_type", "status"):
        out[kind] = {norm(word): code for code, words in data[kind].items() for word in words}
        out[kind].update({code: code for code in data[kind]})
    return out


def csv_pairs(name: str) -> list[tuple[str, str]]:
    """The first two cells of each row of a column-map CSV file (its header and comments left out)."""
    rows = csv.reader(io.StringIO(column_map_text(name)))
    next(rows)
    return [(r[0], r[1]) for r in rows if r and r[0] and not r[0].startswith("#")]
