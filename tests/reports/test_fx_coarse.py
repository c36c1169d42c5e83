"""The coarse converted facts and the stored converted needs of reports in other currencies.

The registry and the rates are those of test_fx_reports (every figure there converted by hand).
Here: the coarse rows hold exactly the sums of the fine ones (and what the notes read), both
follow a change to one flow in the writer's commit, and the projects' needs, converted in
advance, give the needs converted by hand, also after a need is edited without its flows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest
from sqlalchemy import select

from registry.extensions import db
from registry.models import Transaction
from registry.models.types import TransactionType
from reports import fx_facts
from reports.flows import build_spec, run_report
from reports.models import ReportFxFact, ReportFxNeed, ReportFxProjectFact
from tests.reports.test_fx_reports import DECIMALS, _fast, _rate, registry  # noqa: F401  (the fixture)

CURRENCIES = ("EUR", "XOF", "NPR")


@pytest.fixture
def projects(registry):  # noqa: F811  (the fixture imported above)
    """test_fx_reports' registry: its projects by country."""
    return registry


# country of the project -> its need: (amount, currency, date)
NEEDS = {
    "KEN": ("50000.00", "GBP", dt.date(2020, 11, 2)),  # no ECB rate in the 7 days before: the last earlier one
    "NPL": ("2000000.00", "NPR", dt.date(2020, 6, 15)),  # IMF annual average
    "SEN": ("10000000", "XOF", dt.date(2020, 6, 2)),  # fixed to the euro
}


def _fine_sums() -> dict[tuple, dict]:
    """The fine rows added up by (currency, project, year, period, flow recipient), by hand."""
    out: dict[tuple, dict] = defaultdict(
        lambda: {"sums": [0, 0, 0, 0], "annual": [0, 0, 0, 0], "days": [], "rated": 0, "sources": set()}
    )
    for f in db.session.scalars(select(ReportFxFact)):
        acc = out[(f.currency, f.project_id, f.year, f.period, f.tx_country, f.tx_region)]
        values = [f.pledge, f.commitment, f.disbursement, f.expenditure]
        acc["sums"] = [a + b for a, b in zip(acc["sums"], values, strict=True)]
        if f.rate_kind == "annual":
            acc["annual"] = [a + b for a, b in zip(acc["annual"], values, strict=True)]
        if f.rate_kind != "same":
            acc["rated"] = 1
            acc["sources"].add(f.source_currency)
        acc["days"] += [d for d in (f.rate_from, f.rate_to) if d is not None]
    return out


def _assert_coarse_equals_fine() -> None:
    fine = _fine_sums()
    coarse = {}
    for c in db.session.scalars(select(ReportFxProjectFact)):
        key = (c.currency, c.project_id, c.year, c.period, c.tx_country, c.tx_region)
        assert key not in coarse, key
        coarse[key] = c
    assert set(coarse) == set(fine)
    for key, c in coarse.items():
        acc = fine[key]
        assert [c.pledge, c.commitment, c.disbursement, c.expenditure] == acc["sums"], key
        annual = [c.annual_pledge, c.annual_commitment, c.annual_disbursement, c.annual_expenditure]
        assert annual == acc["annual"], key
        assert (c.rate_from, c.rate_to) == ((min(acc["days"]), max(acc["days"])) if acc["days"] else (None, None))
        assert c.rated == acc["rated"], key
        # of the flows' own currencies here only the CFA franc is fixed to the euro
        assert c.pegged_from == ("XOF" if "XOF" in acc["sources"] else None), key


def test_coarse_facts_are_the_sums_of_the_fine_ones(projects):
    _assert_coarse_equals_fine()
    assert {c for (c,) in db.session.execute(select(ReportFxProjectFact.currency).distinct())} == set(CURRENCIES)
    # the CFA franc flows of Senegal need a rate into euros, none into CFA francs
    sen = projects["SEN"].id
    pegged = {
        c.currency: c.pegged_from
        for c in db.session.scalars(select(ReportFxProjectFact).where(ReportFxProjectFact.project_id == sen))
        if c.pegged_from
    }
    assert pegged == {"EUR": "XOF", "NPR": "XOF"}


def _by_hand(amount: str, currency: str, day: dt.date, target: str) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 40
        return (Decimal(amount) * _rate(currency, target, day)).quantize(
            Decimal(1).scaleb(-DECIMALS[target]), rounding=ROUND_HALF_EVEN
        )


def test_a_changed_flow_updates_fine_and_coarse_facts(projects, monkeypatch):
    spec = build_spec(by="country", measures=["commitment"], currency="EUR")
    before = {r["country"]: r["commitment"] for r in _fast(spec, monkeypatch).rows}
    flow = db.session.scalars(
        select(Transaction).where(Transaction.project_id == projects["KEN"].id, Transaction.amount_minor == 250055)
    ).one()
    flow.amount_minor = 300000  # 2,500.55 GBP -> 3,000.00 GBP, same day
    db.session.commit()
    _assert_coarse_equals_fine()
    after = {r["country"]: r["commitment"] for r in _fast(spec, monkeypatch).rows}
    day = dt.date(2021, 1, 4)
    assert after["KEN"] - before["KEN"] == _by_hand("3000.00", "GBP", day, "EUR") - _by_hand(
        "2500.55", "GBP", day, "EUR"
    )
    assert after["SEN"] == before["SEN"]


