"""The blank donor template: an instructions sheet, the canonical columns, drop-down lists."""

from __future__ import annotations

import io

from sqlalchemy import select

from registry import money
from registry.extensions import db
from registry.models import Country, PriorityArea, Region

# (header, what goes in it, width, list name for a drop-down or None)
TEMPLATE_COLUMNS = [
    (
        "Project reference",
        "Your own reference; the same on every row of one project (keeps leading zeros).",
        18,
        None,
    ),
    ("Project title", "Short title of the project.", 40, None),
    ("Description", "Optional.", 40, None),
    ("Status", "pipeline, active, completed, cancelled or suspended.", 12, "Statuses"),
    ("Planned start", "Date (YYYY-MM-DD) or a year.", 13, None),
    ("Planned end", "Date (YYYY-MM-DD) or a year.", 13, None),
    (
        "Recipient country",
        "ISO3 code (or name); one per row. Leave empty for a regional project.",
        14,
        "Countries",
    ),
    ("Recipient region", "UN M49 code of a region when no country applies.", 14, "Regions"),
    (
        "Country share (%)",
        "Optional. Without shares, each country's amounts give its share.",
        12,
        None,
    ),
    (
        "Priority area",
        "Tunis Agenda para. 23 codes 23a-23l, several separated by ';'.",
        14,
        "Areas",
    ),
    ("Purpose code", "OECD DAC 5-digit purpose code(s), e.g. 22040.", 12, None),
    ("WSIS action line", "C1-C11, several separated by ';'.", 12, None),
    (
        "Transaction type",
        "commitment, disbursement, expenditure, pledge or incoming_funds.",
        16,
        "Types",
    ),
    ("Amount", "Positive number; negative or (in parentheses) for a reversal.", 14, None),
    ("Currency", "ISO 4217 code, e.g. USD, EUR.", 10, "Currencies"),
    ("Value date", "Date of the flow (YYYY-MM-DD), or the year for annual figures.", 13, None),
    (
        "Funding source",
        "Reference or exact name of a funding source in the registry (optional).",
        18,
        None,
    ),
    ("Flow type", "IATI flow type code (optional), e.g. 10 ODA.", 10, None),
    ("Finance type", "IATI finance type code (optional), e.g. 110 grant.", 10, None),
    ("Aid type", "IATI aid type code (optional), e.g. C01.", 10, None),
    ("Transaction description", "Optional note on the flow.", 30, None),
    ("Need (total cost)", "Total cost of the project (optional).", 14, None),
    ("Need currency", "Currency of the need.", 10, "Currencies"),
]
STATUSES = ["pipeline", "active", "completed", "cancelled", "suspended"]
TYPES = ["commitment", "disbursement", "expenditure", "pledge", "incoming_funds"]


def template_workbook(rows: int = 2000) -> bytes:
    """The template as XLSX bytes, with data validation on the coded columns."""
    import xlsxwriter

    countries = list(db.session.execute(select(Country.iso3, Country.name).order_by(Country.iso3)))
    regions = list(db.session.execute(select(Region.code, Region.name).order_by(Region.code)))
    areas = list(
        db.session.execute(
            select(PriorityArea.code, PriorityArea.short_name).order_by(PriorityArea.code)
        )
    )
    currencies = sorted(money.currencies())
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = wb.add_format({"bold": True})
    head = wb.add_format(
        {"bold": True, "bg_color": "#0B5D7A", "font_color": "#FFFFFF", "text_wrap": True}
    )
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    text = wb.add_format({"num_format": "@"})

    info = wb.add_worksheet("Instructions")
    info.set_column(0, 0, 26)
    info.set_column(1, 1, 90)
    info.write(0, 0, "ICT4D Funding Registry: donor import template", bold)
    notes = [
        "One row per money flow (commitment, disbursement, ...) of a project and recipient "
        "country.",
        "Rows with the same project reference make one project; its countries' shares come from "
        "the 'Country share (%)' column or, when it is empty, from each country's amounts.",
        "Several years? Either one row per flow with its value date, or columns such as "
        "'Commitment 2023', 'Disbursement 2024' (one per type and year).",
        "Importing the same file twice changes nothing; a corrected file updates the projects "
        "in place and replaces the flows the earlier file brought.",
        "Drop-down lists come from the Lists sheet; codes are checked again when you import.",
    ]
    for i, note in enumerate(notes, 2):
        info.write(i, 1, note, wrap)
    info.write(8, 0, "Column", bold)
    info.write(8, 1, "What goes in it", bold)
    for i, (header, help_text, _w, _l) in enumerate(TEMPLATE_COLUMNS, 9):
        info.write(i, 0, header)
        info.write(i, 1, help_text, wrap)

    sheet = wb.add_worksheet("Projects")
    lists = wb.add_worksheet("Lists")
    columns = {
        "Countries": [c for c, _n in countries],
        "Regions": [c for c, _n in regions],
        "Areas": [c for c, _n in areas],
        "Types": TYPES,
        "Statuses": STATUSES,
        "Currencies": currencies,
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
    for col, (header, help_text, width, list_name) in enumerate(TEMPLATE_COLUMNS):
        sheet.write(0, col, header, head)
        sheet.set_column(col, col, width, text if header == "Project reference" else None)
        sheet.write_comment(0, col, help_text)
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
                    "input_message": help_text[:250],
                },
            )
    sheet.freeze_panes(1, 1)
    sheet.set_row(0, 30)
    wb.close()
    return buffer.getvalue()
