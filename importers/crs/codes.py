"""The CRS codes of a file checked against the mapping: donors and recipients the registry does
not know, recipients that are no place, and years a recipient was not on the DAC list."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from importers.crs.amounts import amounts_text
from importers.crs.issues import IssueLog
from importers.mapping import Mapping, dac_list_periods, on_dac_list
from importers.messages import Text
from registry.models.types import N_


def check_codes(frame: pd.DataFrame, mapping: Mapping, issues: IssueLog, headers: dict[str, str]) -> None:
    """Note every donor and recipient code that the registry cannot take as the file gives it."""
    for code, rows in frame.groupby("donor_code")["row"]:
        if code not in mapping.donors:
            issues.note(
                "unknown_donor",
                Text(
                    N_(
                        "Donor code %(code)s is not in crs_donors.csv: its rows are imported under an "
                        "organisation %(org)s"
                    ),
                    code=code,
                    org=f"CRS-DONOR-{code}",
                ),
                rows.tolist(),
                code,
                headers.get("donor_code"),
            )
    for code, group in frame.groupby("recipient_code"):
        rows = group["row"]
        known = mapping.recipients.get(code)
        if known is None or (known.iso3 is None and known.region is None):
            why = (
                Text(N_("Recipient code %(code)s is not in crs_recipients.csv"), code=code)
                if known is None
                else Text(N_("Recipient %(code)s (%(name)s) is not a place"), code=code, name=known.name)
            )
            issues.note(
                "unknown_recipient" if known is None else "unspecified_recipient",
                Text(
                    N_("%(why)s: the money of those rows stays unallocated (no country or region): %(money)s"),
                    why=why,
                    money=amounts_text(group),
                ),
                rows.tolist(),
                code,
                headers.get("recipient_code"),
            )
        elif known.iso3 and known.iso3 in dac_list_periods():
            # Former recipients keep their rows (the file says where the money went); say when a
            # year falls outside the country's dated membership of the DAC list.
            years = group["year"]
            off_years = [
                y
                for y in years.unique().tolist()
                if not (on_dac_list(known.iso3, dt.date(y, 1, 1)) or on_dac_list(known.iso3, dt.date(y, 12, 31)))
            ]
            off = years.isin(off_years)
            if off.any():
                listed = ", ".join(
                    f"{a:%Y-%m-%d} to {b:%Y-%m-%d}" if b else f"from {a:%Y-%m-%d}"
                    for a, b in dac_list_periods()[known.iso3]
                )
                first_years = sorted({int(y) for y in years[off]})
                issues.note(
                    "not_on_dac_list",
                    Text(
                        N_(
                            "Recipient %(code)s (%(name)s) was not on the DAC list of ODA recipients in %(years)s "
                            "(on it %(listed)s): those rows are imported on %(iso3)s all the same, as the file "
                            "gives them"
                        ),
                        code=code,
                        name=known.name,
                        years=years_text(first_years),
                        listed=listed,
                        iso3=known.iso3,
                    ),
                    group.loc[off, "row"].tolist(),
                    code,
                    headers.get("recipient_code"),
                )


def years_text(years: list[int]) -> str:
    """[1995, 1996, 1997, 2001] -> '1995-1997, 2001'."""
    spans: list[list[int]] = []
    for year in years:
        if spans and year == spans[-1][1] + 1:
            spans[-1][1] = year
        else:
            spans.append([year, year])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
