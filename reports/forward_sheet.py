"""The forward view in a workbook: predictability rows any sheet can write (``write_predictability_rows``,
which the "Quality and predictability" sheet calls) and the funding-gap workbook's "Forward view"
sheet of forward spending. The figures are ``reports.forward``'s."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from reports.forward import forward_spending

FORWARD_SHEET_TITLE = _l("Forward view: planned disbursements")
# Measure -> its definition, for the workbook's About sheet (docs/reports.md has the sources).
FORWARD_DEFINITIONS = (
    (_l("Planned"), _l("Planned disbursements (IATI planned-disbursement) whose period starts in the year.")),
    (
        _l("In-year predictability"),
        _l(
            "The registry's own ratio: disbursed in a year divided by what was planned for that year; empty when "
            "nothing was planned; more than 100 per cent when more was disbursed than planned. It is not the Paris "
            "Declaration indicator 7 or GPEDC indicator 5a value, whose computation per provider and recipient "
            "country it does not apply."
        ),
    ),
    (_l("Absorption"), _l("Disbursements divided by commitments, all years.")),
    (
        _l("Disbursement lag"),
        _l("The median number of days from a project's first commitment to its first disbursement after it."),
    ),
)


def _number(value: str | None) -> float | None:
    # XLSX stores every number as an IEEE double; amounts are exact to the cent up to ~9e13.
    return None if value is None else float(Decimal(value))


def write_predictability_rows(sheet, row: int, report: dict, fmt) -> int:
    """Write the predictability of ``report`` (``reports.forward.predictability``) from ``row``:
    a header, then one row per donor and year, then the total; returns the next free row.
    ``fmt`` gives the formats ``header``, ``text``, ``amount``, ``ratio``, ``count`` and ``total_*``."""
    columns = [
        _("Donor"),
        _("Year"),
        _("Planned"),
        _("Disbursed"),
        _("In-year predictability"),
        _("Absorption"),
        _("Disbursement lag (days)"),
    ]
    for c, title in enumerate(columns):
        sheet.write_string(row, c, title, fmt.header)
    for item in [*report["rows"], report["total"]]:
        total = item is report["total"]
        text, amount, share, count = (
            (fmt.total_text, fmt.total_amount, fmt.total_ratio, fmt.total_count)
            if total
            else (fmt.text, fmt.amount, fmt.ratio, fmt.count)
        )
        for year in item["years"] or [
            {"year": None, "planned": None, "disbursed": None, "in_year_predictability": None}
        ]:
            row += 1
            sheet.write_string(row, 0, _("Total") if total else item["donor"], text)
            if year["year"] is not None:
                sheet.write_number(row, 1, year["year"], text)
            for c, value, cell in (
                (2, year["planned"], amount),
                (3, year["disbursed"], amount),
                (4, year["in_year_predictability"], share),
                (5, item["absorption"], share),
                (6, item["disbursement_lag_days"], count),
            ):
                number = _number(value)
                if number is None:
                    sheet.write_blank(row, c, None, cell)
                else:
                    sheet.write_number(row, c, number, cell)
    return row + 1


def forward_view_sheet(book, fmt, name: str, currency: str, donors: list[str] | None = None) -> None:
    """The "Forward view" sheet: what is planned for each of the next three years by region (the
    predictability by donor and year is on the "Quality and predictability" sheet, which calls
    ``write_predictability_rows``)."""
    sheet = book.add_worksheet(name)
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 6, 16)
    sheet.write_string(0, 0, str(FORWARD_SHEET_TITLE), fmt.title)
    sheet.write_string(1, 0, _("Amounts in %(currency)s.", currency=currency), fmt.subtitle)
    ahead = forward_spending("region", currency, donors=donors or ())
    row = 3
    sheet.write_string(row, 0, _("Planned for the next three years by region"), fmt.key)
    row += 1
    sheet.write_string(row, 0, _("Region"), fmt.header)
    for c, year in enumerate(ahead["years"], start=1):
        sheet.write_string(row, c, str(year), fmt.header)
    sheet.write_string(row, len(ahead["years"]) + 1, _("Total"), fmt.header)
    for item in [*ahead["rows"], {"key": None, **ahead["total"]}]:
        row += 1
        total = item["key"] is None
        sheet.write_string(
            row, 0, _("Total") if total else (item["key"] or _("Unallocated")), fmt.total_text if total else fmt.text
        )
        for c, year in enumerate([*map(str, ahead["years"]), "total"], start=1):
            sheet.write_number(row, c, float(Decimal(item[year])), fmt.total_amount if total else fmt.amount)
    for note in ahead["notes"]:
        row += 2
        sheet.write_string(row, 0, note, fmt.wrap)
