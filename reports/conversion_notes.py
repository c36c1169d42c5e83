"""What a report converted at annual rates, and what it could not convert at all.

A report sums converted amounts only. A flow that no rate source converts (a currency no
source has, an impossible date) stays in its own currency: the report never leaves it out
silently, but lists it in a note with its totals by currency and its number of flows. And
as the IMF's annual averages are coarser than the ECB's daily rates, the report says how
much of each figure was converted at an annual rate. Both go to ``Report.conversion`` (the
JSON's ``conversion``), to the notes (the page, the text table, the workbook), to the CSV's
footer and to the workbook's About sheet.

Amounts are weighted like the report's own figures: by the share of each project that the
report's country, region, category and priority-area filters keep (all of it without such
filters). A flow that names its own recipient weighs as the report's figures weigh it: wholly
where it names, never by the project's shares.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select, text

from registry import money
from registry.extensions import db
from registry.models import Project, ProjectArea, ProjectRecipient, Transaction
from registry.models.transaction import NOT_DAILY
from reports import queries
from reports.dimensions import RAW_AMOUNTS
from reports.notes import Note, kind, shown
from reports.queries import FLOW_TYPES, TxFilter

if TYPE_CHECKING:  # pragma: no cover
    from reports.flows import Report, StageOne

MEASURE_OF = {t: t.value for t in FLOW_TYPES}  # pledge, commitment, disbursement, expenditure
ORDER = [*MEASURE_OF.values(), "need"]
# The partial index's own predicate, as literal SQL (SQLite uses the index only for it).
NOT_DAILY_FLOWS = text(f"({NOT_DAILY})")
# The recipient a flow names itself: the flow goes wholly there (as in the report's figures).
PLACE = (Transaction.recipient_country_iso3, Transaction.recipient_region_code)


def _place(country: str | None, region: str | None) -> tuple[str | None, str | None] | None:
    return (country, region) if country is not None or region is not None else None


def annotate(report: Report, filters: TxFilter, make_keys: Callable[[], Any], first: StageOne | None = None) -> Report:
    """Add the conversion meta and notes to a computed report (see the module docstring).

    ``make_keys`` gives the report's flows._Keys (membership periods, geographic filters),
    built only when a flow to list or weigh needs it."""
    spec = report.spec
    keys = _Lazy(make_keys)
    if spec.currency == "USD":
        annual, unconverted = _stored(filters, keys, bool(spec.categories))
    else:
        annual = dict(first.annual) if first is not None else {}
        unconverted = (
            _flows_of(filters, keys, bool(spec.categories), first.unconverted)
            if first is not None and first.unconverted
            else []
        )
    needs = _unconverted_needs(spec, keys) if _shows_need(report) else []
    weigh = _weigher(spec, keys, {key[0] for key in annual} | {row[0] for row in [*unconverted, *needs]})
    report.conversion = {
        "annual_rates": _annual_meta(report, annual, weigh),
        "unconverted": _unconverted_meta(unconverted, weigh),
    }
    if needs:
        report.conversion["unconverted_needs"] = _unconverted_meta(needs, weigh)
    constant = _constant_prices(filters)
    if constant:
        report.conversion["constant_prices"] = constant
    for note in (
        annual_note(report),
        unconverted_note(report),
        unconverted_needs_note(report),
        constant_prices_note(report),
    ):
        if note:
            report.notes.append(note)
    return report


class _Lazy:
    """The report's keys, built on first use (most reports have no flow to list)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make, self._found = make, None

    def __getattr__(self, name: str) -> Any:
        if self._found is None:
            self._found = self._make()
        return getattr(self._found, name)


# -- reading the flows -------------------------------------------------------------


