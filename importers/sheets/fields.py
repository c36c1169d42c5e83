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
from registry.models.types import N_

AMOUNT_FIELDS = ("amount", "commitment", "disbursement", "expenditure", "pledge", "incoming_funds")
WIDE_TYPES = ("commitment", "disbursement", "expenditure", "pledge", "incoming_funds")
DATE_FIELDS = ("planned_start", "planned_end", "actual_start", "actual_end", "value_date")
# A column of planned disbursements for the calendar year its header names ("Planned 2027",
# "Prévu 2027", "Previsto 2027"): a forward plan of the row's project, never a flow.
PLANNED = "planned_disbursement"


# The fields a column can be mapped to, in the order the mapping drop-downs show them (the
# labels in English, translated where they are shown).
FIELDS: dict[str, str] = {
    "reference": N_("Project reference"),
    "title": N_("Project title"),
    "description": N_("Description"),
    "iati_identifier": N_("IATI identifier"),
    "status": N_("Status"),
    "planned_start": N_("Planned start"),
    "planned_end": N_("Planned end"),
    "actual_start": N_("Actual start"),
    "actual_end": N_("Actual end"),
    "country": N_("Recipient country"),
    "region": N_("Recipient region"),
    "recipient": N_("Recipient (country or region)"),
    "share": N_("Recipient share (%)"),
    "area": N_("Priority area(s)"),
    "sector": N_("DAC purpose code(s)"),
    "wsis_action_line": N_("WSIS action line(s)"),
    "scope": N_("Scope (national, multi-country, regional, global)"),
    "infrastructure": N_("Infrastructure (IXP, backbone, submarine cable...)"),
    "transaction_type": N_("Transaction type"),
    "amount": N_("Amount"),
    "currency": N_("Currency"),
    "value_date": N_("Value date"),
    "year": N_("Year"),
    "funding_source": N_("Funding source"),
    "provider_org": N_("Provider organisation"),
    "flow_type": N_("Flow type"),
    "finance_type": N_("Finance type"),
    "aid_type": N_("Aid type"),
    "tied_status": N_("Tied status"),
    "transaction_description": N_("Transaction description"),
    "need_amount": N_("Need (total cost)"),
    "need_currency": N_("Need currency"),
    "flow_id": N_("Flow id"),
    "commitment": N_("Commitment amount"),
    "disbursement": N_("Disbursement amount"),
    "expenditure": N_("Expenditure amount"),
    "pledge": N_("Pledge amount"),
    PLANNED: N_("Planned disbursement (for the year in the header)"),
    "ignore": N_("(ignore this column)"),
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
    """Normalised word -> code, for transaction types, project statuses and tied statuses."""
    data = json.loads(column_map_text("values.json"))
    out: dict[str, dict[str, str]] = {}
    for kind in ("transaction_type", "status", "tied_status"):
        out[kind] = {norm(word): code for code, words in data[kind].items() for word in words}
        out[kind].update({code: code for code in data[kind]})
    return out


def csv_pairs(name: str) -> list[tuple[str, str]]:
    """The first two cells of each row of a column-map CSV file (its header and comments left out)."""
    rows = csv.reader(io.StringIO(column_map_text(name)))
    next(rows)
    return [(r[0], r[1]) for r in rows if r and r[0] and not r[0].startswith("#")]
