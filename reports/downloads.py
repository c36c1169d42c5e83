"""Flat downloads: the projects, the money flows and the funding sources themselves, one row
per object, as CSV, XLSX or JSON Lines.

The columns of each download are declared once, in ``RESOURCES``: their stable English keys
(never translated: scripts read them back), their type and their meaning. The data dictionary
(``docs/data-dictionary.md`` and ``/api/v1/downloads/dictionary.json``) is made from the same
declaration, so that the documentation cannot drift from the files.

The rows are read from the database in batches (``yield_per``) and written as they come:
every format is streamed to the client while the query runs. A workbook's worksheet is
written row by row as XML and zipped as it goes (``reports.xlsx_stream``, with stream-zip):
no temporary file, and its first bytes leave before the first row is read. Memory stays flat
however many rows there are (``bench/download_bench.py``).

The filters are the reports' (``reports.schemas.ReportQuery``: same names, same validation);
deleted objects are left out, as in the reports.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import url_for
from flask_babel import gettext as _
from marshmallow import RAISE, post_load
from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true
from sqlalchemy.orm import aliased

from registry import money
from registry.extensions import db
from registry.models import (
    CategoryMembership,
    Country,
    FundingSource,
    Organisation,
    Project,
    ProjectArea,
    ProjectRecipient,
    Transaction,
)
from registry.models.funding import (
    FundingSourceInstrument,
    funding_source_areas,
    funding_source_categories,
    funding_source_countries,
    funding_source_regions,
)
from registry.models.project import SHARE_SCALE, ProjectSector
from registry.models.scope import derive_scope
from registry.models.types import IATI_TRANSACTION_CODES
from registry.services.reference import region_and_descendants
from registry.services.search import ProjectFilters
from registry.services.search import conditions as project_conditions
from registry.spreadsheet_safety import safe_text
from reports import queries, xlsx_stream
from reports.schemas import Codes, ReportQuery
from reports.spec import ReportSpec

FORMATS = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "jsonl": "application/x-ndjson",
}
BATCH = 2000  # rows read from the database at a time
CHUNK = 64 * 1024  # characters of CSV or JSON Lines, bytes of a workbook, sent at a time
XLSX_ROWS = xlsx_stream.ROWS  # rows of a worksheet, header included: more rows go on to the next sheet

# -- the columns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a download: its key (also the CSV header and the JSON key), its type
    (string, integer, decimal, date, datetime, boolean, code, codes), what it means, and how
    its value is read from a row (``row``: the query's row as a mapping, ``more``: the
    project's or source's code lists)."""

    key: str
    type: str
    meaning: str
    value: Callable[[Mapping, Mapping], Any]
    needs: str | None = None  # the code list this column reads (loaded only when chosen)


def _raw(name: str) -> Callable[[Mapping, Mapping], Any]:
    return lambda row, more: row[name]


def _listed(name: str) -> Callable[[Mapping, Mapping], Any]:
    return lambda row, more: more.get(name) or ""


def _amount(minor: str, currency: str | None = None, fixed: str | None = None) -> Callable[[Mapping, Mapping], Any]:
    def read(row: Mapping, more: Mapping) -> Decimal | None:
        code = fixed or row[currency]
        return None if row[minor] is None or not code else money.from_minor(row[minor], code)

    return read


def _col(key: str, type_: str, meaning: str, value=None, needs: str | None = None) -> Column:
    return Column(key, type_, meaning, value or _raw(key), needs)


def _codes_only(listed: str) -> list[str]:
    """The codes of a ``KEN:60;UGA:40`` list, without their shares."""
    return [item.split(":", 1)[0] for item in listed.split(";") if item]


def _scope(row: Mapping, more: Mapping) -> str | None:
    """The stated scope, else the one the recipients imply (registry.models.scope.derive_scope)."""
    if row["scope"]:
        return row["scope"]
    return derive_scope(_codes_only(more.get("countries") or ""), _codes_only(more.get("regions") or ""))


SHARES = (
    "Codes with their shares in percent, separated by semicolons: `KEN:60;UGA:40`. "
    "Shares may add up to less than 100: the rest is unallocated."
)