def _stored(filters: TxFilter, keys: Any, categories: bool) -> tuple[dict, list]:
    """USD reports: the stored flows converted at annual rates, summed by (project, period, flow's
    own recipient), and the stored flows with no USD value, as (project, period, flow's own
    recipient, type, currency, amount, flows); the recipient is None for a flow that names none."""
    # The ids first, by the partial index alone: with the report's other conditions beside it,
    # a planner may prefer an index over all the flows (SQLite did, reading 200,000 of them).
    ids = db.session.scalars(select(Transaction.id).where(NOT_DAILY_FLOWS)).all()
    annual: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    unconverted: list[tuple] = []
    rows: list[tuple] = []
    for start in range(0, len(ids), 1000):
        stmt = select(
            Transaction.project_id,
            Transaction.type,
            Transaction.currency,
            Transaction.value_date,
            Transaction.usd_minor.is_(None),
            *PLACE,
            func.sum(Transaction.amount_minor),
            func.sum(Transaction.usd_minor),
            func.count(),
        ).where(Transaction.id.in_(ids[start : start + 1000]))
        stmt = queries._filtered_flows(stmt, [], filters).group_by(
            Transaction.project_id,
            Transaction.type,
            Transaction.currency,
            Transaction.value_date,
            Transaction.usd_minor.is_(None),
            *PLACE,
        )
        rows += db.session.execute(stmt).all()
    for pid, tx_type, currency, day, missing, country, region, amount, usd, count in rows:
        bucket = keys.bucket_of(day) if categories else 0
        place = _place(country, region)
        if missing:
            unconverted.append((pid, bucket, place, tx_type.value, currency, int(amount), int(count)))
        else:
            annual[(pid, bucket, place)][FLOW_TYPES.index(tx_type)] += int(usd)
    return dict(annual), unconverted


def _flows_of(filters: TxFilter, keys: Any, categories: bool, groups: set[tuple[str, Any]]) -> list[tuple]:
    """Reports in another currency: the flows of the (currency, day) groups no rate converts."""
    days = sorted({(cur, day if isinstance(day, dt.date) else dt.date.fromisoformat(day)) for cur, day in groups})
    out: list[tuple] = []
    for start in range(0, len(days), 200):
        chunk = days[start : start + 200]
        stmt = select(
            Transaction.project_id,
            Transaction.type,
            Transaction.currency,
            Transaction.value_date,
            *PLACE,
            func.sum(Transaction.amount_minor),
            func.count(),
        ).where(or_(*(and_(Transaction.currency == c, Transaction.value_date == d) for c, d in chunk)))
        stmt = queries._filtered_flows(stmt, [], filters).group_by(
            Transaction.project_id, Transaction.type, Transaction.currency, Transaction.value_date, *PLACE
        )
        for pid, tx_type, currency, day, country, region, amount, count in db.session.execute(stmt):
            bucket = keys.bucket_of(day) if categories else 0
            out.append((pid, bucket, _place(country, region), tx_type.value, currency, int(amount), int(count)))
    return out


def _shows_need(report: Report) -> bool:
    """Whether the report shows need (or gap, coverage) figures."""
    return any(report.total.get(m) is not None for m in ("need", "gap", "coverage") if m in report.spec.measures)


def _unconverted_needs(spec: Any, keys: Any) -> list[tuple]:
    """Projects whose need no rate converts (kept by an import), as the rows of unconverted flows."""
    stmt = select(Project.id, Project.need_minor, Project.need_currency, Project.need_date).where(
        Project.need_minor.is_not(None), Project.need_usd_minor.is_(None), Project.deleted_at.is_(None)
    )
    if spec.statuses:
        stmt = stmt.where(Project.status.in_(spec.statuses))
    if spec.action_lines:
        stmt = stmt.where(Project.has_action_line(spec.action_lines))
    stmt = stmt.where(*queries.project_conditions(spec.scopes, spec.infrastructures))
    out = []
    for pid, minor, currency, day in db.session.execute(stmt):
        year = day.year if day else None
        if (spec.year_from or spec.year_to) and (
            year is None or (spec.year_from and year < spec.year_from) or (spec.year_to and year > spec.year_to)
        ):
            continue
        bucket = keys.bucket_of(day) if spec.categories and day else 0
        out.append((pid, bucket, None, "need", currency, int(minor), 1))  # a need follows the shares
    return out


