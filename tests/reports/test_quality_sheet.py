"""The funding-gap workbook's "Quality and predictability" sheet, read back with openpyxl: the
untied share by the report's rows, the flows by direction and the predictability by donor and
year, each figure equal to the API's to the cent, and their definitions on the About sheet."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest

from registry.extensions import db
from tests.reports.test_forward import registry  # noqa: F401  (plans, commitments, disbursements)

CENT = Decimal("0.01")


@pytest.fixture
def book(client, registry, make_org, make_project, make_transaction):  # noqa: F811
    # Two more projects: B's untied by default with a tied and a partially tied flow, given by a
    # Swedish agency (a DAC member: North-South); C's with an untied flow and one of unknown
    # status, given by a Brazilian agency (not on the DAC: South-South). The donor of a flow is
    # its provider.
    sweden = make_org(ref="SIDA-Q", name="Swedish agency", country_iso3="SWE")
    brazil = make_org(ref="ABC-Q", name="Brazilian agency", country_iso3="BRA")
    b, c = make_org(ref="DONOR-B", name="Donor B"), make_org(ref="DONOR-C", name="Donor C")
    pb = make_project(org=b, default_tied_status="5")
    day = dt.date(2022, 5, 1)
    make_transaction(pb, amount=Decimal("1000.10"), value_date=day, provider_org_id=sweden.id)
    make_transaction(pb, amount=Decimal("300.25"), tied_status="4", value_date=day, provider_org_id=sweden.id)
    make_transaction(pb, amount=Decimal("199.65"), tied_status="3", value_date=day, provider_org_id=sweden.id)
    pc = make_project(org=c)
    make_transaction(pc, amount=Decimal("700.00"), tied_status="5", value_date=day, provider_org_id=brazil.id)
    make_transaction(pc, amount=Decimal("2100.00"), value_date=day, provider_org_id=brazil.id)
    db.session.commit()
    with client.get("/api/v1/reports/funding-gap.xlsx?by=donor") as response:
        assert response.status_code == 200
        return openpyxl.load_workbook(io.BytesIO(response.data))


def _cents(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(CENT)


def _block(rows: list[list], title: str) -> list[list]:
    """The rows of the block under ``title``: its header, then every row up to a blank one."""
    start = next(i for i, r in enumerate(rows) if r[0] == title) + 1
    end = next((i for i in range(start, len(rows)) if rows[i][0] is None), len(rows))
    return rows[start:end]


def test_the_sheet_agrees_with_the_api_to_the_cent(client, book):
    assert book.sheetnames[-3:] == ["Projects with a gap", "Quality and predictability", "Forward view"]
    rows = [[c.value for c in r] for r in book["Quality and predictability"].iter_rows()]

    untied = _block(rows, "Untied share by donor organisation")
    assert untied[0][:7] == [
        "Donor organisation", "Tied (USD)", "Partially tied (USD)", "Untied (USD)", "Untied share",
        "Unknown, not counted (USD)", None,
    ][: len(untied[0][:7])]  # fmt: skip
    api = client.get("/api/v1/reports/tied?by=donor").get_json()
    sheet = {r[0]: r[1:6] for r in untied[1:]}
    for row in [*api["rows"], {**api["total"], "donor_label": "Total"}]:
        got = sheet[row["donor_label"]]
        assert [_cents(v) for v in (got[0], got[1], got[2], got[4])] == [
            Decimal(row[m]) for m in ("tied", "partially_tied", "untied", "unknown")
        ]
        share = None if got[3] is None else Decimal(str(got[3]))
        assert share == (None if row["untied_share"] is None else Decimal(row["untied_share"]))
    # read from the inputs: Sweden's 1000.10 / (300.25 + 199.65 + 1000.10); Brazil's unknown 2100 apart
    swedish, brazilian = sheet["Swedish agency (SIDA-Q)"], sheet["Brazilian agency (ABC-Q)"]
    assert swedish[3] == float((Decimal("1000.10") / Decimal("1500.00")).quantize(Decimal("0.0001")))
    assert brazilian[3] == 1.0 and _cents(brazilian[4]) == Decimal("2100.00")
    # Donor A's commitments (300,000 + 1,000 + 1,000) have no status: unknown, and no share rather than 0
    assert sheet["Donor A (DONOR-A)"][3] is None and _cents(sheet["Donor A (DONOR-A)"][4]) == Decimal("302000.00")

    directions = _block(rows, "By flow direction")
    assert directions[0][:4] == ["Flow direction", "Commitments (USD)", "Disbursements (USD)", "Share of commitments"]
    api = client.get("/api/v1/reports/flows?by=direction&measure=commitment,disbursement").get_json()
    sheet = {r[0]: r[1:4] for r in directions[1:]}
    whole = Decimal(api["total"]["commitment"])
    for row in [*api["rows"], {**api["total"], "direction_label": "Total"}]:
        got = sheet[row["direction_label"]]
        assert [_cents(got[0]), _cents(got[1])] == [Decimal(row["commitment"]), Decimal(row["disbursement"])]
        assert Decimal(str(got[2])) == (Decimal(row["commitment"]) / whole).quantize(Decimal("0.0001"))
    # Sweden (a DAC member in 2022): 1000.10 + 300.25 + 199.65; Brazil: 700 + 2100
    assert _cents(sheet["North-South"][0]) == Decimal("1500.00")
    assert _cents(sheet["South-South"][0]) == Decimal("2800.00")

    forward = _block(rows, "Predictability by donor and year")
    assert forward[0][:3] == ["Donor", "Year", "Planned"]
    api = client.get("/api/v1/reports/predictability").get_json()
    sheet = {(r[0], r[1]): r[2:7] for r in forward[1:]}
    for item in api["rows"]:
        for year in item["years"]:
            got = sheet[(item["donor"], year["year"])]
            assert [_cents(got[0]), _cents(got[1])] == [
                None if year[m] is None else Decimal(year[m]) for m in ("planned", "disbursed")
            ]
    # read from the inputs (tests/reports/test_forward.py): 159,560.00 planned, 132,119.00 disbursed in 2024
    assert [_cents(v) for v in sheet[("DONOR-A", 2024)][:2]] == [Decimal("159560.00"), Decimal("132119.00")]


def test_the_definitions_are_on_the_about_sheet_and_the_forward_view_keeps_its_plans(book):
    about = {r[0].value: r[1].value for r in book["About"].iter_rows() if r[0].value}
    assert "Untied share" in about and "never counted as untied" in about["Untied share"]
    assert "Flow direction" in about and "In-year predictability" in about
    assert "Quality and predictability" in about["Sheets"] and "Forward view" in about["Sheets"]
    forward = [[c.value for c in r] for r in book["Forward view"].iter_rows()]
    assert any(r[0] == "Planned for the next three years by region" for r in forward)
    assert not any(r[0] == "Donor" for r in forward)  # the predictability is on the quality sheet
