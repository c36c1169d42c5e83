"""Forward view and predictability (Tunis Agenda, paragraph 27: financing that is "predictable").

One source of truth for the API, the command line, the reports page and the workbook:

- ``planned``: planned disbursements (IATI planned-disbursement) by calendar year, a plan
  counting in the year its period starts;
- ``in_year_predictability`` of a year = disbursed in that year / planned for that year, not
  capped; empty when nothing was planned for the year. It is the registry's own ratio, in the
  spirit of the Paris Declaration indicator 7 and GPEDC indicator 5a but not their computation
  per provider and recipient country, whose method text could not be checked (docs/reports.md);
- ``absorption`` = disbursed / committed (IATI transaction types 3 and 2), all years;
- ``disbursement_lag``: the median, over the projects that have both, of the days from a
  project's first commitment to its first disbursement on or after it;
- the forward-spending report: what is planned for each of the next three years by country,
  region or priority area, each plan split by the project's shares to the cent.

Every amount is converted to the report's currency at the rate of its own value date (the
plans' value dates as the flows'), exactly as the flows report does (``reports.stage_one``):
a plan dated beyond the published rates takes the last rate known, and the notes say so.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from flask import current_app
from sqlalchemy import select

from registry import money
from registry.errors import ConversionError
from registry.extensions import db
from registry.models import Country, Organisation, PlannedDisbursement, Project, Transaction
from registry.models.project import SHARE_WHOLE, ProjectArea, ProjectRecipient
from registry.models.types import TransactionType
from registry.services.shares import allocate

RATIO_PLACES = Decimal("0.0001")
FORWARD_YEARS = 3
FORWARD_DIMENSIONS = ("country", "region", "area")
UNALLOCATED = ""
STALE_RATE_DAYS = 36_600  # as reports.stage_one: the last earlier rate, however old (noted)
DEFINITIONS = {
    "planned": "planned disbursements (IATI planned-disbursement) whose period starts in the year",
    "disbursed": "disbursements (IATI transaction type 3) with a value date in the year",
    "in_year_predictability": (
        "the registry's own ratio: disbursed in the year / planned for that year, not capped; empty when nothing "
        "was planned. It does not apply the Paris Declaration indicator 7 or GPEDC indicator 5a computation "
        "(per provider and recipient country), whose method text could not be checked (docs/reports.md)"
    ),
    "absorption": "disbursed / committed (IATI transaction types 3 and 2), all years",
    "disbursement_lag_days": (
        "median over projects of the days from the first commitment to the first disbursement on or after it"
    ),
}


def ratio(numerator: int | Fraction, denominator: int | Fraction) -> Decimal | None:
    """numerator / denominator to four places (half-even); None when the denominator is 0."""
    if not denominator:
        return None
    exact = Fraction(numerator) / Fraction(denominator)
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(RATIO_PLACES)


@dataclass
class Converter:
    """Minor units of any currency to minor units of ``currency`` at the rate of a value date,
    looked up once per (currency, day); what no rate converts is counted apart."""

    currency: str
    ratios: dict[tuple[str, dt.date], money.MinorRatio | None] = field(default_factory=dict)
    stale: set[tuple[str, dt.date]] = field(default_factory=set)
    unconverted: dict[str, int] = field(default_factory=dict)

    def __call__(self, minor: int, currency: str, day: dt.date) -> int | None:
        if currency == self.currency or minor == 0:
            return minor
        key = (currency, day)
        if key not in self.ratios:
            max_age = current_app.config.get("RATE_MAX_AGE_DAYS", 7)
            try:
                found = money.quote(currency, self.currency, day, max_age)
            except ConversionError:
                try:
                    found = money.quote(currency, self.currency, day, STALE_RATE_DAYS)
                    self.stale.add(key)
                except ConversionError:
                    found = None
            self.ratios[key] = money.minor_ratio(found.rate, currency, self.currency) if found else None
        found_ratio = self.ratios[key]
        if found_ratio is None:
            self.unconverted[currency] = self.unconverted.get(currency, 0) + minor
            return None
        return money.convert_minor(minor, found_ratio)

    def notes(self) -> list[str]:
        """What the figures leave out or convert at an older rate, in words (CLI, CSV, workbook)."""
        out = []
        if self.stale:
            out.append(
                f"{len(self.stale)} amount(s) dated beyond the published rates are converted at the last rate known"
            )
        for cur, minor in sorted(self.unconverted.items()):
            out.append(f"{money.from_minor(minor, cur)} {cur} that no rate converts is left out of the figures")
        return out

    def counts(self) -> dict:
        """What the notes say, as values (for a page that words them in its reader's language):
        how many amounts took the last rate known, and by currency what no rate converts."""
        return {
            "stale_rates": len(self.stale),
            "unconverted": {cur: str(money.from_minor(minor, cur)) for cur, minor in sorted(self.unconverted.items())},
        }


def _amount(minor: int | Fraction, currency: str) -> str:
    return str(money.from_minor(round(minor), currency))


def _org_filter(stmt, donors: Iterable[str]):
    donors = list(donors)
    if donors:
        stmt = stmt.where(Project.org_id.in_(select(Organisation.id).where(Organisation.ref.in_(donors))))
    return stmt


# -- predictability, absorption, lag ------------------------------------------------


def predictability(currency: str = "USD", years: Iterable[int] | None = None, donors: Iterable[str] = ()) -> dict:
    """Planned, disbursed and in-year predictability by year, by donor (the project's reporting
    organisation) and in total; absorption and disbursement lag by donor and in total."""
    convert = Converter(currency)
    donors = list(donors)
    names = dict(db.session.execute(select(Organisation.id, Organisation.ref)).all())
    planned: dict[tuple[int, int], int] = defaultdict(int)
    plan_rows = db.session.execute(
        _org_filter(
            select(
                Project.org_id,
                PlannedDisbursement.period_start,
                PlannedDisbursement.amount_minor,
                PlannedDisbursement.currency,
                PlannedDisbursement.value_date,
            ).join(Project, Project.id == PlannedDisbursement.project_id),
            donors,
        )
    )
    for org_id, start, minor, cur, day in plan_rows:
        value = convert(minor, cur, day)
        if value is not None:
            planned[(org_id, start.year)] += value
    disbursed: dict[tuple[int, int], int] = defaultdict(int)
    total_disbursed: dict[int, int] = defaultdict(int)
    committed: dict[int, int] = defaultdict(int)
    first_commitment: dict[int, dt.date] = {}
    disbursement_days: dict[int, list[dt.date]] = defaultdict(list)
    project_org: dict[int, int] = {}
    flow_rows = db.session.execute(
        _org_filter(
            select(
                Project.org_id,
                Transaction.project_id,
                Transaction.type,
                Transaction.amount_minor,
                Transaction.currency,
                Transaction.value_date,
            )
            .join(Project, Project.id == Transaction.project_id)
            .where(
                Transaction.type.in_([TransactionType.COMMITMENT, TransactionType.DISBURSEMENT]),
                Transaction.price_basis.is_(None),
            ),
            donors,
        )
    )
    for org_id, pid, kind, minor, cur, day in flow_rows:
        project_org[pid] = org_id
        value = convert(minor, cur, day)
        if kind == TransactionType.COMMITMENT:
            if value is not None:
                committed[org_id] += value
            if pid not in first_commitment or day < first_commitment[pid]:
                first_commitment[pid] = day
        else:
            if value is not None:
                disbursed[(org_id, day.year)] += value
                total_disbursed[org_id] += value
            disbursement_days[pid].append(day)
    lags: dict[int, list[int]] = defaultdict(list)
    for pid, start in first_commitment.items():
        after = [d for d in disbursement_days.get(pid, []) if d >= start]
        if after:
            lags[project_org[pid]].append((min(after) - start).days)
    wanted = sorted(set(years) if years is not None else {y for _o, y in planned})
    orgs = sorted({o for o, _y in planned} | set(committed) | set(total_disbursed) | set(lags), key=names.get)

    def row(org_ids: list[int], label: str) -> dict:
        by_year = []
        for year in wanted:
            plan = sum(planned.get((o, year), 0) for o in org_ids)
            paid = sum(disbursed.get((o, year), 0) for o in org_ids)
            share = ratio(paid, plan)
            by_year.append(
                {
                    "year": year,
                    "planned": _amount(plan, currency),
                    "disbursed": _amount(paid, currency),
                    "in_year_predictability": None if share is None else str(share),
                }
            )
        paid_all = sum(total_disbursed.get(o, 0) for o in org_ids)
        absorbed = ratio(paid_all, sum(committed.get(o, 0) for o in org_ids))
        days = [d for o in org_ids for d in lags.get(o, [])]
        return {
            "donor": label,
            "years": by_year,
            "committed": _amount(sum(committed.get(o, 0) for o in org_ids), currency),
            "disbursed": _amount(paid_all, currency),
            "absorption": None if absorbed is None else str(absorbed),
            "disbursement_lag_days": None if not days else str(Decimal(str(statistics.median(days)))),
            "projects_with_lag": len(days),
        }

    return {
        "currency": currency,
        "years": wanted,
        "rows": [row([o], names[o]) for o in orgs],
        "total": row(orgs, "Total"),
        "definitions": DEFINITIONS,
        "notes": convert.notes(),
        "conversion": convert.counts(),
    }


# -- forward spending -----------------------------------------------------------------


def _places(dimension: str, project_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """Project -> its (key, share in parts per million) for the dimension; a project without
    any is one unallocated part."""
    out: dict[int, list[tuple[str, int]]] = defaultdict(list)
    if dimension == "area":
        rows = db.session.execute(
            select(ProjectArea.project_id, ProjectArea.area_code, ProjectArea.share_ppm).where(
                ProjectArea.project_id.in_(project_ids)
            )
        )
        for pid, code, ppm in rows:
            out[pid].append((code, ppm))
        return out
    regions = dict(db.session.execute(select(Country.iso3, Country.region_code)).all())
    rows = db.session.execute(
        select(
            ProjectRecipient.project_id,
            ProjectRecipient.country_iso3,
            ProjectRecipient.region_code,
            ProjectRecipient.share_ppm,
        ).where(ProjectRecipient.project_id.in_(project_ids))
    )
    for pid, country, region, ppm in rows:
        if dimension == "country":
            key = country or (f"region:{region}" if region else UNALLOCATED)
        else:
            key = (regions.get(country) if country else region) or UNALLOCATED
        out[pid].append((key, ppm))
    return out


def forward_spending(
    dimension: str = "country", currency: str = "USD", start_year: int | None = None, donors: Iterable[str] = ()
) -> dict:
    """What is planned to be disbursed in each of the three years from ``start_year`` (default:
    next year), by country, region or priority area, in ``currency``. Each plan is split by the
    project's shares (largest remainder, to the cent): the rows add up to the total."""
    if dimension not in FORWARD_DIMENSIONS:
        raise ValueError(dimension)
    first = start_year or dt.date.today().year + 1
    years = list(range(first, first + FORWARD_YEARS))
    convert = Converter(currency)
    stmt = _org_filter(
        select(
            PlannedDisbursement.project_id,
            PlannedDisbursement.period_start,
            PlannedDisbursement.amount_minor,
            PlannedDisbursement.currency,
            PlannedDisbursement.value_date,
        )
        .join(Project, Project.id == PlannedDisbursement.project_id)
        .where(PlannedDisbursement.period_start >= dt.date(first, 1, 1))
        .where(PlannedDisbursement.period_start <= dt.date(years[-1], 12, 31)),
        donors,
    )
    plans = list(db.session.execute(stmt))
    places = _places(dimension, sorted({p[0] for p in plans}))
    cells: dict[str, dict[int, int]] = defaultdict(lambda: dict.fromkeys(years, 0))
    totals = dict.fromkeys(years, 0)
    for pid, start, minor, cur, day in plans:
        value = convert(minor, cur, day)
        if value is None:
            continue
        parts = places.get(pid) or [(UNALLOCATED, SHARE_WHOLE)]
        whole = sum(ppm for _k, ppm in parts)
        split, _total = allocate([Fraction(value * ppm, whole) for _k, ppm in parts], value)
        for (key, _ppm), part in zip(parts, split, strict=True):
            cells[key][start.year] += part
        totals[start.year] += value
    rows = [
        {
            "key": key,
            **{str(y): _amount(v, currency) for y, v in by_year.items()},
            "total": _amount(sum(by_year.values()), currency),
        }
        for key, by_year in sorted(cells.items(), key=lambda kv: (kv[0] == UNALLOCATED, kv[0]))
    ]
    return {
        "dimension": dimension,
        "currency": currency,
        "years": years,
        "rows": rows,
        "total": {str(y): _amount(v, currency) for y, v in totals.items()}
        | {"total": _amount(sum(totals.values()), currency)},
        "definition": (
            "planned disbursements (IATI planned-disbursement) whose period starts in the year, converted at the "
            "rate of their value date and split by the project's recipient (or area) shares to the cent"
        ),
        "notes": convert.notes(),
        "conversion": convert.counts(),
    }


def project_predictability(project: Project) -> dict:
    """A project's own in-year predictability by year (its planned and disbursed in USD at each
    value date's rate), for its page."""
    convert = Converter("USD")
    planned: dict[int, int] = defaultdict(int)
    for p in project.planned_disbursements:
        value = convert(p.amount_minor, p.currency, p.value_date)
        if value is not None:
            planned[p.period_start.year] += value
    disbursed: dict[int, int] = defaultdict(int)
    for tx in project.transactions:
        if tx.type == TransactionType.DISBURSEMENT and tx.price_basis is None:
            value = convert(tx.amount_minor, tx.currency, tx.value_date)
            if value is not None:
                disbursed[tx.value_date.year] += value
    return {
        year: {
            "planned": money.from_minor(planned[year], "USD"),
            "disbursed": money.from_minor(disbursed.get(year, 0), "USD"),
            "ratio": ratio(disbursed.get(year, 0), planned[year]),
        }
        for year in sorted(planned)
    }
