"""Forward view and predictability, to the cent on a small registry written here.

The expected figures are read from the inputs below by the definitions of docs/reports.md:
EUR amounts are converted at the ECB's published USD rate of their value date, read here from
the shipped ECB file itself (2024-01-02: 1.0956 USD per EUR; 2024-01-03: 1.0919)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from registry.extensions import db
from registry.services import plans
from reports.forward import forward_spending, predictability

ECB_FILE = Path(__file__).resolve().parents[2] / "registry" / "data" / "ecb_rates.zip"


def ecb_usd(day: str) -> Decimal:
    """USD per EUR on ``day`` as the ECB published it (the shipped file, read here)."""
    with zipfile.ZipFile(ECB_FILE) as archive:
        text = archive.read("eurofxref-hist.csv").decode()
    rows = csv.DictReader(io.StringIO(text))
    return Decimal(next(r["USD"] for r in rows if r["Date"] == day))


@pytest.fixture
def registry(app, actor, make_org, make_project, make_transaction):
    donor = make_org(ref="DONOR-A", name="Donor A")
    shares = [{"country": "KEN", "share": Decimal(60)}, {"country": "UGA", "share": Decimal(40)}]
    first = make_project(org=donor, recipients=shares, areas=[{"code": "23b", "share": Decimal(100)}])
    plans.set_plans(
        actor,
        first,
        planned=[
            # 2024: 100,000.00 EUR valued 2024-01-02 and 50,000.00 USD
            {
                "period_start": dt.date(2024, 1, 1),
                "period_end": dt.date(2024, 6, 30),
                "amount": "100000.00",
                "currency": "EUR",
                "value_date": dt.date(2024, 1, 2),
            },
            {
                "period_start": dt.date(2024, 7, 1),
                "period_end": dt.date(2024, 12, 31),
                "amount": "50000.00",
                "currency": "USD",
                "value_date": dt.date(2024, 1, 2),
            },
            # ahead: 1,000.01 USD in 2031 and 2,000.00 EUR in 2032 (valued 2024-01-02)
            {
                "period_start": dt.date(2031, 1, 1),
                "period_end": dt.date(2031, 12, 31),
                "amount": "1000.01",
                "currency": "USD",
                "value_date": dt.date(2024, 1, 2),
            },
            {
                "period_start": dt.date(2032, 1, 1),
                "period_end": dt.date(2032, 12, 31),
                "amount": "2000.00",
                "currency": "EUR",
                "value_date": dt.date(2024, 1, 2),
            },
        ],
    )
    make_transaction(first, type="commitment", amount=Decimal("300000.00"), value_date=dt.date(2023, 11, 15))
    make_transaction(
        first, type="disbursement", amount=Decimal("10000.00"), currency="EUR", value_date=dt.date(2024, 1, 3)
    )
    make_transaction(first, type="disbursement", amount=Decimal("120000.00"), value_date=dt.date(2024, 3, 1))
    # two more projects: commitment to first disbursement in 10 and 31 days
    for days, paid in ((10, "500.00"), (31, "700.00")):
        other = make_project(org=donor)
        make_transaction(other, type="commitment", amount=Decimal("1000.00"), value_date=dt.date(2024, 1, 1))
        make_transaction(
            other, type="disbursement", amount=Decimal(paid), value_date=dt.date(2024, 1, 1) + dt.timedelta(days=days)
        )
    db.session.flush()
    return donor


def test_in_year_predictability_absorption_and_lag_to_the_cent(registry):
    assert ecb_usd("2024-01-02") == Decimal("1.0956") and ecb_usd("2024-01-03") == Decimal("1.0919")
    report = predictability("USD", [2024])
    total = report["total"]
    year = total["years"][0]
    planned = Decimal("100000.00") * ecb_usd("2024-01-02") + Decimal("50000.00")  # 159,560.00
    disbursed_2024 = Decimal("10000.00") * ecb_usd("2024-01-03") + Decimal("120000.00") + 500 + 700
    assert Decimal(year["planned"]) == planned == Decimal("159560.00")
    assert Decimal(year["disbursed"]) == disbursed_2024 == Decimal("132119.00")
    # 132,119.00 / 159,560.00 = 0.82802...
    assert year["in_year_predictability"] == str((disbursed_2024 / planned).quantize(Decimal("0.0001")))
    assert year["in_year_predictability"] == "0.8280"
    # absorption: 132,119.00 disbursed / 302,000.00 committed
    assert total["committed"] == "302000.00" and total["absorption"] == "0.4375"
    # lags 49 (2023-11-15 to 2024-01-03), 10 and 31 days: the median is 31
    assert total["disbursement_lag_days"] == "31" and total["projects_with_lag"] == 3
    assert [r["donor"] for r in report["rows"]] == ["DONOR-A"]


def test_plans_in_euros_are_converted_at_their_value_date_in_a_report_in_another_currency(registry):
    # In EUR, the USD amounts are converted at 1 / 1.0956 of 2024-01-02 (50,000.00 USD -> 45,637.09 EUR)
    year = predictability("EUR", [2024])["total"]["years"][0]
    usd_part = (Decimal("50000.00") / ecb_usd("2024-01-02")).quantize(Decimal("0.01"))
    assert Decimal(year["planned"]) == Decimal("100000.00") + usd_part == Decimal("145637.09")


def test_forward_spending_by_country_region_and_area_adds_up(registry):
    by_country = forward_spending("country", "USD", 2031)
    assert by_country["years"] == [2031, 2032, 2033]
    rows = {r["key"]: r for r in by_country["rows"]}
    # 1,000.01 split 60/40 by largest remainder: 600.006 -> 600.01 and 400.004 -> 400.00
    assert (rows["KEN"]["2031"], rows["UGA"]["2031"]) == ("600.01", "400.00")
    eur = Decimal("2000.00") * ecb_usd("2024-01-02")  # 2,191.20 USD
    assert (Decimal(rows["KEN"]["2032"]), Decimal(rows["UGA"]["2032"])) == (eur * 6 / 10, eur * 4 / 10)
    assert by_country["total"] == {"2031": "1000.01", "2032": "2191.20", "2033": "0.00", "total": "3191.21"}
    by_region = forward_spending("region", "USD", 2031)
    assert [(r["key"], r["total"]) for r in by_region["rows"]] == [("002", "3191.21")]  # Kenya and Uganda: Africa
    by_area = forward_spending("area", "USD", 2031)
    assert [(r["key"], r["total"]) for r in by_area["rows"]] == [("23b", "3191.21")]


def test_the_api_and_csv_give_the_same_figures(registry, client):
    response = client.get("/api/v1/reports/predictability?currency=USD&year_from=2024&year_to=2024")
    assert response.status_code == 200
    assert response.get_json()["total"]["years"][0]["in_year_predictability"] == "0.8280"
    forward = client.get("/api/v1/reports/forward-spending?by=country&start_year=2031")
    assert forward.get_json()["total"]["total"] == "3191.21"
    bad = client.get("/api/v1/reports/forward-spending?by=planet")
    assert bad.status_code == 422 and "by" in str(bad.get_json()["errors"])
    with client.get("/api/v1/reports/forward-spending.csv?by=country&start_year=2031") as download:
        assert download.status_code == 200
        lines = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
    assert lines[0][:4] == ["country", "2031", "2032", "2033"]
    assert ["KEN", "600.01", "1314.72", "0.00", "1914.73", "USD"] in lines


def test_the_command_line_prints_the_same_figures(registry, runner):
    result = runner.invoke(args=["report", "predictability", "--year-from", "2024", "--year-to", "2024"])
    assert result.exit_code == 0, result.output
    assert "in-year predictability 0.8280" in result.output
    forward = runner.invoke(args=["report", "forward", "--by", "area", "--start-year", "2031"])
    assert forward.exit_code == 0 and "23b\t1000.01\t2191.20\t0.00\t3191.21" in forward.output


def test_the_workbook_has_the_predictability_and_a_forward_view_sheet_with_the_same_figures(registry):
    from openpyxl import load_workbook

    from reports.spec import ReportSpec
    from reports.workbook import funding_gap_workbook

    book = load_workbook(io.BytesIO(funding_gap_workbook(ReportSpec(currency="USD"))))
    assert book.sheetnames[-2:] == ["Quality and predictability", "Forward view"]
    rows = [[c.value for c in r] for r in book["Quality and predictability"].iter_rows()]
    donor_2024 = next(r for r in rows if r[0] == "DONOR-A" and r[1] == 2024)
    assert donor_2024[2:5] == [159560.0, 132119.0, 0.828]
    about = [r[0].value for r in book["About"].iter_rows() if r[0].value]
    assert "In-year predictability" in about and "Disbursement lag" in about
