"""Projects in the shape of the ITU's WSIS Stocktaking database: one row per project with its
title, WSIS action lines, countries, partners, dates, description and a link to its page, as
CSV or XLSX.

The column names are the file's own (English, fixed): people submitting to the Stocktaking and
scripts reading the file find them under the same names in every language of the registry. The
action lines' names and the countries' names are English too, as the Stocktaking keeps them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable

import xlsxwriter
from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry.extensions import db
from registry.models import Project, ProjectRecipient, Transaction
from registry.models.types import WSIS_ACTION_LINES
from registry.spreadsheet_safety import safe_text

COLUMNS = (
    "title",
    "action_lines",
    "action_line_names",
    "countries",
    "country_codes",
    "partners",
    "start_date",
    "end_date",
    "description",
    "link",
    "reference",
    "iati_identifier",
)
SEPARATOR = "; "


def _ordered_lines(project: Project) -> list[str]:
    return sorted(project.action_lines, key=lambda c: int(c[1:]) if c[1:].isdigit() else 99)


def row(project: Project) -> dict[str, str]:
    """One project as a Stocktaking row (text cells; dates ISO 8601; lists joined by "; ")."""
    lines = _ordered_lines(project)
    places = [
        (r.country.name, r.country_iso3) if r.country else (r.region.name, r.region_code)
        for r in project.recipients
        if r.country or r.region
    ]
    partners = [project.org.name]
    for tx in project.transactions:
        if tx.provider_org is not None and tx.provider_org.name not in partners:
            partners.append(tx.provider_org.name)
    start = project.actual_start or project.planned_start
    end = project.actual_end or project.planned_end
    return {
        "title": project.title,
        "action_lines": SEPARATOR.join(lines),
        "action_line_names": SEPARATOR.join(f"{c} {WSIS_ACTION_LINES[c]}" for c in lines if c in WSIS_ACTION_LINES),
        "countries": SEPARATOR.join(name for name, _code in places),
        "country_codes": SEPARATOR.join(code for _name, code in places),
        "partners": SEPARATOR.join(partners),
        "start_date": start.isoformat() if start else "",
        "end_date": end.isoformat() if end else "",
        "description": (project.description or "").strip(),
        "link": url_for("web.project", project_id=project.id, _external=True),
        "reference": project.reference,
        "iati_identifier": project.iati_identifier or "",
    }


def projects_for_stocktaking(stmt) -> Iterable[Project]:
    """The projects of a query (the project list's filters) with what a row needs, in chunks."""
    ids = list(db.session.scalars(stmt.with_only_columns(Project.id).order_by(None).order_by(Project.id)))
    for start in range(0, len(ids), 500):
        query = (
            select(Project)
            .where(Project.id.in_(ids[start : start + 500]))
            .options(
                selectinload(Project.org),
                selectinload(Project.recipients).selectinload(ProjectRecipient.country),
                selectinload(Project.recipients).selectinload(ProjectRecipient.region),
                selectinload(Project.transactions).selectinload(Transaction.provider_org),
            )
            .order_by(Project.title, Project.id)
        )
        yield from db.session.scalars(query)


def to_csv(projects: Iterable[Project]) -> str:
    """The rows as CSV (text cells safe from spreadsheet formulas)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for project in projects:
        values = row(project)
        writer.writerow([safe_text(values[c]) for c in COLUMNS])
    return buffer.getvalue()


def to_xlsx(projects: Iterable[Project]) -> bytes:
    """The rows as a workbook of one sheet, "WSIS Stocktaking" (every cell written as text)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet("WSIS Stocktaking")
    bold = book.add_format({"bold": True})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    for c, name in enumerate(COLUMNS):
        sheet.write_string(0, c, name, bold)
    widths = {"title": 40, "action_line_names": 50, "countries": 30, "partners": 30, "description": 60, "link": 40}
    for c, name in enumerate(COLUMNS):
        sheet.set_column(c, c, widths.get(name, 14))
    r = 0
    for r, project in enumerate(projects, start=1):
        values = row(project)
        for c, name in enumerate(COLUMNS):
            sheet.write_string(r, c, values[name], wrap if name in ("description", "action_line_names") else None)
    sheet.freeze_panes(1, 1)
    sheet.autofilter(0, 0, max(r, 1), len(COLUMNS) - 1)
    book.set_properties({"title": "WSIS Stocktaking", "created": dt.datetime.now(dt.UTC).replace(tzinfo=None)})
    book.close()
    return buffer.getvalue()
