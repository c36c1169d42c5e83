"""DAC membership is dated by the day of accession where the announcement gives it
(registry/data/dac_members.csv, its sources in registry/data/SOURCES.md)."""

from __future__ import annotations

import csv
import datetime as dt

from registry.services import direction

# Accession days as the announcements give them (registry/data/SOURCES.md): the OECD on the
# Czech Republic (15 May 2013) and Lithuania (16 November 2022); Hungary's delegation to the
# OECD (6 December 2016).
ANNOUNCED = {"CZE": dt.date(2013, 5, 15), "HUN": dt.date(2016, 12, 6), "LTU": dt.date(2022, 11, 16)}
# The year each member joined, from the list of members by year of accession (founders 1960/1961).
YEARS = {
    "NOR": 1962, "DNK": 1963, "SWE": 1965, "AUT": 1965, "AUS": 1966, "CHE": 1968, "NZL": 1973, "FIN": 1975,
    "IRL": 1985, "ESP": 1991, "LUX": 1992, "GRC": 1999, "KOR": 2010, "CZE": 2013, "ISL": 2013, "POL": 2013,
    "SVK": 2013, "SVN": 2013, "HUN": 2016, "LTU": 2022, "EST": 2023,
}  # fmt: skip


def test_members_join_on_the_day_announced():
    for iso3, day in ANNOUNCED.items():
        assert not direction.is_dac_member(iso3, day - dt.timedelta(days=1)), iso3
        assert direction.is_dac_member(iso3, day), iso3


def test_every_year_of_accession_and_every_row_names_its_source():
    with open(direction.DATA_FILE, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    first = {}
    for row in rows:
        assert row["source"].startswith(("OECD", "Hungary")) and "http" in row["source"], row
        first.setdefault(row["member"], dt.date.fromisoformat(row["valid_from"]))
    assert {member: first[member].year for member in YEARS} == YEARS
    assert all(first[m].year in (1960, 1961) for m in first if m not in YEARS)  # the founders
