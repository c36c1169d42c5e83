"""The donor template: an instructions sheet, the canonical columns, drop-down lists; blank
(``template_workbook``) or filled with an organisation's projects and flows
(``filled_workbook``, the "Download my projects" of the import page and the API).

The filled template is the round trip's first half: edited in a spreadsheet and uploaded
again, each row's flow id tells the import which stored flow the row is, so that it updates
that flow instead of adding another (``importers.pipeline.run``)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry import money
from registry.extensions import db
from registry.models import Country, FundingSource, Organisation, PriorityArea, Project, Region, Transaction
from registry.models.types import N_
from registry.services import plans as plan_service
from registry.services.shares import share_text

# (header, what goes in it, width, list name for a drop-down or None)
TEMPLATE_COLUMNS = [
    (
        "Project reference",
        N_("Your own reference; the same on every row of one project (keeps leading zeros)."),
        18,
        None,
    ),
    ("Project title", N_("Short title of the project."), 40, None),
    ("Description", N_("Optional."), 40, None),
    ("Status", N_("pipeline, active, completed, cancelled or suspended."), 12, "Statuses"),
    ("Planned start", N_("Date (YYYY-MM-DD) or a year."), 13, None),
    ("Planned end", N_("Date (YYYY-MM-DD) or a year."), 13, None),
    (
        "Recipient country",
        N_("ISO3 code (or name); one per row. Leave empty for a regional project."),
        14,
        "Countries",
    ),
    ("Recipient region", N_("UN M49 code of a region when no country applies."), 14, "Regions"),
    (
        "Country share (%)",
        N_("Optional. Without shares, each country's amounts give its share."),
        12,
        None,
    ),
    (
        "Priority area",
        N_("Tunis Agenda para. 23 codes 23a-23l, several separated by ';'."),
        14,
        "Areas",
    ),
    ("Purpose code", N_("OECD DAC 5-digit purpose code(s), e.g. 22040."), 12, None),
    ("WSIS action line", N_("C1-C11, several separated by ';'."), 12, None),
    (
        "Scope",
        N_("Optional: national, multi-country, regional or global. Empty: derived from the recipients."),
        12,
        None,
    ),
    (
        "Infrastructure",
        N_(
            "Optional, for cross-border works: ixp, backbone, submarine_cable, satellite, data_centre, "
            "spectrum_regulation or none."
        ),
        14,
        None,
    ),
    (
        "Transaction type",
        N_("commitment, disbursement, expenditure, pledge or incoming_funds."),
        16,
        "Types",
    ),
    ("Amount", N_("Positive number; negative or (in parentheses) for a reversal."), 14, None),
    ("Currency", N_("ISO 4217 code, e.g. USD, EUR."), 10, "Currencies"),
    ("Value date", N_("Date of the flow (YYYY-MM-DD), or the year for annual figures."), 13, None),
    (
        "Funding source",
        N_("Reference or exact name of a funding source in the registry (optional)."),
        18,
        None,
    ),
    ("Flow type", N_("IATI flow type code (optional), e.g. 10 ODA."), 10, None),
    ("Finance type", N_("IATI finance type code (optional), e.g. 110 grant."), 10, None),
    ("Aid type", N_("IATI aid type code (optional), e.g. C01."), 10, None),
    (
        "Tied status",
        N_(
            "Optional: untied, partially tied or tied (IATI tied status 5, 3 or 4); empty: the project's "
            "default tied status applies, else unknown."
        ),
        14,
        "TiedStatuses",
    ),
    ("Transaction description", N_("Optional note on the flow."), 30, None),
    ("Need (total cost)", N_("Total cost of the project (optional)."), 14, None),
    ("Need currency", N_("Currency of the need."), 10, "Currencies"),
    (
        "Flow id",
        "The registry's number of the flow on the row (filled in by 'Download my projects'): keep it to "
        "update that flow, leave it empty for a new one.",
        10,
        None,
    ),
]
PLAN_YEARS = 3  # the template plans the next three calendar years ("Planned 2027" ...)
PLAN_HELP = N_(
    "Planned disbursement in that calendar year, in the row's currency (optional): the project's "
    "forward plan, not a flow. Empty: the registry's plan for the year stays; 0: nothing planned."
)


def template_columns(today: dt.date | None = None) -> list[tuple[str, str, int, str | None]]:
    """The template's columns: the canonical ones with a "Planned <year>" column for each of the
    next three calendar years before the flow id (the import reads any "Planned <year>")."""
    first = (today or dt.date.today()).year + 1
    plans = [(f"Planned {year}", PLAN_HELP, 13, None) for year in range(first, first + PLAN_YEARS)]
    at = next(i for i, (header, *_rest) in enumerate(TEMPLATE_COLUMNS) if header == "Flow id")
    return [*TEMPLATE_COLUMNS[:at], *plans, *TEMPLATE_COLUMNS[at:]]


STATUSES = ["pipeline", "active", "completed", "cancelled", "suspended"]
TYPES = ["commitment", "disbursement", "expenditure", "pledge", "incoming_funds"]
# The tied statuses as the template writes them (IATI TiedStatus 5, 3, 4), read back as codes.
TIED_STATUSES = {"5": "untied", "3": "partially tied", "4": "tied"}


def template_workbook(rows: int = 2000) -> bytes:
    """The blank template as XLSX bytes, with data validation on the coded columns."""
    import xlsxwriter

    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    _write_template(wb, rows, (), template_columns())
    wb.close()
    return buffer.getvalue()


def filled_workbook(org: Organisation, out: IO[bytes], rows: int = 2000) -> None:
    """The template filled with the organisation's projects (soft-deleted ones left out) and
    their current-price flows, one row per flow, written to ``out``.

    Rows are streamed (xlsxwriter's constant_memory: each row is written to disk as soon as
    the next one starts), projects read from the database a chunk at a time, so a large
    organisation's file costs little memory. Text cells are written as text, never as
    formulas: a title starting with "=" stays a title."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        out,
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False},
    )
    columns = template_columns()
    _write_template(wb, rows, _project_rows(org, columns), columns)
    wb.close()


