"""Population by country and year (reports/data/population.csv, the World Bank's SP.POP.TOTL; its
source and licence in reports/data/SOURCES.md) and the per-capita measures read against it.

A measure per capita is the amount in the report's currency divided by the country's population
in the last year of the report's range (``year_to``), or, where the file has no figure for that
year (a year after its last, or no year given), in the latest earlier year it has. A country the
file does not hold has no per-capita figure ("no data"), never nought.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from functools import lru_cache
from pathlib import Path

from flask_babel import lazy_gettext as _l

POPULATION = Path(__file__).resolve().parent / "data" / "population.csv"
SOURCE = _l("Population: World Bank, World Development Indicators (SP.POP.TOTL), CC BY 4.0.")
# The per-capita measures and the amount each divides.
PER_CAPITA = {"commitment_per_capita": "commitment", "disbursement_per_capita": "disbursement"}
# Kept to a millionth of the currency unit: classes tell 0.004 from nought; figures are shown to
# the currency's minor unit.
PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class Population:
    year: int
    people: int


@lru_cache(maxsize=1)
def table() -> dict[str, dict[int, int]]:
    """iso3 -> {year: population} of the shipped file."""
    out: dict[str, dict[int, int]] = {}
    with open(POPULATION, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["iso3"], {})[int(row["year"])] = int(row["population"])
    return out


def last_year() -> int:
    """The latest year the file has a figure for."""
    return max(year for years in table().values() for year in years)


def population(iso3: str, year: int | None) -> Population | None:
    """The country's population of ``year`` (None: the file's latest), or of the latest earlier
    year the file has; None when it has none."""
    years = table().get(iso3, {})
    wanted = last_year() if year is None else year
    known = [y for y in years if y <= wanted]
    if not known:
        return None
    found = max(known)
    return Population(found, years[found])


def per_capita(amount: Decimal | None, people: Population | None) -> Decimal | None:
    """The amount per person, exact to a millionth of the currency unit (half to even); None
    without an amount or a population."""
    if amount is None or people is None or people.people <= 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(amount) / Decimal(people.people)).quantize(PLACES, rounding=ROUND_HALF_EVEN)