PROJECT_COLUMNS = (
    _col("id", "integer", "The project's id in the registry (/api/v1/projects/{id})."),
    _col("reference", "string", "The reporting organisation's own reference of the project."),
    _col("iati_identifier", "code", "IATI activity identifier, when the project has one."),
    _col("title", "string", "Title."),
    _col("status", "code", "Project status: pipeline, active, completed, ... (the API's values)."),
    _col("org_id", "integer", "Id of the reporting organisation."),
    _col("org_ref", "code", "Reference of the reporting organisation (the reports' donor parameter takes it)."),
    _col("org_name", "string", "Name of the reporting organisation."),
    _col("planned_start", "date", "Planned start date (ISO 8601)."),
    _col("planned_end", "date", "Planned end date."),
    _col("actual_start", "date", "Actual start date."),
    _col("actual_end", "date", "Actual end date."),
    _col(
        "need_amount",
        "decimal",
        "The funding the project needs, in its own currency.",
        _amount("need_minor", "need_currency"),
    ),
    _col("need_currency", "code", "ISO 4217 currency of need_amount."),
    _col(
        "need_usd",
        "decimal",
        "The need in US dollars at the rate of need_date.",
        _amount("need_usd_minor", fixed="USD"),
    ),
    _col("need_date", "date", "The date whose exchange rate converts the need (start, else registration)."),
    _col(
        "recipient_countries",
        "codes",
        "Recipient countries, ISO 3166 alpha-3. " + SHARES,
        _listed("countries"),
        "recipients",
    ),
    _col(
        "recipient_regions",
        "codes",
        "Recipient regions (UN M49) of regional projects. " + SHARES,
        _listed("regions"),
        "recipients",
    ),
    _col(
        "priority_areas",
        "codes",
        "Tunis Agenda paragraph 23 priority areas (23a-23l). " + SHARES,
        _listed("areas"),
        "areas",
    ),
    _col(
        "purpose_codes",
        "codes",
        "OECD DAC 5-digit purpose codes, with their share in percent when the source gives one: `22040:50;11330`.",
        _listed("sectors"),
        "sectors",
    ),
    _col(
        "wsis_action_lines",
        "codes",
        "WSIS action lines C1-C11, separated by semicolons.",
        lambda r, m: r["wsis_action_lines"].replace(",", ";"),
    ),
    _col("instrument_sought", "code", "Pipeline projects: the instrument asked for (grant, loan, ...)."),
    _col(
        "scope",
        "code",
        "Geographic scope: national, multi_country, regional or global; as stated, else as the "
        "recipients imply it (scope_stated says which).",
        _scope,
        "recipients",
    ),
    _col(
        "scope_stated",
        "boolean",
        "Whether the scope was stated (true) or derived from the recipients (false).",
        lambda row, more: row["scope"] is not None,
    ),
    _col(
        "infrastructure",
        "code",
        "Cross-border infrastructure the project builds: ixp, backbone, submarine_cable, satellite, "
        "data_centre, spectrum_regulation.",
    ),
    _col(
        "default_tied_status",
        "code",
        "IATI TiedStatus of the project's flows that state none: 3 partially tied, 4 tied, 5 untied.",
    ),
    _col("collaboration_type", "code", "IATI CollaborationType (1 bilateral, 2 multilateral, ..., 8 triangular)."),
    _col("description", "string", "Description."),
    _col("created_at", "datetime", "When the project was registered (UTC, ISO 8601)."),
    _col("updated_at", "datetime", "When the project last changed (UTC)."),
)

TRANSACTION_COLUMNS = (
    _col("id", "integer", "The flow's id (/api/v1/projects/{project_id}/transactions/{id})."),
    _col("project_id", "integer", "The project's id."),
    _col("project_reference", "string", "The project's reference."),
    _col("project_iati_identifier", "code", "The project's IATI activity identifier."),
    _col("project_title", "string", "The project's title."),
    _col("project_status", "code", "The project's status."),
    _col("org_ref", "code", "Reference of the organisation reporting the project."),
    _col("type", "code", "Transaction type: commitment, disbursement, expenditure, ... (the API's values)."),
    _col(
        "type_iati_code",
        "code",
        "The IATI TransactionType code of type (2 commitment, 3 disbursement, ...).",
        lambda r, m: IATI_TRANSACTION_CODES.get(str(r["type"]), ""),
    ),
    _col("value_date", "date", "The flow's value date (ISO 8601)."),
    _col(
        "amount",
        "decimal",
        "The amount in its original currency (negative: a correction).",
        _amount("amount_minor", "currency"),
    ),
    _col("currency", "code", "ISO 4217 currency of amount."),
    _col(
        "usd",
        "decimal",
        "The amount in US dollars at the rate of usd_rate_date; empty when no rate source converts it.",
        _amount("usd_minor", fixed="USD"),
    ),
    _col("usd_rate", "decimal", "US dollars per unit of the currency, as used."),
    _col("usd_rate_date", "date", "The date of the rate (31 December for IMF annual rates)."),
    _col("usd_rate_source", "code", "Where the rate comes from: ecb, ecb+parity, imf_annual or identity."),
    _col("price_basis", "code", "Empty: current prices; constant: a constant-price amount (no USD value)."),
    _col("flow_type", "code", "IATI FlowType code (10 ODA, 20 OOF, ...)."),
    _col("finance_type", "code", "IATI FinanceType code (110 grant, 421 loan, ...)."),
    _col("aid_type", "code", "IATI AidType code."),
    _col(
        "tied_status",
        "code",
        "IATI TiedStatus: 3 partially tied, 4 tied, 5 untied; the flow's own, else its project's default "
        "(what the untied share counts); empty: unknown.",
    ),
    _col("funding_source_id", "integer", "Id of the funding source the flow draws on."),
    _col("funding_source_ref", "code", "Reference of that funding source."),
    _col("source_kind", "code", "Kind of that funding source (the reports' source_kind)."),
    _col("provider_org_id", "integer", "Id of the organisation providing the money."),
    _col("provider_org_ref", "code", "Reference of that organisation (the reports' donor)."),
    _col(
        "recipient_country",
        "code",
        "The flow's own recipient country (ISO alpha-3): it wins over the project's shares.",
    ),
    _col("recipient_region", "code", "The flow's own recipient region (M49)."),
    _col(
        "project_countries", "codes", "The project's recipient countries. " + SHARES, _listed("countries"), "recipients"
    ),
    _col("project_regions", "codes", "The project's recipient regions. " + SHARES, _listed("regions"), "recipients"),
    _col("priority_areas", "codes", "The project's priority areas (23a-23l). " + SHARES, _listed("areas"), "areas"),
    _col(
        "purpose_codes",
        "codes",
        "The project's DAC purpose codes, with their shares when given.",
        _listed("sectors"),
        "sectors",
    ),
    _col(
        "confirmed", "boolean", "False while the organisation managing the funding source has not confirmed the flow."
    ),
    _col("description", "string", "Description."),
    _col("created_at", "datetime", "When the flow was recorded (UTC)."),
)