def _weigher(spec: Any, keys: Any, projects: set[int]) -> Callable[[int, int, tuple | None], Fraction]:
    """(project, period, flow's own recipient or None) -> the share of the project's flows the
    report's filters keep (1 without them). A flow that names its own recipient is wholly there."""
    if not (spec.countries or spec.regions or spec.categories or spec.areas) or not projects:
        return lambda pid, bucket, place: Fraction(1)
    ids = sorted(projects)
    recipients: dict[int, list] = defaultdict(list)
    areas: dict[int, list] = defaultdict(list)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for pid, iso3, region, share in db.session.execute(
            select(
                ProjectRecipient.project_id,
                ProjectRecipient.country_iso3,
                ProjectRecipient.region_code,
                ProjectRecipient.share_ppm,
            ).where(ProjectRecipient.project_id.in_(chunk))
        ):
            recipients[pid].append((iso3, region, share))
        for pid, code, share in db.session.execute(
            select(ProjectArea.project_id, ProjectArea.area_code, ProjectArea.share_ppm).where(
                ProjectArea.project_id.in_(chunk)
            )
        ):
            areas[pid].append((code, share))
    memo: dict[tuple, Fraction] = {}

    def weight(pid: int, bucket: int, place: tuple | None) -> Fraction:
        found = memo.get((pid, bucket, place))
        if found is None:
            recs = [(*place, 1)] if place is not None else recipients.get(pid) or [(None, None, 1)]
            ars = areas.get(pid) or [(None, 1)]
            kept_r = sum(
                share
                for iso3, region, share in recs
                if keys.geo_allowed(iso3, region)
                and (not spec.categories or set(keys.categories(iso3, bucket)) & set(spec.categories))
            )
            kept_a = sum(share for code, share in ars if not spec.areas or code in spec.areas)
            whole = sum(r[2] for r in recs) * sum(a[1] for a in ars)
            found = memo[(pid, bucket, place)] = Fraction(kept_r * kept_a, whole)
        return found

    return weight


# -- the meta ------------------------------------------------------------------------


def _round(value: Fraction) -> int:
    return round(value)  # Fraction rounds half to even


def _annual_meta(report: Report, annual: dict, weigh: Callable[[int, int], Fraction]) -> dict:
    """Per flow measure: the amount converted at annual rates and its share of the figure."""
    currency = report.spec.currency
    exact = [Fraction(0)] * 4
    for (pid, bucket, place), amounts in annual.items():
        w = weigh(pid, bucket, place)
        for i in range(4):
            if amounts[i]:
                exact[i] += amounts[i] * w
    out: dict[str, dict] = {}
    # The share of a figure the report sums for its measures (the fast path sums no other: it
    # says the same whichever path computed the report)
    summed = {i for m in report.spec.measures for i in RAW_AMOUNTS.get(m, ())}
    for i, tx_type in enumerate(FLOW_TYPES):
        measure = MEASURE_OF[tx_type]
        minor = _round(exact[i])
        total = report.total.get("_exact", {}).get(measure)
        entry: dict[str, Any] = {"amount": str(money.from_minor(minor, currency))}
        if total is not None and total != 0 and set(RAW_AMOUNTS[measure]) <= summed:
            entry["share"] = str(
                (Decimal(minor) / Decimal(_round(Fraction(total)) or 1)).quantize(
                    Decimal("0.0001"), rounding=ROUND_HALF_EVEN
                )
            )
        if minor or measure in report.spec.measures:
            out[measure] = entry
    return out


def _unconverted_meta(rows: list[tuple], weigh: Callable[[int, int], Fraction]) -> list[dict]:
    """Per currency: the amount and number of flows left out, and the amount by measure."""
    by_currency: dict[str, dict[str, Any]] = {}
    for pid, bucket, place, measure, currency, amount, count in rows:
        w = weigh(pid, bucket, place)
        if not w:
            continue
        entry = by_currency.setdefault(currency, {"exact": Fraction(0), "flows": 0, "by": defaultdict(Fraction)})
        entry["exact"] += amount * w
        entry["flows"] += count
        entry["by"][measure] += amount * w
    out = []
    for currency in sorted(by_currency):
        entry = by_currency[currency]
        out.append(
            {
                "currency": currency,
                "amount": str(money.from_minor(_round(entry["exact"]), currency)),
                "flows": entry["flows"],
                "by_measure": {
                    m: str(money.from_minor(_round(v), currency))
                    for m, v in sorted(entry["by"].items(), key=lambda kv: ORDER.index(kv[0]))
                },
            }
        )
    return out


# -- the words -----------------------------------------------------------------------


def unconverted_note(report: Report) -> Note | None:
    """The note listing the amounts left out for want of a rate, by currency (None when none)."""
    entries = report.conversion.get("unconverted") or []
    return Note("unconverted", entries=entries) if entries else None


