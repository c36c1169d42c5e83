"""Every figure agrees with every other to the cent: workbook, CSV and JSON, cross-tabs and totals.

A registry with awkward shares (thirds, sevenths), many projects and several currencies; the
funding-gap workbook is read back with openpyxl and every sheet compared with the CSV and the
JSON of the same report; every cross-tab's rows and columns must add up to the reports by each
of its dimensions alone, and every Total row to the grand total.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections import defaultdict
from decimal import ROUND_DOWN, Decimal

import openpyxl
import pytest
from sqlalchemy import select

from registry.extensions import db
from registry.models import Transaction
from reports.flows import AMOUNT_MEASURES, DIMENSIONS, MEASURES

COUNTRIES = ["KEN", "UGA", "ETH", "BGD", "NPL", "LAO", "HTI", "BOL", "FJI", "UKR", "MDA", "SEN"]
AREAS = ["23a", "23b", "23c", "23d", "23e", "23f", "23g", "23h", "23i", "23j", "23k", "23l"]
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "XOF"]
SHEET_DIMENSION = {"By region": "region", "By category": "category", "By priority area": "priority_area"}
CROSS_TABS = [
    ("region", "priority_area"),
    ("country", "priority_area"),
    ("region", "year"),
    ("subregion", "income_group"),
    ("source_kind", "priority_area"),
    ("donor", "region"),
    ("category", "priority_area"),
    ("region", "category"),
]


def equal_shares(n: int) -> list[Decimal]:
    """n shares of 100 % with four decimals that add up to exactly 100 (thirds, sevenths...)."""
    part = (Decimal(100) / n).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
    return [part] * (n - 1) + [Decimal(100) - part * (n - 1)]


def amount(rnd: random.Random, currency: str) -> Decimal:
    if currency in ("JPY", "XOF"):
        return Decimal(rnd.randint(1, 9_000_000))
    return Decimal(rnd.randint(1, 90_000_000)) / 100


@pytest.fixture
def awkward(make_org, make_source, make_project, make_transaction):
    rnd = random.Random(12)
    donors = [make_org(ref=f"DONOR-{n}", name=f"Donor {n}") for n in range(3)]
    sources = [make_source(kind=kind) for kind in ("bilateral_oda", "multilateral", "regional_fund")]
    projects = []
    for n in range(36):
        shape = n % 9
        if shape == 7:
            recipients = [{"region": rnd.choice(["002", "142", "019"])}]
        elif shape == 8:
            recipients = []  # global
        else:
            countries = rnd.sample(COUNTRIES, rnd.choice([1, 2, 3, 3, 6, 7, 7]))
            recipients = [
                {"country": c, "share": s} for c, s in zip(countries, equal_shares(len(countries)), strict=True)
            ]
        n_areas = rnd.choice([0, 1, 2, 3, 3, 7])
        codes = rnd.sample(AREAS, n_areas)
        areas = [{"code": c, "share": s} for c, s in zip(codes, equal_shares(n_areas), strict=True)] if codes else []
        need_currency = rnd.choice(CURRENCIES)
        need = None
        if n % 4:
            need = {
                "amount": str(amount(rnd, need_currency) * 3),
                "currency": need_currency,
                "date": dt.date(rnd.randint(2019, 2023), rnd.randint(1, 12), rnd.randint(1, 28)),
            }
        project = make_project(title=f"Awkward {n}", recipients=recipients, areas=areas, need=need)
        projects.append(project)
        for _ in range(rnd.randint(1, 4)):
            currency = rnd.choice(CURRENCIES)
            make_transaction(
                project,
                type=rnd.choice(["commitment", "commitment", "disbursement", "pledge", "expenditure"]),
                amount=amount(rnd, currency),
                currency=currency,
                value_date=dt.date(rnd.randint(2019, 2023), rnd.randint(1, 12), rnd.randint(1, 28)),
                provider_org_id=rnd.choice(donors).id,
                funding_source_id=rnd.choice(sources).id if rnd.random() < 0.8 else None,
            )
    return projects


def _json(client, path: str, by, currency: str) -> dict:
    query = "&".join(f"by={d}" for d in by) + f"&currency={currency}"
    response = client.get(f"/api/v1/reports/{path}?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _csv(client, path: str, by, currency: str) -> list[dict]:
    query = "&".join(f"by={d}" for d in by) + f"&currency={currency}"
    response = client.get(f"/api/v1/reports/{path}.csv?{query}")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _number(value) -> Decimal | None:
    """A figure read back from the workbook (a double) or the CSV/JSON (a decimal string)."""
    if value is None or value == "":
        return None
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def _key(row: dict, dims) -> tuple:
    return tuple(row[d] for d in dims)


def _same_figures(mine: dict, theirs: dict, measures, where: str) -> None:
    for m in measures:
        assert _number(mine.get(m)) == _number(theirs.get(m)), f"{where}: {m} {mine.get(m)} != {theirs.get(m)}"


def _table(sheet, header_row: int) -> tuple[list[str], list[list], list | None]:
    """A block read back: header, body rows (until a blank line or the Total row), the Total row."""
    header = [c.value for c in sheet[header_row]]
    while header and header[-1] is None:
        header.pop()
    body, total = [], None
    r = header_row + 1
    while r <= sheet.max_row:
        values = [sheet.cell(row=r, column=c + 1).value for c in range(len(header))]
        first = values[0]
        if first is None and all(v is None for v in values):
            break
        if isinstance(first, str) and first.startswith("Total"):
            total = values
            break
        body.append(values)
        r += 1
    return header, body, total


def _measure_columns(header: list[str], currency: str) -> dict[int, str]:
    titles = {f"{MEASURES[m]} ({currency})": m for m in MEASURES} | {MEASURES[m]: m for m in MEASURES}
    return {i: titles[h] for i, h in enumerate(header) if h in titles}


@pytest.mark.parametrize("currency", ["USD", "EUR"])
def test_every_sheet_agrees_with_the_csv_and_the_json(client, awkward, currency):
    reports = {
        by: _json(client, "funding-gap", by, currency)
        for by in (("region",), ("category",), ("priority_area",), ("year",), ("region", "priority_area"))
    }
    csvs = {by: _csv(client, "funding-gap", by, currency) for by in reports}
    flows_total = _json(client, "flows", ("region",), currency)["total"]

    # The CSV says what the JSON says, row by row, total included.
    for by, body in reports.items():
        rows = csvs[by]
        assert len(rows) == len(body["rows"]) + 1
        for line, row in zip(rows, [*body["rows"], body["total"]], strict=True):
            for dim in by:
                assert line[DIMENSIONS[dim]] == str(row[f"{dim}_label"])
            for m in body["measures"]:
                title = f"{MEASURES[m]} ({currency})" if m in AMOUNT_MEASURES else MEASURES[m]
                assert _number(line[title]) == _number(row[m]), (by, m, row)

    response = client.get(f"/api/v1/reports/funding-gap.xlsx?currency={currency}")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))

    # One-dimensional sheets: every row, and the Total row, as in the JSON.
    for name, dim in SHEET_DIMENSION.items():
        body = reports[(dim,)]
        by_label = {str(r[f"{dim}_label"]): r for r in body["rows"]}
        header, rows, total = _table(book[name], 4)
        columns = _measure_columns(header, currency)
        assert set(columns.values()) == set(body["measures"])
        assert [str(r[0]) for r in rows] == list(by_label), name
        for values in rows:
            mine = {m: values[i] for i, m in columns.items()}
            _same_figures(mine, by_label[str(values[0])], columns.values(), f"{name} {values[0]}")
        assert total is not None, f"{name} has no Total row"
        _same_figures({m: total[i] for i, m in columns.items()}, body["total"], columns.values(), f"{name} Total")
        if dim != "category":  # categories overlap: their Total row counts each flow once
            for i, m in columns.items():
                if m in AMOUNT_MEASURES:
                    assert sum(_number(v[i]) for v in rows) == _number(total[i]), (name, m)
        else:
            assert "not the sum" in total[0]

    # Summary: the totals, and the table by year with its Total row.
    summary = book["Summary"]
    labels = {summary.cell(row=r, column=1).value: summary.cell(row=r, column=2).value for r in range(5, 14)}
    grand = reports[("region",)]["total"] | {m: flows_total[m] for m in ("pledge", "expenditure")}
    for m in ("need", "commitment", "disbursement", "gap", "coverage", "undisbursed", "pledge", "expenditure"):
        assert _number(labels[MEASURES[m]]) == _number(grand[m]), m
    year_head = next(r for r in range(1, summary.max_row + 1) if summary.cell(row=r, column=1).value == "Year")
    header, rows, total = _table(summary, year_head)
    by_year = reports[("year",)]
    year_rows = {str(r["year_label"]): r for r in by_year["rows"]}
    columns = {1: "commitment", 2: "disbursement", 3: "need"}
    assert [str(v[0]) for v in rows] == list(year_rows)
    for values in rows:
        _same_figures({m: values[i] for i, m in columns.items()}, year_rows[str(values[0])], columns.values(), "year")
    assert total is not None, "the table by year has no Total row"
    _same_figures({m: total[i] for i, m in columns.items()}, by_year["total"], columns.values(), "year Total")

    # Region x area: each block's cells as in the JSON cross-tab; its Total column is the
    # region's figure on "By region", its Total row the area's figure on "By priority area".
    cross = reports[("region", "priority_area")]
    cells = {(r["region_label"], r["priority_area_label"]): r for r in cross["rows"]}
    regions = {str(r["region_label"]): r for r in reports[("region",)]["rows"]}
    areas = {str(r["priority_area_label"]): r for r in reports[("priority_area",)]["rows"]}
    sheet = book["Region x area"]
    blocks = [
        r
        for r in range(1, sheet.max_row + 1)
        if sheet.cell(row=r, column=1).value in (f"Commitments ({currency})", f"Funding gap ({currency})")
    ]
    assert len(blocks) == 2
    for start in blocks:
        measure = "commitment" if sheet.cell(row=start, column=1).value.startswith("Commitments") else "gap"
        header, rows, total = _table(sheet, start + 1)
        assert header[0] == "Region" and header[-1] == "Total"
        assert [v[0] for v in rows] == list(regions)
        for values in rows:
            for area, value in zip(header[1:-1], values[1:-1], strict=True):
                cell = cells.get((values[0], area))
                assert _number(value) == (_number(cell[measure]) if cell else 0), (measure, values[0], area)
            assert sum(_number(v) for v in values[1:-1]) == _number(values[-1]), (measure, values[0])
            assert _number(values[-1]) == _number(regions[values[0]][measure]), (measure, values[0], "By region")
        assert total is not None, f"the {measure} block has no Total row"
        for area, value in zip(header[1:-1], total[1:-1], strict=True):
            assert _number(value) == _number(areas[area][measure]), (measure, area, "By priority area")
            column = [v[header.index(area)] for v in rows]
            assert sum(_number(v) for v in column) == _number(value), (measure, area)
        assert _number(total[-1]) == _number(cross["total"][measure]) == _number(grand[measure])

    # Projects with a gap: its Total row adds up its rows (and says they are not all projects).
    header, rows, total = _table(book["Projects with a gap"], 4)
    assert total is not None and rows
    assert "not of every project" in total[0]
    columns = _measure_columns(header, currency)
    for i, m in columns.items():
        if m in AMOUNT_MEASURES:
            assert sum(_number(v[i]) for v in rows) == _number(total[i]), m
    if currency == "USD":
        # Each project's figures read independently: the USD value stored with each flow.
        expected = {}
        for project in awkward:
            flows = db.session.scalars(select(Transaction).where(Transaction.project_id == project.id)).all()
            sums = {
                kind: sum((t.usd_minor for t in flows if t.type.value == kind), 0)
                for kind in ("commitment", "disbursement")
            }
            need = project.need_usd_minor or 0
            if need - sums["commitment"] > 0:
                expected[project.reference] = {
                    "need": Decimal(need) / 100,
                    "commitment": Decimal(sums["commitment"]) / 100,
                    "gap": Decimal(need - sums["commitment"]) / 100,
                    "disbursement": Decimal(sums["disbursement"]) / 100,
                }
        assert sorted(v[0] for v in rows) == sorted(expected)
        for values in rows:
            mine = {m: values[i] for i, m in columns.items() if m != "coverage"}
            _same_figures(mine, expected[values[0]], mine, values[0])


def _sums(rows: list[dict], dim: str, measure: str) -> dict:
    out: dict = defaultdict(Decimal)
    for row in rows:
        out[row[dim]] += Decimal(row[measure])
    return dict(out)


@pytest.mark.parametrize("currency", ["USD", "EUR"])
@pytest.mark.parametrize("by", CROSS_TABS, ids="-".join)
def test_cross_tabs_add_up_to_the_one_dimensional_reports(client, awkward, currency, by):
    cross = _json(client, "flows", by, currency)
    one = {dim: _json(client, "flows", (dim,), currency) for dim in by}
    measures = [m for m in AMOUNT_MEASURES if cross["total"][m] is not None]
    assert "commitment" in measures
    for m in measures:
        for dim in by:
            if "category" in by and dim != "category":
                continue  # a flow sits in each of its country's categories: no margin here
            expected = {r[dim]: Decimal(r[m]) for r in one[dim]["rows"] if r[m] is not None}
            got = _sums(cross["rows"], dim, m)
            for value in expected.keys() | got.keys():
                assert got.get(value, 0) == expected.get(value, 0), (by, m, dim, value)
            margins = {r[dim]: Decimal(r[m]) for r in cross["margins"][dim]}
            assert margins == expected, (by, m, dim)
        if "category" not in by:
            assert sum(Decimal(r[m]) for r in cross["rows"]) == Decimal(cross["total"][m])
        assert cross["total"][m] == one[by[0]]["total"][m]


def test_a_cross_tab_workbook_shows_the_totals_its_rows_add_up_to(client, awkward):
    response = client.get("/api/v1/reports/flows.xlsx?by=region&by=priority_area&measure=commitment&measure=gap")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data))["Report"]
    header, rows, total = _table(sheet, 4)
    assert header == ["Region", "Priority area", "Commitments (USD)", "Funding gap (USD)"]
    assert total is not None
    one = {dim: _json(client, "funding-gap", (dim,), "USD") for dim in ("region", "priority_area")}
    starts = {
        sheet.cell(row=r, column=1).value: r
        for r in range(1, sheet.max_row + 1)
        if str(sheet.cell(row=r, column=1).value).startswith("Totals by ")
    }
    assert set(starts) == {
        "Totals by region (the rows above add up to these)",
        "Totals by priority area (the rows above add up to these)",
    }
    for position, dim in enumerate(("region", "priority_area")):
        block_head, block_rows, block_total = _table(
            sheet, starts[f"Totals by {DIMENSIONS[dim].lower()} (the rows above add up to these)"] + 1
        )
        expected = {str(r[f"{dim}_label"]): r for r in one[dim]["rows"]}
        assert [v[0] for v in block_rows] == list(expected)
        for values in block_rows:
            _same_figures({"commitment": values[1], "gap": values[2]}, expected[values[0]], ("commitment", "gap"), dim)
            for col, m in ((2, "commitment"), (3, "gap")):
                cells = [_number(v[col]) for v in rows if v[position] == values[0]]
                assert sum(cells) == _number(values[1 if m == "commitment" else 2]), (dim, values[0], m)
        _same_figures(
            {"commitment": block_total[1], "gap": block_total[2]}, one[dim]["total"], ("commitment", "gap"), dim
        )


@pytest.mark.parametrize("by", [("country",), ("region",), ("priority_area",), ("region", "priority_area")])
@pytest.mark.parametrize("currency", ["USD", "EUR"])
def test_the_gap_shown_is_the_need_shown_minus_the_commitments_shown(client, awkward, by, currency):
    """A reader who subtracts gets the figure: in every row, margin and total, gap = need -
    commitments and undisbursed = commitments - disbursements, as shown (to the cent)."""
    body = _json(client, "funding-gap", by, currency)
    lines = [*body["rows"], body["total"], *(r for line in body.get("margins", {}).values() for r in line)]
    assert lines
    for line in lines:
        need, commitment, gap = (Decimal(line[m]) for m in ("need", "commitment", "gap"))
        assert gap == need - commitment, line
        if line.get("undisbursed") is not None:
            undisbursed = Decimal(line["undisbursed"])
            assert undisbursed == Decimal(line["commitment"]) - Decimal(line["disbursement"]), line
