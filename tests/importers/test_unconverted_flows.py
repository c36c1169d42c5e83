"""Flows in currencies the ECB lacks, and flows no source converts, through an import and the reports.

The rates are small files built here (``money.rates_in_force``); every expected figure is
worked out by hand from them with Decimal.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import openpyxl
import pytest
from sqlalchemy import select

from importers import pipeline
from registry import money
from registry.extensions import db
from registry.models import Transaction
from registry.models.types import Role
from reports import tables
from reports.flows import build_spec, flows_report
from reports.workbook import funding_gap_workbook
from tests.importers.helpers import csv_bytes

ECB = """Date,USD,GBP,
2021-01-04,1.2500,0.9100,
2020-06-15,1.1250,0.89,
2020-03-02,1.1000,0.86,
"""
IMF = """Date,Rate,Currency,Frequency,Source,Country code,Country
2020-12-31,118.3,NPR,A,IMF,NP,Nepal
2020-12-31,21.5,ETB,A,IMF,ET,Ethiopia
2020-12-31,1,USD,A,IMF,US,United States
"""
HEADER = ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"]
ROWS = [
    HEADER,
    ["NP-1", "Nepal broadband", "Nepal", "commitment", "1000000.00", "NPR", "2020-06-15"],
    ["NP-1", "Nepal broadband", "Nepal", "disbursement", "500.00", "EUR", "2021-01-04"],
    ["ET-1", "Ethiopia e-gov", "Ethiopia", "commitment", "2150000.00", "ETB", "2020-03-02"],
    ["US-1", "Kenya data", "Kenya", "commitment", "91546.91", "USD", "2020-03-02"],
    ["NP-2", "Nepal typo", "Nepal", "commitment", "250000.00", "NPR", "1010-12-09"],
    ["NP-3", "Nepal planned", "Nepal", "commitment", "100.00", "NPR", "2030-01-01"],
    ["KP-1", "No rate anywhere", "Kenya", "commitment", "1000.00", "KPW", "2020-06-01"],
]


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def per(text: str) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 12
        return Decimal(1) / Decimal(text)


# By hand: 1,000,000 NPR / 118.3 and 2,150,000 ETB / 21.5 (IMF 2020); 500 EUR x 1.25 (ECB 2021-01-04).
NPR_USD = cents(Decimal("1000000.00") * per("118.3"))  # 8,453.09
ETB_USD = cents(Decimal("2150000.00") * per("21.5"))  # 100,000.00
EUR_USD = Decimal("625.00")
ANNUAL_COMMITMENTS = NPR_USD + ETB_USD
ALL_COMMITMENTS = ANNUAL_COMMITMENTS + Decimal("91546.91")


@pytest.fixture
def rates():
    with money.rates_in_force(ecb=money.RateTable.from_ecb_text(ECB), imf=money.AnnualTable.from_text(IMF)):
        yield


@pytest.fixture
def imported(app, actor, make_org, rates):
    org = make_org(ref="DON-RATES")
    batch = pipeline.run_import("sheet", "rates.csv", csv_bytes(ROWS), org, actor)
    return batch


def _flows(batch) -> dict[tuple[str, str], Transaction]:
    found = db.session.scalars(select(Transaction).where(Transaction.import_batch_id == batch.id)).all()
    return {(t.currency, t.value_date.isoformat()): t for t in found}


def test_flows_in_currencies_the_ecb_lacks_are_stored_with_annual_rates(imported):
    assert imported.status == "committed", imported.problems
    flows = _flows(imported)
    npr = flows[("NPR", "2020-06-15")]
    assert (npr.usd_amount, npr.usd_rate, npr.usd_rate_date, npr.usd_rate_source) == (
        NPR_USD,
        str(per("118.3")),
        dt.date(2020, 12, 31),
        "imf_annual",
    )
    assert NPR_USD == Decimal("8453.09")
    etb = flows[("ETB", "2020-03-02")]
    assert (etb.usd_amount, etb.usd_rate_source) == (ETB_USD, "imf_annual")
    eur = flows[("EUR", "2021-01-04")]
    assert (eur.usd_amount, eur.usd_rate, eur.usd_rate_date, eur.usd_rate_source) == (
        EUR_USD,
        "1.2500",
        dt.date(2021, 1, 4),
        "ecb",
    )
    assert flows[("USD", "2020-03-02")].usd_rate_source == "identity"


def test_a_flow_no_source_converts_is_kept_flagged_and_never_sinks_the_file(imported):
    assert imported.status == "committed"
    assert imported.counts.get("errors", 0) == 0
    flows = _flows(imported)
    for key, amount in (
        (("NPR", "1010-12-09"), "250000.00"),
        (("NPR", "2030-01-01"), "100.00"),
        (("KPW", "2020-06-01"), "1000.00"),
    ):
        tx = flows[key]
        assert tx.amount == Decimal(amount)
        assert (tx.usd_minor, tx.usd_rate, tx.usd_rate_date, tx.usd_rate_source) == (None, None, None, None)
    warnings = [p for p in imported.problems if p["code"] == "unconverted_amount"]
    assert len(warnings) == 3 and {p["severity"] for p in warnings} == {"warning"}
    text = " | ".join(p["message"] for p in warnings)
    assert "250,000.00 NPR dated 1010-12-09 of project 'NP-2'" in text
    assert "the IMF annual averages of NPR start in 2020" in text
    assert "100.00 NPR dated 2030-01-01" in text and "end in 2020 (they serve dates up to 2021-12-31)" in text
    assert "1,000.00 KPW" in text and "the ECB does not publish KPW" in text


def test_a_usd_report_sums_converted_flows_and_lists_the_rest_by_currency(imported):
    report = flows_report(by="country", measures="commitment,disbursement")
    assert report.total["commitment"] == ALL_COMMITMENTS == Decimal("200000.00")
    assert report.total["disbursement"] == EUR_USD
    meta = report.as_json()["conversion"]
    assert meta["unconverted"] == [
        {"currency": "KPW", "amount": "1000.00", "flows": 1, "by_measure": {"commitment": "1000.00"}},
        {"currency": "NPR", "amount": "250100.00", "flows": 2, "by_measure": {"commitment": "250100.00"}},
    ]
    # 108,453.09 of 200,000.00 at annual rates: 0.5423 of the figure; none of the disbursements
    assert meta["annual_rates"]["commitment"] == {"amount": str(ANNUAL_COMMITMENTS), "share": "0.5423"}
    assert meta["annual_rates"]["disbursement"] == {"amount": "0.00", "share": "0.0000"}
    note = next(n for n in report.notes if n.startswith("Not converted"))
    assert "3 flows" in note and "250,100.00 NPR (2 flows: commitments 250,100.00 NPR)" in note
    assert "1,000.00 KPW (1 flow" in note
    annual = next(n for n in report.notes if n.startswith("Converted at IMF annual"))
    assert "commitments 108,453.09 USD (54.2 % of the figure)" in annual
    footer = tables.to_csv(report).splitlines()[-2:]
    assert footer[0].startswith("Note,") and "IMF annual" in footer[0]
    assert footer[1].startswith("Note,") and "250,100.00 NPR" in footer[1]


def test_a_filtered_report_lists_only_the_unconverted_amounts_inside_it(imported):
    report = flows_report(by="country", measures="commitment", country="KEN")
    assert report.total["commitment"] == Decimal("91546.91")
    assert report.conversion["unconverted"] == [
        {"currency": "KPW", "amount": "1000.00", "flows": 1, "by_measure": {"commitment": "1000.00"}}
    ]
    assert report.conversion["annual_rates"]["commitment"] == {"amount": "0.00", "share": "0.0000"}


def test_a_report_in_euros_converts_imf_currencies_through_the_dollar(imported):
    report = flows_report(by="country", measures="commitment", currency="EUR")
    # NPR -> EUR on 2020-06-15: 1 / (118.3 x 1.1250); ETB -> EUR on 2020-03-02: 1 / (21.5 x 1.1000)
    with localcontext() as ctx:
        ctx.prec = 12
        npr = Decimal(1) / (Decimal("118.3") * Decimal("1.1250"))
        etb = Decimal(1) / (Decimal("21.5") * Decimal("1.1000"))
        usd = Decimal(1) / Decimal("1.1000")
    annual = cents(Decimal("1000000.00") * npr) + cents(Decimal("2150000.00") * etb)
    assert report.total["commitment"] == annual + cents(Decimal("91546.91") * usd)
    assert report.conversion["annual_rates"]["commitment"]["amount"] == str(annual)
    assert [e["currency"] for e in report.conversion["unconverted"]] == ["KPW", "NPR"]
    assert report.conversion["unconverted"][1]["amount"] == "250100.00"


def test_the_workbook_about_sheet_says_what_was_not_converted(imported):
    book = openpyxl.load_workbook(io.BytesIO(funding_gap_workbook(build_spec(by="region"))))
    about = {row[0]: row[1] for row in book["About"].iter_rows(values_only=True) if row and row[0]}
    assert "250,100.00 NPR" in about["Not converted"] and "1,000.00 KPW" in about["Not converted"]
    assert "IMF annual average" in about["Annual rates"]


def test_a_need_no_rate_converts_is_kept_flagged_and_listed(app, actor, make_org, rates):
    # No start date: the need is dated today, years after the last IMF rate of NPR (2020)
    rows = [
        [*HEADER, "Need", "Need currency"],
        ["NP-9", "Nepal libraries", "Nepal", "commitment", "1183.00", "NPR", "2020-06-15", "500000.00", "NPR"],
    ]
    batch = pipeline.run_import("sheet", "need.csv", csv_bytes(rows), make_org(ref="DON-NEED"), actor)
    assert batch.status == "committed", batch.problems
    (warning,) = [p for p in batch.problems if p["code"] == "unconverted_need"]
    assert "The need of 500,000.00 NPR of project 'NP-9' is kept in NPR" in warning["message"]
    report = flows_report(by="region", measures="need,commitment,gap")
    assert report.total["need"] == Decimal("0.00")
    assert report.total["commitment"] == cents(Decimal("1183.00") * per("118.3")) == Decimal("10.00")
    assert report.conversion["unconverted_needs"] == [
        {"currency": "NPR", "amount": "500000.00", "flows": 1, "by_measure": {"need": "500000.00"}}
    ]
    assert any(n.startswith("Needs not converted") and "500,000.00 NPR (1)" in n for n in report.notes)


def test_pages_and_the_api_show_an_unconverted_flow_as_not_converted(imported, client):
    tx = _flows(imported)[("KPW", "2020-06-01")]
    page = client.get(f"/projects/{tx.project_id}").get_data(as_text=True)
    assert "1,000.00 KPW" in page and "Not converted" in page
    npr = _flows(imported)[("NPR", "2020-06-15")]
    page = client.get(f"/projects/{npr.project_id}").get_data(as_text=True)
    assert f"{per('118.3')}" in page and "IMF annual average 2020" in page
    listed = client.get(f"/api/v1/projects/{tx.project_id}/transactions").get_json()
    assert [(t["currency"], t["usd"], t["usd_rate"], t["usd_rate_source"]) for t in listed] == [
        ("KPW", None, None, None)
    ]


def test_the_report_api_and_its_csv_carry_the_conversion_meta(imported, client):
    body = client.get("/api/v1/reports/flows?by=country&measure=commitment").get_json()
    assert body["total"]["commitment"] == "200000.00"
    assert [(e["currency"], e["amount"], e["flows"]) for e in body["conversion"]["unconverted"]] == [
        ("KPW", "1000.00", 1),
        ("NPR", "250100.00", 2),
    ]
    assert body["conversion"]["annual_rates"]["commitment"]["share"] == "0.5423"
    csv_text = client.get("/api/v1/reports/funding-gap.csv?by=region").get_data(as_text=True)
    assert "Not converted, so not in the figures: 3 flows" in csv_text


def test_the_project_page_names_the_rate_sources_its_flows_use(imported, client):
    """The note under a project's flows named the ECB daily rates even when every flow was
    converted at an IMF annual average (ET-1) or not converted at all (KP-1)."""
    flows = _flows(imported)
    etb = client.get(f"/projects/{flows[('ETB', '2020-03-02')].project_id}").get_data(as_text=True)
    note = etb[etb.find('id="rates-note"') :][:600]
    assert "IMF annual average" in note and "ECB euro reference rates" not in note, note
    kpw = client.get(f"/projects/{flows[('KPW', '2020-06-01')].project_id}").get_data(as_text=True)
    note = kpw[kpw.find('id="rates-note"') :][:600]
    assert "not converted" in note and "ECB euro reference rates" not in note, note
    # NP-1 has both: the NPR commitment at the IMF annual average, the EUR disbursement at the ECB's.
    both = client.get(f"/projects/{flows[('NPR', '2020-06-15')].project_id}").get_data(as_text=True)
    note = both[both.find('id="rates-note"') :][:600]
    assert "ECB euro reference rates" in note and "IMF annual average" in note, note


def test_a_small_share_at_annual_rates_is_never_written_as_zero(imported, actor, make_org):
    """Next to two billion dollars, the 108,453.09 USD converted at IMF annual rates are 0.005 %
    of the commitments: the note said '0.0 % of the figure', which reads as none."""
    org = make_org(ref="DON-BIG")
    big = [HEADER, ["US-BIG", "Backbone", "Kenya", "commitment", "2000000000.00", "USD", "2020-03-02"]]
    pipeline.run_import("sheet", "big.csv", csv_bytes(big), org, actor)
    report = flows_report(by="country", measures="commitment,disbursement")
    annual = next(n for n in report.notes if n.startswith("Converted at IMF annual"))
    assert f"commitments {ANNUAL_COMMITMENTS:,} USD (less than 0.1 % of the figure)" in annual, annual
    assert "0.0 %" not in annual


def test_the_workbook_says_once_what_was_converted_at_annual_rates(imported, actor, make_org):
    """The summary shows expenditure, the other sheets do not: the About sheet listed two
    'Annual rates' rows (one naming the expenditure with its share, one without), and its
    Notes both again, as if they were two different amounts."""
    org = make_org(ref="DON-EXP")
    spent = [HEADER, ["ET-2", "Ethiopia spend", "Ethiopia", "expenditure", "215000.00", "ETB", "2020-03-02"]]
    pipeline.run_import("sheet", "spent.csv", csv_bytes(spent), org, actor)
    book = openpyxl.load_workbook(io.BytesIO(funding_gap_workbook(build_spec(by="region"))))
    rows = [row for row in book["About"].iter_rows(values_only=True) if row and (row[0] or row[1])]
    annual = [row[1] for row in rows if row[0] == "Annual rates"]
    # 215,000 ETB / 21.5 (IMF 2020) = 10,000.00 USD of expenditure.
    assert len(annual) == 1 and "expenditure 10,000.00 USD" in annual[0], annual
    notes = [row[1] for row in rows if row[0] is None and str(row[1]).startswith("Converted at IMF annual")]
    assert notes == annual, notes


def test_the_home_page_says_which_flows_its_dollar_totals_leave_out(imported, client):
    """The home page's USD totals summed the flows that have a dollar value and said nothing of
    the three kept in their own currency (250,000 NPR dated 1010-12-09, 100 NPR of 2030, 1,000
    KPW); its 'Value dates' range started in 1010."""
    page = client.get("/").get_data(as_text=True)
    panel = page[page.find("Money flows (USD)") :][:1500]
    assert "Value dates 2020–2021" in panel, panel
    assert "3 flows kept in their own currency (no exchange rate) are not in these totals" in panel, panel
    # the figure is abbreviated for reading; its exact value is the element's value
    commitments = re.search(
        r'Commitments</th><td class="num"><data class="amount-compact" value="([\d.]+)"', panel
    ).group(1)
    assert Decimal(commitments) == ALL_COMMITMENTS


def _named_flow(project, actor, currency: str, amount: str, day: dt.date, country: str) -> Transaction:
    """A flow that names its own recipient, in ``currency`` as an import stores it."""
    from registry.services.actor import Actor
    from registry.services.projects import add_transaction

    importer = Actor(label="import", channel="import", role=Role.ADMIN)
    tx = add_transaction(
        importer, project, {"type": "commitment", "amount": Decimal(amount), "currency": currency, "value_date": day}
    )
    tx.recipient_country_iso3 = country
    db.session.flush()
    return tx


@pytest.mark.parametrize("currency", ["USD", "EUR"])
def test_a_flow_named_to_its_own_country_is_listed_in_that_countrys_report(app, actor, make_project, rates, currency):
    """A project in Kenya whose flows name Nigeria: the money no rate converts, and the money
    converted at an annual rate, belong to Nigeria's report (the flow's own recipient wins),
    not to Kenya's; left out of Nigeria's notes, it would leave the report without a word."""
    project = make_project(recipients=[{"country": "KEN", "share": Decimal(100)}])
    _named_flow(project, actor, "KPW", "1000.00", dt.date(2020, 6, 1), "NGA")  # no source has KPW
    _named_flow(project, actor, "NPR", "1000000.00", dt.date(2020, 6, 15), "NGA")  # IMF annual 2020
    db.session.commit()
    nigeria = flows_report(by="country", measures="commitment", country="NGA", currency=currency)
    assert nigeria.conversion["unconverted"] == [
        {"currency": "KPW", "amount": "1000.00", "flows": 1, "by_measure": {"commitment": "1000.00"}}
    ]
    annual = nigeria.conversion["annual_rates"]["commitment"]["amount"]
    assert Decimal(annual) == nigeria.total["commitment"] != 0  # all of Nigeria's money, at the IMF rate
    kenya = flows_report(by="country", measures="commitment", country="KEN", currency=currency)
    assert kenya.conversion["unconverted"] == []
    assert kenya.conversion["annual_rates"]["commitment"]["amount"] == "0.00"