def _constant_prices(filters: TxFilter) -> dict[str, dict]:
    """The flows recorded at constant prices (OECD CRS deflated amounts, ``price_basis``), by
    measure: a measure of their own, never added to the current-price figures. Years, donors and
    funding sources narrow them as they narrow the report; places and areas do not."""
    stmt = select(Transaction.type, func.sum(Transaction.amount_minor), func.count()).where(
        Transaction.price_basis == "constant", Transaction.type.in_(FLOW_TYPES)
    )
    if filters.year_from is not None:
        stmt = stmt.where(Transaction.value_date >= dt.date(filters.year_from, 1, 1))
    if filters.year_to is not None:
        stmt = stmt.where(Transaction.value_date < dt.date(filters.year_to + 1, 1, 1))
    if filters.donor_ids:
        stmt = stmt.where(Transaction.provider_org_id.in_(filters.donor_ids))
    if filters.funding_source_ids:
        stmt = stmt.where(Transaction.funding_source_id.in_(filters.funding_source_ids))
    out: dict[str, dict] = {}
    for tx_type, minor, count in db.session.execute(stmt.group_by(Transaction.type)):
        out[tx_type.value] = {"amount": str(money.from_minor(int(minor), "USD")), "currency": "USD", "flows": count}
    return out


def constant_prices_note(report: Report) -> Note | None:
    """The note saying what was recorded at constant prices and left apart (None when nothing)."""
    found = report.conversion.get("constant_prices") or {}
    return Note("constant_prices", found=found) if found else None


def unconverted_needs_note(report: Report) -> Note | None:
    """The note listing the needs left out of need, gap and coverage for want of a rate."""
    entries = report.conversion.get("unconverted_needs") or []
    return Note("unconverted_needs", entries=entries) if entries else None


def annual_note(report: Report) -> Note | None:
    """The note saying how much of each figure was converted at IMF annual average rates."""
    annual = report.conversion.get("annual_rates") or {}
    parts = [
        (measure, entry["amount"], entry.get("share")) for measure, entry in annual.items() if Decimal(entry["amount"])
    ]
    return Note("annual_rates", parts=parts, currency=report.spec.currency) if parts else None


def csv_footer(report: Report) -> list[list[str]]:
    """Rows that end a report's CSV: a blank row, then one ``Note`` row per conversion note."""
    notes = [n for n in (annual_note(report), unconverted_note(report), unconverted_needs_note(report)) if n]
    return [[], *([_("Note"), shown(n)] for n in notes)] if notes else []


def _annual_parts(note: str) -> dict[str, tuple[str, str | None]] | None:
    """measure -> (amount, share) of an annual-rate note, else None."""
    if kind(note) != "annual_rates":
        return None
    return {measure: (amount, share) for measure, amount, share in note.params["parts"]}


def without_covered(notes: list[str]) -> list[str]:
    """The notes without an annual-rate note another one already says: the reports of one
    workbook share their filters and flows, and a report that shows fewer measures names fewer
    of the same amounts (the same expenditure, with or without its share of a figure)."""

    def says(wider: dict, measure: str, said: tuple[str, str | None]) -> bool:
        amount, share = said
        found = wider.get(measure)
        return found is not None and found[0] == amount and (share is None or found[1] == share)

    annual = {note: _annual_parts(note) for note in notes}
    kept = []
    for note in notes:
        mine = annual[note]
        if mine is not None and any(
            other != note and parts is not None and all(says(parts, m, said) for m, said in mine.items())
            for other, parts in annual.items()
        ):
            continue
        kept.append(note)
    return kept


def about_rows(reports: list[Report]) -> list[tuple[str, str]]:
    """Rows of the workbook's About sheet: the annual-rate part and the unconverted amounts."""
    rows: list[tuple[str, str]] = []
    for title, make in (
        (_("Annual rates"), annual_note),
        (_("Not converted"), unconverted_note),
        (_("Needs not converted"), unconverted_needs_note),
    ):
        seen: list[str] = []
        for report in reports:
            note = make(report)
            if note and note not in seen:
                seen.append(note)
        rows += [(title, shown(note)) for note in without_covered(seen)]
    return rows