def _write_template(wb: Any, rows: int, data: Iterator[list[Any]] | tuple, template: list[tuple]) -> None:
    """The three sheets; ``data``: the Projects sheet's rows, each a list of cell values in the
    order of the ``template`` columns (None: an empty cell)."""
    import xlsxwriter

    countries = list(db.session.execute(select(Country.iso3, Country.name).order_by(Country.iso3)))
    regions = list(db.session.execute(select(Region.code, Region.name).order_by(Region.code)))
    areas = list(db.session.execute(select(PriorityArea.code, PriorityArea.short_name).order_by(PriorityArea.code)))
    currencies = sorted(money.currencies())
    bold = wb.add_format({"bold": True})
    head = wb.add_format({"bold": True, "bg_color": "#0B5D7A", "font_color": "#FFFFFF", "text_wrap": True})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    text = wb.add_format({"num_format": "@"})
    day = wb.add_format({"num_format": "yyyy-mm-dd"})

    info = wb.add_worksheet("Instructions")
    info.set_column(0, 0, 26)
    info.set_column(1, 1, 90)
    # The explanations in the reader's language; the column names stay the ones the import reads.
    info.write(0, 0, _("ICT4D Funding Registry: donor import template"), bold)
    notes = [
        N_("One row per money flow (commitment, disbursement, ...) of a project and recipient country."),
        N_(
            "Rows with the same project reference make one project; its countries' shares come from "
            "the 'Country share (%)' column or, when it is empty, from each country's amounts."
        ),
        N_(
            "Several years? Either one row per flow with its value date, or columns such as "
            "'Commitment 2023', 'Disbursement 2024' (one per type and year)."
        ),
        N_(
            "Importing the same file twice changes nothing; a corrected file updates the projects "
            "in place and replaces the flows the earlier file brought."
        ),
        N_("Drop-down lists come from the Lists sheet; codes are checked again when you import."),
        N_(
            "'Download my projects' fills this template with your projects, one row per flow. Edit it and "
            "import it again: the preview lists every change (project, field, before, after). Keep the "
            "'Flow id' of a row to update that flow; a new row without one adds a flow; a flow whose row "
            "you delete is kept in the registry and listed in the preview (delete it in the registry)."
        ),
        N_(
            "'Planned 2027' and the other year columns: what the project plans to disburse in that calendar "
            "year, in the row's currency (its forward plan, not a flow). A year left empty keeps the plan the "
            "registry has; write 0 when nothing is planned."
        ),
    ]
    for i, note in enumerate(notes, 2):
        info.write(i, 1, _(note), wrap)
    info.write(9, 0, _("Column"), bold)
    info.write(9, 1, _("What goes in it"), bold)
    for i, (header, help_text, _w, _l) in enumerate(template, 10):
        info.write(i, 0, header)
        info.write(i, 1, _(help_text), wrap)

    sheet = wb.add_worksheet("Projects")
    lists = wb.add_worksheet("Lists")
    columns = {
        "Countries": [c for c, _n in countries],
        "Regions": [c for c, _n in regions],
        "Areas": [c for c, _n in areas],
        "Types": TYPES,
        "Statuses": STATUSES,
        "Currencies": currencies,
        "TiedStatuses": list(TIED_STATUSES.values()),
    }
    for col, (name, values) in enumerate(columns.items()):
        lists.write(0, col, name, bold)
        lists.write_column(1, col, values)
        letter = xlsxwriter.utility.xl_col_to_name(col)
        wb.define_name(name, f"=Lists!${letter}$2:${letter}${len(values) + 1}")
    lists.write(0, 7, "Country", bold)
    lists.write(0, 8, "Name", bold)
    for i, (code, name) in enumerate(countries, 1):
        lists.write(i, 7, code)
        lists.write(i, 8, name)
    lists.write(0, 10, "Area", bold)
    lists.write(0, 11, "Short name", bold)
    for i, (code, name) in enumerate(areas, 1):
        lists.write(i, 10, code)
        lists.write(i, 11, name)
    sheet.set_row(0, 30)
    for col, (header, help_text, width, list_name) in enumerate(template):
        sheet.write(0, col, header, head)
        sheet.set_column(col, col, width, text if header == "Project reference" else None)
        sheet.write_comment(0, col, _(help_text))
        if list_name:
            sheet.data_validation(
                1,
                col,
                rows,
                col,
                {
                    "validate": "list",
                    "source": f"={list_name}",
                    "error_type": "warning",
                    "input_title": header,
                    "input_message": _(help_text)[:250],
                },
            )
    sheet.freeze_panes(1, 1)
    for r, values in enumerate(data, 1):
        for col, value in enumerate(values):
            if value is None or value == "":
                continue
            if isinstance(value, str):
                sheet.write_string(r, col, value)
            elif isinstance(value, dt.date):
                sheet.write_datetime(r, col, dt.datetime.combine(value, dt.time()), day)
            else:
                sheet.write_number(r, col, value)


