"""Synthetic OECD CRS microdata for benchmarks and tests (deterministic)."""

from __future__ import annotations

import random
from pathlib import Path

HEADER = [
    "Year",
    "DonorCode",
    "DonorName",
    "AgencyName",
    "CrsID",
    "ProjectNumber",
    "RecipientCode",
    "RecipientName",
    "PurposeCode",
    "FlowCode",
    "Finance_t",
    "Aid_t",
    "ProjectTitle",
    "ShortDescription",
    "LongDescription",
    "USD_Commitment",
    "USD_Disbursement",
    "CurrencyCode",
    "Commitment_National",
    "Disbursement_National",
    "CommitmentDate",
    "ExpectedStartDate",
    "CompletionDate",
]
DONORS = [
    ("5", "Germany"),
    ("12", "United Kingdom"),
    ("10", "Sweden"),
    ("302", "United States"),
    ("701", "Japan"),
    ("905", "International Development Association"),
    ("918", "EU Institutions"),
]
RECIPIENTS = [
    "248",
    "285",
    "282",
    "238",
    "660",
    "666",
    "738",
    "769",
    "349",
    "298",
    "289",
    "998",
    "798",
]
PURPOSES = [
    "22040",
    "22020",
    "22010",
    "22011",
    "22030",
    "11330",
    "12191",
    "32130",
    "15110",
    "43040",
    "99810",
]
TITLES = [
    "Rural connectivity programme",
    "National broadband backbone",
    "ICT regulator capacity building",
    "E-health information system",
    "SME digital finance",
    "Community telecentres",
    "Fibre IXP link",
]


def write_crs(path: Path, rows: int, *, seed: int = 5, activities_per_row: float = 0.4) -> Path:
    """Write ``rows`` pipe-delimited CRS rows (UTF-8) and return the path."""
    rng = random.Random(seed)
    n_projects = max(1, int(rows * activities_per_row))
    lines = ["|".join(HEADER)]
    for i in range(rows):
        p = rng.randrange(n_projects)
        donor, name = DONORS[p % len(DONORS)]
        year = 2019 + (i % 5)
        usd_c = f"{rng.randrange(0, 5_000_000) / 1_000_000:.6f}"
        usd_d = f"{rng.randrange(0, 3_000_000) / 1_000_000:.6f}"
        lines.append(
            "|".join(
                [
                    str(year),
                    donor,
                    name,
                    f"{name} agency",
                    f"{2019}{p:08d}",
                    f"PN{p}",
                    RECIPIENTS[(p + i) % len(RECIPIENTS)],
                    "",
                    PURPOSES[p % len(PURPOSES)],
                    "11",
                    "110",
                    "C01",
                    TITLES[p % len(TITLES)],
                    "short",
                    "long description",
                    usd_c,
                    usd_d,
                    "",
                    "",
                    "",
                    f"{year}-03-15",
                    "2019-01-01",
                    "2030-12-31",
                ]
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