SOURCE_COLUMNS = (
    _col("id", "integer", "The funding source's id (/api/v1/funding-sources/{id})."),
    _col("ref", "code", "The source's reference (the reports' funding_source)."),
    _col("name", "string", "Name."),
    _col("kind", "code", "Kind of source (the reports' source_kind)."),
    _col("managing_org_id", "integer", "Id of the managing organisation."),
    _col("managing_org_ref", "code", "Reference of the managing organisation."),
    _col(
        "instruments",
        "codes",
        "Instruments offered (grant, loan, ...), separated by semicolons.",
        _listed("instruments"),
        "rules",
    ),
    _col(
        "countries",
        "codes",
        "Eligible countries (ISO alpha-3); empty with no regions or categories: every recipient.",
        _listed("countries"),
        "rules",
    ),
    _col("regions", "codes", "Eligible regions (M49).", _listed("regions"), "rules"),
    _col("categories", "codes", "Eligible recipient categories (LDC, SIDS, ...).", _listed("categories"), "rules"),
    _col("priority_areas", "codes", "Priority areas funded (23a-23l); empty: any.", _listed("areas"), "rules"),
    _col(
        "min_amount",
        "decimal",
        "Smallest amount granted, in amount_currency.",
        _amount("min_amount_minor", "amount_currency"),
    ),
    _col(
        "max_amount",
        "decimal",
        "Largest amount granted, in amount_currency.",
        _amount("max_amount_minor", "amount_currency"),
    ),
    _col("amount_currency", "code", "ISO 4217 currency of the amounts."),
    _col("window_from", "date", "First day applications are taken."),
    _col("window_until", "date", "Last day applications are taken."),
    _col("website", "string", "Web address."),
    _col("description", "string", "Description."),
    _col("created_at", "datetime", "When the source was registered (UTC)."),
    _col("updated_at", "datetime", "When the source last changed (UTC)."),
)


@dataclass(frozen=True)
class Resource:
    """A download: its name in the address, its columns, the report filters it takes."""

    name: str
    title: str
    meaning: str
    columns: tuple[Column, ...]
    not_filters: tuple[str, ...] = ()  # report parameters without a meaning for this resource
    filter_notes: str = ""

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.columns]


RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource(
            "projects",
            "Projects",
            "One row per project.",
            PROJECT_COLUMNS,
            not_filters=("confirmed",),
            filter_notes=(
                "year_from/year_to: a flow of the project has its value date in the years, or the project's "
                "period (actual, else planned dates) overlaps them. region, country, category: a recipient "
                "of the project (or of one of its flows) is there. donor: the organisation reports the "
                "project or provides one of its flows. source_kind: a flow draws on a source of that kind."
            ),
        ),
        Resource(
            "transactions",
            "Transactions",
            "One row per money flow (every transaction type; the reports count some of them).",
            TRANSACTION_COLUMNS,
            filter_notes=(
                "year_from/year_to: the value date. region, country, category: the flow's own recipient "
                "when it names one, else a recipient of its project. priority_area and status: the "
                "project's. donor: the organisation providing the flow. source_kind: the kind of its "
                "funding source. confirmed=only: confirmed flows alone."
            ),
        ),
        Resource(
            "funding-sources",
            "Funding sources",
            "One row per funding source.",
            SOURCE_COLUMNS,
            not_filters=("status", "confirmed"),
            filter_notes=(
                "year_from/year_to: the application window overlaps the years. region, country, category, "
                "priority_area: the source lists it among its eligible ones, or lists none of that kind. "
                "donor: the managing organisation. source_kind: the source's kind."
            ),
        ),
    )
}


