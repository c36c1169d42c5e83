"""A large, realistic synthetic registry for benchmarks and load tests (bulk Core inserts).

Projects have one to four recipient countries (some regional or global), one to
three priority areas with shares, several currencies, and transactions of every
type spread over their lifetime. Everything is labelled demo with refs ``SYN-``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import func, insert, select

from registry import money
from registry.extensions import db
from registry.models import (
    Country,
    FundingSource,
    Organisation,
    PriorityArea,
    Project,
    ProjectArea,
    ProjectRecipient,
    Region,
)
from registry.models.types import utcnow

CURRENCIES = (("USD", 40), ("EUR", 30), ("GBP", 10), ("JPY", 10), ("SEK", 10))
TYPES = (("commitment", 20), ("disbursement", 50), ("expenditure", 20), ("pledge", 10))
SOURCE_KINDS = (
    "bilateral_oda",
    "multilateral",
    "regional_fund",
    "digital_solidarity_fund",
    "universal_service_fund",
    "private",
    "south_south",
    "trust_fund",
)
FINANCE_TYPES = ("110", "110", "110", "421", "410")
FIRST_YEAR, LAST_YEAR = 2008, 2025
CHUNK = 50_000
TX_COLUMNS = (
    "project_id",
    "funding_source_id",
    "provider_org_id",
    "type",
    "amount_minor",
    "currency",
    "value_date",
    "flow_type",
    "finance_type",
    "description",
    "usd_minor",
    "usd_rate",
    "usd_rate_date",
    "created_at",
)


class SyntheticExists(Exception):
    """The synthetic data set is already loaded."""


def _split(rng: random.Random, n: int, whole: int = 1_000_000) -> list[int]:
    cuts = sorted(rng.sample(range(1, 100), n - 1)) if n > 1 else []
    bounds = [0, *cuts, 100]
    return [(b - a) * whole // 100 for a, b in zip(bounds, bounds[1:], strict=False)]


def _weighted(rng: random.Random, options) -> str:
    values, weights = zip(*options, strict=True)
    return rng.choices(values, weights)[0]


def _insert_labelled(model: type, key: str, rows: list[dict], now: dt.datetime) -> list[int]:
    """Insert ``rows`` of ``model`` in chunks, each labelled demo at version 1 with no
    description, and answer their new ids in the rows' order (read back by their ``key``
    column: every synthetic key starts with SYN-)."""
    stamp = {"description": "", "demo": True, "version": 1, "created_at": now, "updated_at": now}
    for offset in range(0, len(rows), CHUNK):
        db.session.execute(insert(model.__table__), [{**row, **stamp} for row in rows[offset : offset + CHUNK]])
    column = getattr(model, key)
    ids = dict(db.session.execute(select(column, model.id).where(column.like("SYN-%"))).all())
    return [ids[row[key]] for row in rows]


def seed_synthetic(
    n_projects: int,
    n_transactions: int,
    seed: int = 6,
    progress: Callable[[str], None] = lambda s: None,
) -> dict[str, int]:
    """Insert organisations, sources, projects with shares and transactions; returns counts."""
    if db.session.scalar(select(func.count()).select_from(Organisation).where(Organisation.ref.like("SYN-%"))):
        raise SyntheticExists("Synthetic data is already loaded (organisations SYN-...); use a fresh database")
    rng = random.Random(seed)
    now = utcnow()
    countries = list(db.session.scalars(select(Country.iso3).where(Country.dac_recipient.is_(True))))
    if not countries:
        countries = list(db.session.scalars(select(Country.iso3)))
    regions = list(db.session.scalars(select(Region.code).where(Region.level == "region")))
    areas = list(db.session.scalars(select(PriorityArea.code)))
    if not countries or not areas:
        raise SyntheticExists("Load the reference data first: flask --app wsgi reference load")

    n_orgs = max(5, min(200, n_projects // 100))
    org_rows = [
        {
            "ref": f"SYN-ORG-{i:04d}",
            "name": f"Synthetic donor {i}",
            "kind": "donor_agency" if i % 3 else "multilateral",
        }
        for i in range(n_orgs)
    ]
    org_list = _insert_labelled(Organisation, "ref", org_rows, now)
    source_rows = [
        {
            "ref": f"SYN-FS-{i:04d}",
            "name": f"Synthetic fund {i}",
            "kind": SOURCE_KINDS[i % len(SOURCE_KINDS)],
            "managing_org_id": org_list[i % len(org_list)],
            "amount_currency": "USD",
        }
        for i in range(n_orgs)
    ]
    source_list = _insert_labelled(FundingSource, "ref", source_rows, now)
    progress(f"{n_orgs} organisations and funding sources")

    rates: dict[tuple[str, dt.date], tuple[Decimal, dt.date]] = {}

    def usd(minor: int, cur: str, day: dt.date) -> tuple[int, str, dt.date]:
        if cur == "USD":
            return minor, "1", day
        found = rates.get((cur, day))
        if found is None:
            found = money.exchange_rate(cur, "USD", day, 10)
            rates[(cur, day)] = found
        rate, rate_day = found
        value = money.quantize(money.from_minor(minor, cur) * rate, "USD")
        return money.to_minor(value, "USD"), str(rate), rate_day

    project_rows, plans = [], []
    for i in range(n_projects):
        org = org_list[i % len(org_list)]
        start_year = rng.randint(FIRST_YEAR, LAST_YEAR - 1)
        start = dt.date(start_year, rng.randint(1, 12), 1)
        end = min(dt.date(start_year + rng.randint(1, 6), 12, 31), dt.date(LAST_YEAR, 12, 31))
        cur = _weighted(rng, CURRENCIES)
        size = rng.choice((2, 5, 10, 20, 50, 100)) * 100_000  # whole currency units
        if cur == "JPY":
            size *= 100
        need_minor = need_usd = need_date = None
        if rng.random() < 0.75:
            need_minor = int(size * Decimal(rng.randint(90, 180)) / 100) * 10 ** money.minor_units(cur)
            need_date = start
            need_usd = usd(need_minor, cur, start)[0]
        project_rows.append(
            {
                "org_id": org,
                "reference": f"SYN-{i:06d}",
                "title": f"Synthetic ICT4D project {i}",
                "status": rng.choice(("active", "active", "active", "completed", "pipeline")),
                "planned_start": start,
                "planned_end": end,
                "need_minor": need_minor,
                "need_currency": cur if need_minor is not None else None,
                "need_usd_minor": need_usd,
                "need_date": need_date,
                "wsis_action_lines": "",
            }
        )
        plans.append((org, start, end, cur, size))
    project_ids = _insert_labelled(Project, "reference", project_rows, now)
    progress(f"{n_projects:,} projects")

    recipient_rows, area_rows = [], []
    for pid in project_ids:
        draw = rng.random()
        if draw < 0.04:
            pass  # global: no recipient
        elif draw < 0.10:
            recipient_rows.append(
                {
                    "project_id": pid,
                    "country_iso3": None,
                    "region_code": rng.choice(regions),
                    "share_ppm": 1_000_000,
                }
            )
        else:
            chosen = rng.sample(countries, rng.choice((1, 1, 2, 2, 3, 4)))
            shares = _split(rng, len(chosen))
            if rng.random() < 0.05 and len(chosen) > 1:
                shares[-1] -= 1  # shares summing to 99.9999 %: reports normalise them
            for iso3, share in zip(chosen, shares, strict=True):
                recipient_rows.append(
                    {
                        "project_id": pid,
                        "country_iso3": iso3,
                        "region_code": None,
                        "share_ppm": share,
                    }
                )
        if rng.random() < 0.03:
            continue  # no priority area: reported as unallocated
        chosen_areas = rng.sample(areas, rng.choice((1, 2, 2, 3)))
        for code, share in zip(chosen_areas, _split(rng, len(chosen_areas)), strict=True):
            area_rows.append({"project_id": pid, "area_code": code, "share_ppm": share, "inferred": False})
    db.session.execute(insert(ProjectRecipient.__table__), recipient_rows)
    db.session.execute(insert(ProjectArea.__table__), area_rows)
    progress(f"{len(recipient_rows):,} recipients, {len(area_rows):,} priority areas")

    type_values, type_weights = zip(*TYPES, strict=True)
    written = 0
    batch: list[tuple] = []
    conn = db.session.connection()
    sqlite = conn.dialect.name == "sqlite"
    columns = TX_COLUMNS
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    # Plain DB-API executemany: building SQLAlchemy parameters per row costs more than the insert.
    sql = f"INSERT INTO transactions ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now

    def day_value(day: dt.date):
        return day.isoformat() if sqlite else day

    for n in range(n_transactions):
        index = n % n_projects if n < n_projects else rng.randrange(n_projects)
        pid = project_ids[index]
        org, start, end, cur, size = plans[index]
        span = max(1, (end - start).days)
        day = start + dt.timedelta(days=rng.randrange(span))
        kind = rng.choices(type_values, type_weights)[0]
        minor = rng.randint(1, 200) * size // 400 * 10 ** money.minor_units(cur) + rng.randint(0, 99)
        usd_minor, rate, rate_day = usd(minor, cur, day)
        batch.append(
            (
                pid,
                source_list[(index + n % 2) % len(source_list)],
                org,
                kind,
                minor,
                cur,
                day_value(day),
                "10",
                FINANCE_TYPES[index % len(FINANCE_TYPES)],
                "",
                usd_minor,
                rate,
                day_value(rate_day),
                stamp,
            )
        )
        if len(batch) >= CHUNK:
            conn.exec_driver_sql(sql, batch)
            written += len(batch)
            batch = []
            progress(f"{written:,} transactions")
    if batch:
        conn.exec_driver_sql(sql, batch)
        written += len(batch)
    return {
        "organisations": n_orgs,
        "funding sources": n_orgs,
        "projects": n_projects,
        "recipients": len(recipient_rows),
        "priority areas": len(area_rows),
        "transactions": written,
    }
