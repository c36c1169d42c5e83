"""Warnings a run adds to its report: money kept unconverted, areas not inferred, flows of
another sheet replaced. Each one says how much, where and why (never move money silently)."""

from __future__ import annotations

from sqlalchemy import select

from importers.messages import Text
from importers.pipeline.candidate import _Candidate
from importers.pipeline.common import _AMOUNT_AT, _CURRENCY_AT, _TYPE_AT, _VALUE_DATE_AT, _problem
from importers.pipeline.write import Updated
from importers.records import Location, Problem, ProjectRecord, TransactionRecord
from registry import money
from registry.extensions import db
from registry.models import ImportBatch
from registry.models.types import N_


def other_sheets_replaced(batch: ImportBatch, updated: list[Updated]) -> Problem | None:
    """One warning when this file replaces flows that another sheet of a workbook brought.

    A donor with one sheet per year who imports the sheets one at a time would otherwise
    lose each earlier year's flows silently (the file is the truth for its projects)."""
    sheet = (batch.options or {}).get("sheet")
    if not sheet:
        return None  # all the sheets of the file are read: nothing of a sheet is lost
    old_batches = {row["import_batch_id"] for u in updated for row in (u.old_rows or ())}
    if not old_batches:
        return None
    lost: dict[int, str | None] = {}  # batch id -> the sheet it read
    for batch_id, file_hash, options in db.session.execute(
        select(ImportBatch.id, ImportBatch.file_hash, ImportBatch.options).where(ImportBatch.id.in_(old_batches))
    ):
        other = (options or {}).get("sheet")
        if sheet and other != sheet and (file_hash == batch.file_hash or other):
            lost[batch_id] = other
    if not lost:
        return None
    projects = flows = 0
    for u in updated:
        hits = sum(1 for r in u.old_rows or () if r["import_batch_id"] in lost)
        projects += bool(hits)
        flows += hits
    sources = [
        Text(N_("import %(batch)s (sheet %(sheet)s)"), batch=str(b), sheet=repr(name))
        if name
        else Text(N_("import %(batch)s (all sheets)"), batch=str(b))
        for b, name in sorted(lost.items())
    ]
    return _problem(
        "warning",
        "other_sheet_replaced",
        Text(
            N_(
                "This import replaces %(flows)s flows of %(projects)s projects that %(sources)s brought: a file "
                "is the whole truth for its projects. If the sheets of a workbook hold different years or "
                "flows of the same projects, import them together (all sheets), not one at a time."
            ),
            flows=flows,
            projects=projects,
            sources=sources,
        ),
        Location(file=batch.filename, sheet=sheet),
    )


def unconverted_flow(t: TransactionRecord, row: tuple, rec: ProjectRecord, why: str) -> Problem:
    """A flow kept in its own currency because no rate source converts it: say which, how much, why."""
    currency, on = row[_CURRENCY_AT], row[_VALUE_DATE_AT]
    amount = money.format_amount(money.from_minor(row[_AMOUNT_AT], currency), currency)
    return _problem(
        "warning",
        "unconverted_amount",
        Text(
            N_(
                "The %(type)s of %(amount)s dated %(date)s of project %(ref)s is kept in %(currency)s without "
                "a US dollar value, and left out of the reports' figures (their notes list it): %(why)s"
            ),
            type=row[_TYPE_AT].value.replace("_", " "),
            amount=amount,
            date=on.isoformat(),
            ref=repr(rec.reference),
            currency=currency,
            why=why,
        ),
        t.location,
        t.amount,
        t.location.column,
    )


def unconverted_need(project: _Candidate, rec: ProjectRecord) -> Problem:
    """A need kept in its own currency because no rate converts it at its date."""
    need = money.format_amount(money.from_minor(project.need_minor, project.need_currency), project.need_currency)
    on = project.need_date.isoformat() if project.need_date else "its date"
    return _problem(
        "warning",
        "unconverted_need",
        Text(
            N_(
                "The need of %(need)s of project %(ref)s is kept in %(currency)s without a US dollar value "
                "(no exchange rate on %(date)s), and left out of the reports' needs and gaps (their notes list it)"
            ),
            need=need,
            ref=repr(rec.reference),
            currency=project.need_currency,
            date=on,
        ),
        rec.location,
        str(rec.need_amount),
        rec.columns.get("need_amount"),
    )


def no_area(rec: ProjectRecord) -> Problem:
    """Purpose codes that point at no area (99810). Readers of whole activities (IATI, CRS,
    which list no columns) infer, and say so, themselves."""
    return _problem(
        "warning",
        "no_area",
        Text(
            N_(
                "No paragraph 23 area could be inferred from the purpose codes %(codes)s: "
                "set one by hand, or give the areas in a Priority area column"
            ),
            codes=", ".join(rec.sectors),
        ),
        rec.location,
        ", ".join(rec.sectors),
        rec.columns.get("sectors"),
    )