def dictionary() -> dict:
    """The data dictionary: every download's columns with their type and meaning (English)."""
    return {
        "formats": {name: mimetype for name, mimetype in FORMATS.items()},
        "resources": {
            r.name: {
                "title": r.title,
                "meaning": r.meaning,
                "filters": [f for f in FILTERS if f not in r.not_filters],
                "filter_notes": r.filter_notes,
                "columns": [{"key": c.key, "type": c.type, "meaning": c.meaning} for c in r.columns],
            }
            for r in RESOURCES.values()
        },
    }


TYPES = {
    "string": "Text.",
    "integer": "A whole number.",
    "decimal": "A decimal number with a point and every decimal of its currency (`1250.50`); a string in JSON Lines.",
    "date": "`YYYY-MM-DD`.",
    "datetime": "ISO 8601 with its UTC offset.",
    "boolean": "`true` or `false`.",
    "code": "A code, never translated.",
    "codes": "Codes separated by semicolons, each with `:share` in percent where stated.",
}


def dictionary_markdown() -> str:
    """docs/data-dictionary.md, made from the same declaration (a test compares them)."""
    lines = [
        "# Data dictionary of the flat downloads",
        "",
        "<!-- Made from reports/downloads.py: "
        "`python -m reports.downloads > docs/data-dictionary.md`; a test compares them. -->",
        "",
        "The projects, the money flows and the funding sources, one row per object, with every code:",
        "",
    ]
    for r in RESOURCES.values():
        formats = ", ".join(f"`/api/v1/{r.name}.{f}`" for f in FORMATS)
        lines.append(f"- {r.title}: {formats}")
    lines += [
        "",
        "The same dictionary, for scripts: `/api/v1/downloads/dictionary.json`.",
        "",
        "## Parameters",
        "",
        "- `columns=a,b,c`: these columns, in this order (default: every column). An unknown column is",
        "  refused (422, naming it).",
        "- The reports' filters, with the same names and checks: " + ", ".join(f"`{f}`" for f in FILTERS) + ".",
        "  Lists repeat (`country=KEN&country=UGA`) or use commas. A filter that means nothing for a",
        "  download (`status` of funding sources) is refused.",
        "",
        "Deleted objects are left out, as in the reports. Anyone may download what the API's lists show;",
        "downloads count against the export rate limit. Text cells that a spreadsheet would run as a",
        "formula (starting with = + - @ and a few others) are written with a leading `'` in CSV and XLSX;",
        "JSON Lines carries the text as it is.",
        "",
        "CSV: UTF-8, comma-separated, a header row of the keys below. XLSX: the same rows and columns,",
        "on one sheet named after the download, the keys in a frozen bold header row; integers and",
        "amounts are numbers (an amount as the CSV writes it; one of 10^15 or more is text; `usd_rate`,",
        "kept as its source's exact text, is text), booleans are TRUE/FALSE, dates and the rest are",
        "the CSV's text. More than 1,048,575 rows (or a sheet's XML nearing 4 GB) continue on a",
        "second sheet, under the header again. A text longer than Excel's 32,767 characters is cut",
        "there in XLSX. JSON Lines: one JSON object a line, with the keys below; empty values are",
        "`null`. Every format is streamed: the first bytes leave as the first rows are read, the",
        "workbook included.",
        "",
        "## Types",
        "",
        "| type | written as |",
        "|---|---|",
        *(f"| {name} | {text} |" for name, text in TYPES.items()),
        "",
    ]
    for r in RESOURCES.values():
        lines += [f"## {r.title} (`{r.name}`)", "", r.meaning, "", "Filters: " + r.filter_notes, ""]
        lines += ["| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{c.key}` | {c.type} | {c.meaning.replace('|', '/')} |" for c in r.columns]
        lines.append("")
    return "\n".join(lines)


# -- the parameters ---------------------------------------------------------------------------

FILTERS = (
    "year_from",
    "year_to",
    "region",
    "country",
    "category",
    "priority_area",
    "source_kind",
    "donor",
    "status",
    "confirmed",
)


@dataclass
class Choice:
    """What to download: the resource, its columns and the report filters (a ReportSpec)."""

    resource: Resource
    columns: list[Column]
    spec: ReportSpec = field(default_factory=ReportSpec)