CHUNK = 500  # projects read from the database at a time


def _project_rows(org: Organisation, template: list[tuple]) -> Iterator[list[Any]]:
    """The organisation's projects as template rows: one per flow, or one per recipient when
    a project has more recipients than flows (at least one row per project)."""
    sources = {i: ref for i, ref in db.session.execute(select(FundingSource.id, FundingSource.ref))}
    ids = list(db.session.scalars(select(Project.id).where(Project.org_id == org.id).order_by(Project.reference)))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        stmt = (
            select(Project)
            .where(Project.id.in_(chunk))
            .options(
                selectinload(Project.recipients),
                selectinload(Project.areas),
                selectinload(Project.sectors),
                selectinload(Project.planned_disbursements),
            )
            .order_by(Project.reference)
        )
        projects = list(db.session.scalars(stmt))
        flows: dict[int, list[Transaction]] = {}
        tx = select(Transaction).where(Transaction.project_id.in_(chunk), Transaction.price_basis.is_(None))
        for t in db.session.scalars(tx.order_by(Transaction.value_date, Transaction.id)):
            flows.setdefault(t.project_id, []).append(t)
        at = {header: i for i, (header, *_rest) in enumerate(template)}
        for project in projects:
            yield from _rows_of(project, flows.get(project.id, []), sources, at)
        for read in (*projects, *(t for each in flows.values() for t in each)):
            db.session.expunge(read)  # read once, written once: nothing to keep in the session


