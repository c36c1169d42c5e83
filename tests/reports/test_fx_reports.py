"""Reports in euros, CFA francs and rupees from the converted report facts.

A small registry on rate files written here: every flow is converted by hand below, from the
rates and the conversion rule (the rate of the value date, at most seven days old, else the
last earlier one; cross rates through the euro, else through the dollar with the IMF annual
averages, a quotient kept to 12 significant digits; each flow rounded half-even to the
currency's minor unit), with Decimal, never by asking registry.money. The fast path (the
converted facts) must give these figures to the minor unit, and exactly the report of the
flow-by-flow path (figures, totals, notes, conversion meta).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest
from sqlalchemy import select

from registry import money
from registry.extensions import db
from registry.models import Transaction
from registry.models.types import TransactionType
from reports import flows as flows_module
from reports.flows import build_spec, run_report
from reports.models import ReportFxFact

ECB = """Date,USD,GBP,JPY,
2021-01-05,1.2000,0.9000,124.00,
2021-01-04,1.2500,0.9100,126.00,
2020-12-31,1.2271,0.89903,126.49,
2020-06-15,1.1250,0.8950,120.80,
2020-06-02,1.1174,0.89033,121.24,
"""
IMF = """Date,Rate,Currency,Frequency,Source,Country code,Country
2020-12-31,118.3,NPR,A,IMF,NP,Nepal
2021-12-31,119.0,NPR,A,IMF,NP,Nepal
2020-12-31,1,USD,A,IMF,US,United States
"""
PER_EURO = {  # the ECB file above, by hand
    dt.date(2021, 1, 5): {"USD": "1.2000", "GBP": "0.9000", "JPY": "124.00"},
    dt.date(2021, 1, 4): {"USD": "1.2500", "GBP": "0.9100", "JPY": "126.00"},
    dt.date(2020, 12, 31): {"USD": "1.2271", "GBP": "0.89903", "JPY": "126.49"},
    dt.date(2020, 6, 15): {"USD": "1.1250", "GBP": "0.8950", "JPY": "120.80"},
    dt.date(2020, 6, 2): {"USD": "1.1174", "GBP": "0.89033", "JPY": "121.24"},
}
PER_USD_ANNUAL = {("NPR", 2020): "118.3", ("NPR", 2021): "119.0"}
XOF_PER_EURO = Decimal("655.957")  # the legal parity (from 1999)
DECIMALS = {"EUR": 2, "USD": 2, "GBP": 2, "JPY": 0, "XOF": 0, "NPR": 2, "KPW": 2}
COUNTRIES = {"KEN": "Kenya", "NPL": "Nepal", "SEN": "Senegal"}

# (country of the project, type, amount, currency, value date)
FLOWS = [
    ("KEN", "commitment", "1000.00", "USD", dt.date(2020, 6, 2)),
    ("KEN", "commitment", "2500.55", "GBP", dt.date(2021, 1, 4)),
    # two flows of one project, day and currency: each rounded on its own
    ("KEN", "disbursement", "1.00", "USD", dt.date(2021, 1, 5)),
    ("KEN", "disbursement", "1.00", "USD", dt.date(2021, 1, 5)),
    ("KEN", "commitment", "0.03", "GBP", dt.date(2021, 1, 5)),
    ("KEN", "commitment", "0.03", "GBP", dt.date(2021, 1, 5)),
    ("NPL", "commitment", "1000000.00", "NPR", dt.date(2020, 6, 15)),
    ("NPL", "disbursement", "123457", "JPY", dt.date(2020, 12, 31)),
    ("NPL", "commitment", "98765.43", "NPR", dt.date(2021, 1, 4)),
    ("SEN", "commitment", "5000000", "XOF", dt.date(2021, 1, 4)),
    ("SEN", "disbursement", "333.33", "EUR", dt.date(2020, 6, 2)),
    ("SEN", "commitment", "12345", "XOF", dt.date(2020, 6, 15)),
]
# Kept by an import without a USD value (the forms refuse them): no ECB rate in the seven days
# before, so a report takes the last earlier one and says so in a note.
STALE = [("KEN", "disbursement", "77.77", "GBP", dt.date(2020, 11, 2))]
NO_RATE = ("SEN", "commitment", "1000.00", "KPW", dt.date(2020, 6, 1))  # no source has KPW


def _quotient(numerator: Decimal, denominator: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 12
        return numerator / denominator


def _per_euro(currency: str, day: dt.date, max_age: int) -> Decimal | None:
    if currency == "EUR":
        return Decimal(1)
    if currency == "XOF":
        return XOF_PER_EURO
    for published in sorted(PER_EURO, reverse=True):
        if published <= day and (day - published).days <= max_age and currency in PER_EURO[published]:
            return Decimal(PER_EURO[published][currency])
    return None


def _per_usd(currency: str, day: dt.date, max_age: int) -> tuple[Decimal, Decimal] | None:
    if currency == "USD":
        return Decimal(1), Decimal(1)
    own, usd = _per_euro(currency, day, max_age), _per_euro("USD", day, max_age)
    if own is not None and usd is not None:
        return own, usd
    annual = PER_USD_ANNUAL.get((currency, day.year))
    return (Decimal(annual), Decimal(1)) if annual else None


def _rate(source: str, target: str, day: dt.date) -> Decimal | None:
    if source == target:
        return Decimal(1)
    for max_age in (7, 36_600):  # the report's age rule, then the last earlier rate
        src, dst = _per_euro(source, day, max_age), _per_euro(target, day, max_age)
        if src is not None and dst is not None:
            return _quotient(dst, src)
        src_usd, dst_usd = _per_usd(source, day, max_age), _per_usd(target, day, max_age)
        if src_usd is not None and dst_usd is not None:
            return _quotient(dst_usd[0] * src_usd[1], dst_usd[1] * src_usd[0])
    return None


def by_hand(target: str) -> dict[str, dict]:
    """Each flow converted on its own and rounded half-even; summed by country, year and in total."""
    unit = Decimal(1).scaleb(-DECIMALS[target])
    out: dict[str, dict] = {
        "country": defaultdict(Decimal),
        "year": defaultdict(Decimal),
        "total": defaultdict(Decimal),
    }
    for iso3, kind, amount, currency, day in FLOWS + STALE:
        rate = _rate(currency, target, day)
        assert rate is not None
        with localcontext() as ctx:
            ctx.prec = 40
            value = (Decimal(amount) * rate).quantize(unit, rounding=ROUND_HALF_EVEN)
        out["country"][(iso3, kind)] += value
        out["year"][(day.year, kind)] += value
        out["total"][kind] += value
    return out


@pytest.fixture
def registry(app, make_project, make_transaction):
    app.config["REPORT_CURRENCIES"] = ("EUR", "XOF", "NPR")
    with money.rates_in_force(ecb=money.RateTable.from_ecb_text(ECB), imf=money.AnnualTable.from_text(IMF)):
        projects = {iso3: make_project(recipients=[{"country": iso3, "share": Decimal(100)}]) for iso3 in COUNTRIES}
        for iso3, kind, amount, currency, day in FLOWS:
            make_transaction(projects[iso3], type=kind, amount=Decimal(amount), currency=currency, value_date=day)
        for iso3, kind, amount, currency, day in [*STALE, NO_RATE]:
            db.session.add(
                Transaction(
                    project_id=projects[iso3].id,
                    type=TransactionType(kind),
                    amount_minor=int(Decimal(amount) * 100),
                    currency=currency,
                    value_date=day,
                )
            )
        db.session.commit()
        yield projects


def _fast(spec, monkeypatch):
    """The report from the converted facts (converting flow by flow is made to fail)."""

    def no_flow_by_flow(*_args, **_kwargs):
        raise AssertionError("the report converted the flows one by one")

    with monkeypatch.context() as patch:
        patch.setattr(flows_module, "stage_one", no_flow_by_flow)
        return run_report(spec)


@pytest.mark.parametrize("currency", ["EUR", "XOF", "NPR"])
def test_converted_facts_give_each_flow_converted_on_its_own(registry, monkeypatch, currency):
    expected = by_hand(currency)
    measures = ["commitment", "disbursement"]
    by_country = _fast(build_spec(by="country", measures=measures, currency=currency), monkeypatch)
    for row in by_country.rows:
        for kind in measures:
            assert row[kind] == expected["country"][(row["country"], kind)], (row["country"], kind)
    for kind in measures:
        assert by_country.total[kind] == expected["total"][kind]
    by_year = _fast(build_spec(by="year", measures=measures, currency=currency), monkeypatch)
    assert {row["year"] for row in by_year.rows} == {2020, 2021}
    for row in by_year.rows:
        for kind in measures:
            assert row[kind] == expected["year"].get((row["year"], kind), Decimal(0)), (row["year"], kind)
    # the flow no source converts is listed in its own currency, never silently dropped
    assert by_country.conversion["unconverted"] == [
        {"currency": "KPW", "amount": "1000.00", "flows": 1, "by_measure": {"commitment": "1000.00"}}
    ]


@pytest.mark.parametrize("currency", ["EUR", "XOF", "NPR"])
@pytest.mark.parametrize(
    "params",
    [
        {"by": "country"},
        {"by": ["region", "priority_area"]},
        {"by": "year"},
        {"by": "donor"},
        {"by": "category"},
        {"by": "country", "year_from": 2021},
        {"by": "funding_source", "country": ["KEN", "NPL"]},
    ],
)
def test_fast_path_equals_flow_by_flow_path(registry, monkeypatch, currency, params):
    spec = build_spec(currency=currency, **params)
    fast = _fast(spec, monkeypatch)
    plain = run_report(spec, in_database=False)
    fast_json, plain_json = fast.as_json(), plain.as_json()
    fast_json.pop("generated_at"), plain_json.pop("generated_at")
    assert fast_json == plain_json
    assert [str(n) for n in fast.notes] == [str(n) for n in plain.notes]


def test_notes_say_which_rates(registry, monkeypatch):
    report = _fast(build_spec(by="country", currency="EUR"), monkeypatch)
    kinds = [getattr(note, "kind", None) for note in report.notes]
    assert "stale_rates" in kinds  # the GBP flow of 2020-11-02 took the rate of 2020-06-15
    assert "euro_parities" in kinds  # XOF
    assert "unconverted" in kinds
    # NPR converts at the IMF annual average: 1,000,000 + 98,765.43 NPR of commitments
    annual = Decimal(0)
    for _iso3, kind, amount, currency, day in FLOWS:
        if currency == "NPR" and kind == "commitment":
            with localcontext() as ctx:
                ctx.prec = 40
                annual += (Decimal(amount) * _rate("NPR", "EUR", day)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    assert Decimal(report.conversion["annual_rates"]["commitment"]["amount"]) == annual


def test_a_new_flow_is_converted_on_commit(registry, make_transaction, monkeypatch):
    spec = build_spec(by="country", measures=["commitment"], currency="EUR")
    before = {r["country"]: r["commitment"] for r in _fast(spec, monkeypatch).rows}
    make_transaction(registry["KEN"], amount=Decimal("10.00"), currency="GBP", value_date=dt.date(2021, 1, 4))
    db.session.commit()
    after = {r["country"]: r["commitment"] for r in _fast(spec, monkeypatch).rows}
    # 10 GBP x (1 / 0.91 kept to 12 digits), rounded to the cent
    added = (Decimal("10.00") * _quotient(Decimal(1), Decimal("0.91"))).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    assert after["KEN"] - before["KEN"] == added
    assert after["NPL"] == before["NPL"]
    kept = db.session.scalars(select(ReportFxFact.currency).distinct()).all()
    assert sorted(kept) == ["EUR", "NPR", "XOF"]


def test_a_currency_not_kept_converts_flow_by_flow(registry, app):
    app.config["REPORT_CURRENCIES"] = ("EUR",)
    spec = build_spec(by="country", currency="XOF", measures=["commitment"])
    expected = by_hand("XOF")
    report = run_report(spec)
    assert report.total["commitment"] == expected["total"]["commitment"]