def query_schema(resource: Resource) -> type:
    """The query-string schema of a download: the reports' filters (``ReportQuery``, less what a
    report alone has) and ``columns``."""

    def unknown_columns(keys: list[str]) -> list[str]:
        known = resource.keys
        return [
            _("Unknown column %(name)s; expected one of %(choices)s", name=repr(k), choices=", ".join(known))
            for k in keys
            if k not in known
        ]

    def _spec(self, data: dict, **kwargs: Any) -> Choice:
        keys = data.get("columns") or resource.keys
        spec = ReportSpec(
            year_from=data.get("year_from"),
            year_to=data.get("year_to"),
            regions=data.get("region", []),
            countries=data.get("country", []),
            categories=data.get("category", []),
            areas=data.get("priority_area", []),
            source_kinds=data.get("source_kind", []),
            donors=data.get("donor", []),
            statuses=data.get("status", []),
            confirmed=data.get("confirmed", "all"),
        )
        return Choice(resource, [resource.column(k) for k in keys], spec)

    meta = type("Meta", (), {"unknown": RAISE, "exclude": ("by", "measure", "currency", *resource.not_filters)})
    name = "".join(part.title() for part in resource.name.split("-")) + "DownloadQuery"
    return type(
        name,
        (ReportQuery,),
        {
            "Meta": meta,
            "__doc__": f"Columns and filters of the {resource.name} download.",
            "columns": Codes(
                "The columns to download, in this order (default: all of them).",
                check=unknown_columns,
                entries=lambda: {c.key: c.meaning for c in resource.columns},
            ),
            "_spec": post_load(_spec),
        },
    )


# -- the rows ---------------------------------------------------------------------------------


def _ids(refs: Sequence[str]) -> list[int]:
    return queries.resolve_refs(Organisation, refs)[0] if refs else []


def _any(conditions: Iterable[ColumnElement]) -> ColumnElement:
    found = list(conditions)
    return or_(*found) if found else true()


def _project_filter(**kwargs: Any) -> ColumnElement:
    return and_(true(), *project_conditions(ProjectFilters(**kwargs)))


def _project_where(spec: ReportSpec) -> list[ColumnElement]:
    """The projects a spec selects (registry.services.search: the API's list filters)."""
    years = {"year_from": spec.year_from, "year_to": spec.year_to}
    where: list[ColumnElement] = []
    if spec.year_from is not None or spec.year_to is not None:
        where.append(_project_filter(**years))
    if spec.regions:
        where.append(_any(_project_filter(region=c) for c in spec.regions))
    if spec.countries:
        where.append(_any(_project_filter(country=c) for c in spec.countries))
    if spec.categories:
        where.append(_any(_project_filter(category=c, **years) for c in spec.categories))
    if spec.areas:
        where.append(_any(_project_filter(area=a) for a in spec.areas))
    if spec.statuses:
        where.append(Project.status.in_(spec.statuses))
    if spec.source_kinds:
        where.append(_any(_project_filter(source_kind=k) for k in spec.source_kinds))
    if spec.donors:
        where.append(_any(_project_filter(donor_org_id=i) for i in _ids(spec.donors)) if _ids(spec.donors) else false())
    return where


def _period(spec: ReportSpec) -> tuple[dt.date, dt.date]:
    if spec.year_from is None and spec.year_to is None:
        return dt.date.today(), dt.date.today()
    start = dt.date(spec.year_from, 1, 1) if spec.year_from is not None else dt.date.min
    end = dt.date(spec.year_to, 12, 31) if spec.year_to is not None else dt.date.max
    return start, end


def _countries_of_region(code: str) -> tuple[set[str], Select]:
    codes = region_and_descendants(code.strip().zfill(3))
    countries = select(Country.iso3).where(
        or_(Country.region_code.in_(codes), Country.subregion_code.in_(codes), Country.intermediate_code.in_(codes))
    )
    return codes, countries


def _members(code: str, spec: ReportSpec) -> Select:
    start, end = _period(spec)
    return select(CategoryMembership.country_iso3).where(
        CategoryMembership.category_code == code,
        CategoryMembership.valid_from <= end,
        or_(CategoryMembership.valid_to.is_(None), CategoryMembership.valid_to > start),
    )


def _flow_place(countries, regions=None) -> ColumnElement:
    """A flow is in a place when its own recipient is there, or, naming none, when a recipient of
    its project is (as the reports attribute it)."""
    own_none = and_(Transaction.recipient_country_iso3.is_(None), Transaction.recipient_region_code.is_(None))
    project_there = [ProjectRecipient.country_iso3.in_(countries)]
    found = [Transaction.recipient_country_iso3.in_(countries)]
    if regions is not None:
        project_there.append(ProjectRecipient.region_code.in_(regions))
        found.append(Transaction.recipient_region_code.in_(regions))
    recipient = exists().where(ProjectRecipient.project_id == Transaction.project_id, or_(*project_there))
    return or_(*found, and_(own_none, recipient))