def _rows_of(
    project: Project, flows: list[Transaction], sources: dict[int, str], at: dict[str, int]
) -> Iterator[list[Any]]:
    """A project's rows: its own cells on the first, a recipient and a flow on each, and its
    planned disbursements of the template's years on a row of their currency (one more row
    when no row has it)."""
    width = len(at)
    own: list[Any] = [None] * width

    def put(row: list, header: str, value: Any) -> None:
        row[at[header]] = value

    put(own, "Project reference", project.reference)
    put(own, "Project title", project.title)
    put(own, "Description", project.description or None)
    put(own, "Status", project.status.value if project.status else None)
    put(own, "Planned start", project.planned_start)
    put(own, "Planned end", project.planned_end)
    if project.areas and not all(a.inferred for a in project.areas):
        # Areas the registry inferred from the purpose codes are left to be inferred again.
        put(own, "Priority area", "; ".join(f"{a.area_code} ({share_text(a.share_ppm)}%)" for a in project.areas))
    put(own, "Purpose code", "; ".join(s.code for s in project.sectors) or None)
    put(own, "WSIS action line", "; ".join(c for c in (project.wsis_action_lines or "").split(",") if c) or None)
    put(own, "Scope", project.scope)  # the stated scope; a derived one is derived again
    put(own, "Infrastructure", project.infrastructure)
    if project.need_minor is not None and project.need_currency:
        put(own, "Need (total cost)", _number(money.from_minor(project.need_minor, project.need_currency)))
        put(own, "Need currency", project.need_currency)
    recipients = list(project.recipients)
    rows: list[list[Any]] = []
    for i in range(max(len(flows), len(recipients), 1)):
        # The project's own cells on its first row only (the import reads them there): one
        # place to edit a title; the reference on every row.
        row = list(own) if i == 0 else [None] * width
        put(row, "Project reference", project.reference)
        if i < len(recipients):
            r = recipients[i]
            put(row, "Recipient country", r.country_iso3)
            put(row, "Recipient region", r.region_code)
            put(row, "Country share (%)", _number(share_text(r.share_ppm)))
        if i < len(flows):
            t = flows[i]
            put(row, "Transaction type", t.type.value)
            put(row, "Amount", _number(money.from_minor(t.amount_minor, t.currency)))
            put(row, "Currency", t.currency)
            put(row, "Value date", t.value_date)
            put(row, "Funding source", sources.get(t.funding_source_id))
            put(row, "Flow type", t.flow_type)
            put(row, "Finance type", t.finance_type)
            put(row, "Aid type", t.aid_type)
            put(row, "Tied status", TIED_STATUSES.get(t.tied_status or "", t.tied_status))
            put(row, "Transaction description", t.description or None)
            put(row, "Flow id", t.id)
        rows.append(row)
    years = {int(header.split()[1]): header for header in at if header.startswith("Planned ") and header[8:].isdigit()}
    by_currency: dict[str, dict[int, Decimal]] = {}
    for year, amounts in plan_service.year_amounts(project, years).items():
        for currency, amount in amounts.items():
            by_currency.setdefault(currency, {})[year] = amount
    for currency, amounts in sorted(by_currency.items()):
        # The row of the plan's currency: a flow's in it, else a row without a flow.
        row = next((r for r in rows if r[at["Currency"]] == currency), None) or next(
            (r for r in rows if r[at["Currency"]] is None and r[at["Amount"]] is None), None
        )
        if row is None:
            row = [None] * width
            put(row, "Project reference", project.reference)
            rows.append(row)
        put(row, "Currency", currency)
        for year, amount in amounts.items():
            put(row, years[year], _number(amount))
    yield from rows


def _number(value: Any) -> int | float:
    """A decimal as the number a spreadsheet cell holds (whole numbers stay whole)."""
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number