def _set_needs(projects) -> None:
    for iso3, (amount, currency, day) in NEEDS.items():
        project = projects[iso3]
        project.need_minor = int(Decimal(amount) * 10 ** DECIMALS[currency])
        project.need_currency = currency
        project.need_usd_minor = 1  # not read by a report in another currency
        project.need_date = day
    db.session.commit()


def _same_as_flow_by_flow(spec, monkeypatch):
    fast = _fast(spec, monkeypatch)
    plain = run_report(spec, in_database=False)
    fast_json, plain_json = fast.as_json(), plain.as_json()
    fast_json.pop("generated_at"), plain_json.pop("generated_at")
    assert fast_json == plain_json
    assert [str(n) for n in fast.notes] == [str(n) for n in plain.notes]
    return fast


@pytest.mark.parametrize("currency", CURRENCIES)
def test_needs_converted_in_advance_or_since_edited(projects, monkeypatch, currency):
    _set_needs(projects)  # needs edited, no flow changed: nothing converted them yet
    assert set(fx_facts._needs_behind(currency)) == {p.id for p in projects.values()}
    spec = build_spec(by="country", measures=["need", "gap", "commitment"], currency=currency)
    report = _same_as_flow_by_flow(spec, monkeypatch)
    for row in report.rows:
        amount, cur, day = NEEDS[row["country"]]
        assert row["need"] == _by_hand(amount, cur, day, currency), row["country"]
    if currency != "XOF":  # a need in another currency than the report's, at an older rate
        assert "stale_rates" in [getattr(n, "kind", None) for n in report.notes]
    # the next commit that refreshes the facts converts the edited needs too
    db.session.add(
        Transaction(
            project_id=projects["SEN"].id,
            type=TransactionType.COMMITMENT,
            amount_minor=100,
            currency="EUR",
            value_date=dt.date(2021, 1, 5),
        )
    )
    db.session.commit()
    assert fx_facts._needs_behind(currency) == []
    stored = {
        n.project_id: n.minor for n in db.session.scalars(select(ReportFxNeed).where(ReportFxNeed.currency == currency))
    }
    for iso3, (amount, cur, day) in NEEDS.items():
        unit = Decimal(1).scaleb(-DECIMALS[currency])
        assert stored[projects[iso3].id] == int(_by_hand(amount, cur, day, currency) / unit)
    for params in ({"by": "country"}, {"by": ["region", "priority_area"]}, {"by": "year", "year_from": 2021}):
        _same_as_flow_by_flow(
            build_spec(currency=currency, measures=["need", "gap", "coverage", "commitment", "disbursement"], **params),
            monkeypatch,
        )
    # a need's amount edited alone: the stored conversion of the old amount no longer answers
    projects["SEN"].need_minor = 12_000_000
    db.session.commit()
    report = _same_as_flow_by_flow(spec, monkeypatch)
    sen = {r["country"]: r["need"] for r in report.rows}["SEN"]
    assert sen == _by_hand("12000000", "XOF", NEEDS["SEN"][2], currency)
    # a need removed: neither the stored conversion nor the figure keeps it
    projects["NPL"].need_minor = projects["NPL"].need_currency = projects["NPL"].need_date = None
    projects["NPL"].need_usd_minor = None
    db.session.commit()
    report = _same_as_flow_by_flow(spec, monkeypatch)
    assert {r["country"]: r["need"] for r in report.rows}.get("NPL") in (None, Decimal(0))


def test_a_currency_dropped_then_put_back_is_converted_again(projects, app, monkeypatch):
    app.config["REPORT_CURRENCIES"] = ("EUR",)
    flow = db.session.scalars(
        select(Transaction).where(Transaction.project_id == projects["KEN"].id, Transaction.amount_minor == 250055)
    ).one()
    flow.amount_minor = 300000  # while XOF is not kept: no commit converts it into XOF
    db.session.commit()
    assert db.session.scalars(select(ReportFxProjectFact.currency).distinct()).all() == ["EUR"]
    app.config["REPORT_CURRENCIES"] = ("EUR", "XOF")
    spec = build_spec(by="country", measures=["commitment"], currency="XOF")
    kenya = {r["country"]: r["commitment"] for r in _fast(spec, monkeypatch).rows}["KEN"]
    plain = {r["country"]: r["commitment"] for r in run_report(spec, in_database=False).rows}["KEN"]
    assert kenya == plain
    # the commitments of Kenya: 1,000.00 USD on 2020-06-02, 3,000.00 GBP on 2021-01-04, 0.03 + 0.03 GBP on 2021-01-05
    flows = [
        ("1000.00", "USD", dt.date(2020, 6, 2)),
        ("3000.00", "GBP", dt.date(2021, 1, 4)),
        ("0.03", "GBP", dt.date(2021, 1, 5)),
        ("0.03", "GBP", dt.date(2021, 1, 5)),
    ]
    assert kenya == sum(_by_hand(amount, cur, day, "XOF") for amount, cur, day in flows)


@pytest.mark.parametrize("currency", CURRENCIES)
def test_a_report_of_one_measure_says_what_flow_by_flow_says(projects, monkeypatch, currency):
    # In rupees every flow but those already in rupees converts at an IMF annual average (the yen
    # disbursement too): the note gives the amounts of every measure, the share of the figure shown
    spec = build_spec(by=["region", "priority_area"], measures=["commitment"], currency=currency)
    report = _same_as_flow_by_flow(spec, monkeypatch)
    if currency == "NPR":
        annual = report.conversion["annual_rates"]
        assert set(annual["commitment"]) == {"amount", "share"}
        assert set(annual["disbursement"]) == {"amount"}