def _transaction_where(spec: ReportSpec) -> list[ColumnElement]:
    where: list[ColumnElement] = []
    if spec.year_from is not None:
        where.append(Transaction.value_date >= dt.date(spec.year_from, 1, 1))
    if spec.year_to is not None:
        where.append(Transaction.value_date < dt.date(spec.year_to + 1, 1, 1))
    if spec.regions:
        where.append(_any(_flow_place(*reversed(_countries_of_region(c))) for c in spec.regions))
    if spec.countries:
        where.append(_flow_place(spec.countries))
    if spec.categories:
        where.append(_any(_flow_place(_members(c, spec)) for c in spec.categories))
    if spec.areas:
        where.append(
            exists().where(ProjectArea.project_id == Transaction.project_id, ProjectArea.area_code.in_(spec.areas))
        )
    if spec.statuses:
        where.append(Project.status.in_(spec.statuses))
    if spec.source_kinds:
        where.append(FundingSource.kind.in_(spec.source_kinds))
    if spec.donors:
        where.append(Transaction.provider_org_id.in_(_ids(spec.donors)))
    if spec.confirmed == "only":
        where.append(Transaction.confirmed.is_(True))
    return where


def _eligible(table, column: str, codes: Iterable[str]) -> ColumnElement:
    """A source lists one of ``codes`` in ``table``, or lists none there (eligible for all)."""
    link = table.c.funding_source_id == FundingSource.id
    return or_(
        exists().where(link, table.c[column].in_(list(codes))),
        ~exists().where(link),
    )


def _source_where(spec: ReportSpec) -> list[ColumnElement]:
    where: list[ColumnElement] = []
    if spec.year_from is not None:
        where.append(
            or_(FundingSource.window_until.is_(None), FundingSource.window_until >= dt.date(spec.year_from, 1, 1))
        )
    if spec.year_to is not None:
        where.append(
            or_(FundingSource.window_from.is_(None), FundingSource.window_from <= dt.date(spec.year_to, 12, 31))
        )
    if spec.regions:
        codes = set().union(*(region_and_descendants(c.zfill(3)) for c in spec.regions))
        where.append(_eligible(funding_source_regions, "region_code", codes))
    if spec.countries:
        where.append(_eligible(funding_source_countries, "country_iso3", spec.countries))
    if spec.categories:
        where.append(_eligible(funding_source_categories, "category_code", spec.categories))
    if spec.areas:
        where.append(_eligible(funding_source_areas, "area_code", spec.areas))
    if spec.source_kinds:
        where.append(FundingSource.kind.in_(spec.source_kinds))
    if spec.donors:
        where.append(FundingSource.managing_org_id.in_(_ids(spec.donors)))
    return where


def _statement(choice: Choice) -> Select:
    """The rows of a download as one SELECT, in id order (no sort: the first row comes at once)."""
    spec = choice.spec
    if choice.resource.name == "projects":
        org = aliased(Organisation)
        return (
            select(
                *(getattr(Project, name) for name in _PROJECT_FIELDS),
                org.ref.label("org_ref"),
                org.name.label("org_name"),
            )
            .join(org, org.id == Project.org_id)
            .where(Project.deleted_at.is_(None), *_project_where(spec))
            .order_by(Project.id)
        )
    if choice.resource.name == "transactions":
        provider = aliased(Organisation)
        reporter = aliased(Organisation)
        return (
            select(
                *(getattr(Transaction, name) for name in _TRANSACTION_FIELDS),
                Transaction.recipient_country_iso3.label("recipient_country"),
                Transaction.recipient_region_code.label("recipient_region"),
                Project.reference.label("project_reference"),
                Project.iati_identifier.label("project_iati_identifier"),
                Project.title.label("project_title"),
                Project.status.label("project_status"),
                func.coalesce(Transaction.tied_status, Project.default_tied_status).label("tied_status"),
                reporter.ref.label("org_ref"),
                FundingSource.ref.label("funding_source_ref"),
                FundingSource.kind.label("source_kind"),
                provider.ref.label("provider_org_ref"),
            )
            .join(Project, Project.id == Transaction.project_id)
            .join(reporter, reporter.id == Project.org_id)
            .outerjoin(
                FundingSource,
                and_(FundingSource.id == Transaction.funding_source_id, FundingSource.deleted_at.is_(None)),
            )
            .outerjoin(provider, provider.id == Transaction.provider_org_id)
            .where(Transaction.deleted_at.is_(None), Project.deleted_at.is_(None), *_transaction_where(spec))
            .order_by(Transaction.id)
        )
    org = aliased(Organisation)
    return (
        select(
            *(getattr(FundingSource, name) for name in _SOURCE_FIELDS),
            org.ref.label("managing_org_ref"),
        )
        .join(org, org.id == FundingSource.managing_org_id)
        .where(FundingSource.deleted_at.is_(None), *_source_where(spec))
        .order_by(FundingSource.id)
    )


_PROJECT_FIELDS = (
    "id",
    "reference",
    "iati_identifier",
    "title",
    "status",
    "org_id",
    "planned_start",
    "planned_end",
    "actual_start",
    "actual_end",
    "need_minor",
    "need_currency",
    "need_usd_minor",
    "need_date",
    "wsis_action_lines",
    "instrument_sought",
    "scope",
    "infrastructure",
    "default_tied_status",
    "collaboration_type",
    "description",
    "created_at",
    "updated_at",
)
_TRANSACTION_FIELDS = (
    "id",
    "project_id",
    "type",
    "value_date",
    "amount_minor",
    "currency",
    "usd_minor",
    "usd_rate",
    "usd_rate_date",
    "usd_rate_source",
    "price_basis",
    "flow_type",
    "finance_type",
    "aid_type",
    "funding_source_id",
    "provider_org_id",
    "confirmed",
    "description",
    "created_at",
)
_SOURCE_FIELDS = (
    "id",
    "ref",
    "name",
    "kind",
    "managing_org_id",
    "min_amount_minor",
    "max_amount_minor",
    "amount_currency",
    "window_from",
    "window_until",
    "website",
    "description",
    "created_at",
    "updated_at",
)


def _percent(ppm: int) -> str:
    text = format(Decimal(ppm) / SHARE_SCALE, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _coded(code: str, ppm: int | None) -> str:
    return code if ppm is None else f"{code}:{_percent(ppm)}"


def _project_lists(ids: Sequence[int], needs: set[str]) -> dict[int, dict[str, str]]:
    """Recipient countries and regions, areas and purpose codes of these projects, with shares."""
    out: dict[int, dict[str, list[str]]] = {pid: {} for pid in ids}

    def add(pid: int, name: str, text: str) -> None:
        out[pid].setdefault(name, []).append(text)

    if "recipients" in needs:
        rows = db.session.execute(
            select(
                ProjectRecipient.project_id,
                ProjectRecipient.country_iso3,
                ProjectRecipient.region_code,
                ProjectRecipient.share_ppm,
            )
            .where(ProjectRecipient.project_id.in_(ids))
            .order_by(ProjectRecipient.project_id, ProjectRecipient.id)
        )
        for pid, country, region, ppm in rows:
            if country:
                add(pid, "countries", _coded(country, ppm))
            elif region:
                add(pid, "regions", _coded(region, ppm))
    if "areas" in needs:
        rows = db.session.execute(
            select(ProjectArea.project_id, ProjectArea.area_code, ProjectArea.share_ppm)
            .where(ProjectArea.project_id.in_(ids))
            .order_by(ProjectArea.project_id, ProjectArea.area_code)
        )
        for pid, code, ppm in rows:
            add(pid, "areas", _coded(code, ppm))
    if "sectors" in needs:
        rows = db.session.execute(
            select(ProjectSector.project_id, ProjectSector.code, ProjectSector.share_ppm)
            .where(ProjectSector.project_id.in_(ids))
            .order_by(ProjectSector.project_id, ProjectSector.code)
        )
        for pid, code, ppm in rows:
            add(pid, "sectors", _coded(code, ppm))
    return {pid: {name: ";".join(values) for name, values in lists.items()} for pid, lists in out.items()}


def _source_lists(ids: Sequence[int], needs: set[str]) -> dict[int, dict[str, str]]:
    """Instruments and eligibility lists of these funding sources."""
    out: dict[int, dict[str, list[str]]] = {sid: {} for sid in ids}
    if "rules" in needs:
        links = (
            ("countries", funding_source_countries, "country_iso3"),
            ("regions", funding_source_regions, "region_code"),
            ("categories", funding_source_categories, "category_code"),
            ("areas", funding_source_areas, "area_code"),
        )
        for name, table, column in links:
            rows = db.session.execute(
                select(table.c.funding_source_id, table.c[column])
                .where(table.c.funding_source_id.in_(ids))
                .order_by(table.c.funding_source_id, table.c[column])
            )
            for sid, code in rows:
                out[sid].setdefault(name, []).append(code)
        rows = db.session.execute(
            select(FundingSourceInstrument.funding_source_id, FundingSourceInstrument.instrument)
            .where(FundingSourceInstrument.funding_source_id.in_(ids))
            .order_by(FundingSourceInstrument.funding_source_id, FundingSourceInstrument.instrument)
        )
        for sid, instrument in rows:
            out[sid].setdefault("instruments", []).append(str(instrument))
    return {sid: {name: ";".join(values) for name, values in lists.items()} for sid, lists in out.items()}


def rows(choice: Choice) -> Iterator[list]:
    """The chosen columns' values of each row, read ``BATCH`` rows at a time (``yield_per``:
    the database's cursor is read as the rows are written, never the whole result)."""
    needs = {c.needs for c in choice.columns if c.needs}
    owner = "project_id" if choice.resource.name == "transactions" else "id"
    lists = _source_lists if choice.resource.name == "funding-sources" else _project_lists
    result = db.session.execute(_statement(choice), execution_options={"yield_per": BATCH})
    try:
        for batch in result.mappings().partitions():
            more = lists(sorted({row[owner] for row in batch}), needs) if needs else {}
            for row in batch:
                extra = more.get(row[owner], {})
                yield [column.value(row, extra) for column in choice.columns]
    finally:
        # A download stopped early (the client went away) closes its server-side cursor too.
        result.close()


# -- the formats ------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A value as the CSV writes it (and JSON Lines for decimals)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _cell(column: Column, value: Any) -> Any:
    """A cell of CSV or XLSX: text that could run as a formula is made safe."""
    text = _text(value)
    if column.type in ("string", "code", "codes"):
        return safe_text(text)
    return text


def csv_chunks(choice: Choice) -> Iterator[str]:
    """The download as CSV, in chunks of about ``CHUNK`` characters."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.key for c in choice.columns])
    for values in rows(choice):
        writer.writerow([_cell(c, v) for c, v in zip(choice.columns, values, strict=True)])
        if buffer.tell() >= CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _json_value(column: Column, value: Any) -> Any:
    if value is None or value == "":
        return None
    if column.type in ("integer", "boolean"):
        return value
    return _text(value)


def jsonl_chunks(choice: Choice) -> Iterator[str]:
    """The download as JSON Lines (one object a row; decimals as strings, as the API writes them)."""
    parts: list[str] = []
    size = 0
    keys = [c.key for c in choice.columns]
    for values in rows(choice):
        line = json.dumps(
            {k: _json_value(c, v) for k, c, v in zip(keys, choice.columns, values, strict=True)},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        parts.append(line + "\n")
        size += len(line) + 1
        if size >= CHUNK:
            yield "".join(parts)
            parts, size = [], 0
    yield "".join(parts)


_XLSX_DECIMAL_MAX = Decimal("1e15")  # Excel keeps 15 significant digits: larger amounts are text


def _xlsx_cell(column: Column) -> Callable[[Any], str | None]:
    """How a column's values are written in a workbook: whole numbers and amounts (Decimal) as
    numbers (an amount as the CSV writes it, every decimal kept; one of 10**15 or more, past
    Excel's 15 significant digits, as text), booleans as booleans, the rest (dates and times in
    ISO 8601, the exchange rate kept as its source's text, codes, text) as the CSV's text, made
    safe from formulas. An empty value is an empty cell."""

    # one function a column type: this runs for every cell of a million rows
    if column.type == "integer":

        def cell(value: Any) -> str | None:
            if value is None or value == "":
                return None
            return xlsx_stream.number(str(value)) if isinstance(value, int) else xlsx_stream.text(_cell(column, value))

    elif column.type == "decimal":

        def cell(value: Any) -> str | None:
            if value is None or value == "":
                return None
            if isinstance(value, Decimal) and abs(value) < _XLSX_DECIMAL_MAX:
                written = str(value)
                return xlsx_stream.number(format(value, "f") if "E" in written else written)
            return xlsx_stream.text(_cell(column, value))

    elif column.type == "boolean":

        def cell(value: Any) -> str | None:
            return None if value is None or value == "" else xlsx_stream.boolean(bool(value))

    elif column.type in ("string", "code", "codes"):

        def cell(value: Any) -> str | None:
            if value is None or value == "":
                return None
            return xlsx_stream.text(safe_text(value if value.__class__ is str else _text(value)))

    else:

        def cell(value: Any) -> str | None:
            return None if value is None or value == "" else xlsx_stream.text(_text(value))

    return cell


def xlsx_chunks(choice: Choice) -> Iterator[bytes]:
    """The download as a workbook, zipped and sent as the rows are read (reports.xlsx_stream):
    one sheet named after the resource, the keys in a bold frozen header row; more than
    ``XLSX_ROWS`` rows (header included) go on on a second sheet, and so on."""
    cells = [_xlsx_cell(c) for c in choice.columns]
    made = ([cell(v) for cell, v in zip(cells, values, strict=True)] for values in rows(choice))
    return xlsx_stream.workbook(
        choice.resource.name, [c.key for c in choice.columns], made, rows_per_sheet=XLSX_ROWS, chunk_size=CHUNK
    )


def endpoint(resource: Resource, suffix: str) -> str:
    """The endpoint name of a download (``FundingSourcesCsv``)."""
    return "".join(part.title() for part in resource.name.split("-")) + suffix.title()


def page_links(args) -> dict[str, dict[str, str]]:
    """The address of each download in each format with the reports page's filters (``args``:
    its request.args), less what a download does not take (currency, rows by)."""
    links: dict[str, dict[str, str]] = {}
    for resource in RESOURCES.values():
        keys = [f for f in FILTERS if f not in resource.not_filters]
        pairs = [(k, v) for k in keys for v in args.getlist(k) if v and not (k == "confirmed" and v == "all")]
        query = ("?" + urlencode(pairs)) if pairs else ""
        links[resource.name] = {f: url_for(f"downloads.{endpoint(resource, f)}") + query for f in FORMATS}
    return links


if __name__ == "__main__":  # python -m reports.downloads > docs/data-dictionary.md
    print(dictionary_markdown(), end="")
