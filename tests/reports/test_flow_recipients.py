"""Every flow where its recipient is: a flow's own recipient, unallocated shares, regions.

The expected figures are worked out by hand from the registry built in each test
(amounts times shares, by IATI's rule that a transaction's own recipient wins), never
from the report code. Each report is computed by both engines: the one-query path in
the database and the Python spread of per-project sums (the path of other currencies).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from registry.extensions import db
from registry.models import ProjectRecipient, Transaction
from registry.models.types import TransactionType
from registry.services.shares import UNALLOCATED_AREA
from reports import queries
from reports.flows import GLOBAL, NO_CATEGORY, UNALLOCATED_RECIPIENT, build_spec, run_report

D = Decimal
PATHS = [True, False]  # in the database / spread in Python


def _flow(make_transaction, project, amount: str, day: dt.date, *, country=None, region=None, **kw):
    """A USD flow, with the recipient it names itself (as an IATI transaction can)."""
    tx = make_transaction(project, amount=D(amount), value_date=day, **kw)
    tx.recipient_country_iso3, tx.recipient_region_code = country, region
    db.session.flush()
    return tx


@pytest.fixture
def geo(make_project, make_transaction):
    """Flows named to Nigeria, Ghana and Eastern Africa beside a project's own shares; China
    with an unallocated half; a regional project; a project with no recipient at all."""
    mixed = make_project(
        title="Mixed recipients",
        recipients=[{"country": "KEN", "share": D(50)}, {"country": "UGA", "share": D(50)}],
        areas=[{"code": "23b", "share": D(100)}],
    )
    _flow(make_transaction, mixed, "1000.00", dt.date(2023, 6, 1), country="NGA")  # before NGA is FCS
    _flow(make_transaction, mixed, "600.00", dt.date(2024, 9, 1), country="NGA")  # NGA FCS from 2024-07-01
    _flow(make_transaction, mixed, "500.00", dt.date(2020, 6, 1), country="GHA")
    _flow(make_transaction, mixed, "333.34", dt.date(2020, 6, 1))  # the project's shares: 166.67 each
    _flow(make_transaction, mixed, "80.00", dt.date(2021, 1, 1), region="014")  # Eastern Africa
    _flow(make_transaction, mixed, "200.00", dt.date(2021, 1, 1), country="GHA", type="disbursement")
    # Types no measure counts, named to Nigeria: they must not appear anywhere.
    _flow(make_transaction, mixed, "777.00", dt.date(2021, 1, 1), country="NGA", type="incoming_commitment")
    _flow(make_transaction, mixed, "55.00", dt.date(2021, 1, 1), country="NGA", type="incoming_pledge")
    _flow(make_transaction, mixed, "44.00", dt.date(2021, 1, 1), type="loan_repayment")
    half = make_project(
        title="China and an unknown recipient",
        recipients=[{"country": "CHN", "share": D(50)}, {"country": "IND", "share": D(50)}],
        areas=[{"code": "23d", "share": D(100)}],
    )
    # The share a source gave to an empty or unknown recipient code: neither country nor region.
    unknown = next(r for r in half.recipients if r.country_iso3 == "IND")
    unknown.country_iso3 = None
    db.session.flush()
    _flow(make_transaction, half, "1000.00", dt.date(2020, 6, 1))
    regional = make_project(title="Regional", recipients=[{"region": "002"}], areas=[{"code": "23c"}])
    _flow(make_transaction, regional, "250.00", dt.date(2020, 6, 1))
    world = make_project(title="No recipient", recipients=[], areas=[])
    _flow(make_transaction, world, "99.99", dt.date(2020, 6, 1))
    return {"mixed": mixed, "half": half, "regional": regional, "world": world}


def _by(in_database: bool, measure: str = "commitment", **params) -> tuple[dict, Decimal, dict]:
    """{row label(s): amount}, the total, and {row label(s): projects} of a report in USD."""
    spec = build_spec(measures=[measure, "projects"], **params)
    report = run_report(spec, in_database=in_database)
    dims = spec.dimensions

    def key(row):
        labels = tuple(row[f"{d}_label"] for d in dims)
        return labels[0] if len(labels) == 1 else labels

    rows = {key(r): r[measure] for r in report.rows if r[measure] != 0}
    projects = {key(r): r["projects"] for r in report.rows}
    return rows, report.total[measure], projects


AFRICA_COUNTRIES = D("2433.34")  # NGA 1600 + GHA 500 + KEN 166.67 + UGA 166.67
TOTAL = D("3863.33")


@pytest.mark.parametrize("in_database", PATHS)
def test_by_country_a_flow_goes_to_its_own_recipient(geo, in_database):
    rows, total, projects = _by(in_database, by="country")
    assert rows == {
        "Nigeria": D("1600.00"),
        "Ghana": D("500.00"),
        "Kenya": D("166.67"),
        "Uganda": D("166.67"),
        "China": D("500.00"),
        "Regional: Eastern Africa": D("80.00"),
        "Regional: Africa": D("250.00"),
        UNALLOCATED_RECIPIENT: D("500.00"),
        GLOBAL: D("99.99"),
    }
    assert total == TOTAL
    assert projects["Nigeria"] == 1 and projects["Kenya"] == 1 and projects[UNALLOCATED_RECIPIENT] == 1
    disbursed, total, _ = _by(in_database, "disbursement", by="country")
    assert disbursed == {"Ghana": D("200.00")} and total == D("200.00")
    pledged, total, _ = _by(in_database, "pledge", by="country")
    assert pledged == {} and total == 0  # incoming pledges (13) are not pledges


@pytest.mark.parametrize("in_database", PATHS)
@pytest.mark.parametrize(
    ("by", "expected"),
    [
        (
            "region",
            {
                "Africa": AFRICA_COUNTRIES,
                "Asia": D("500.00"),
                "Regional: Eastern Africa": D("80.00"),
                "Regional: Africa": D("250.00"),
                UNALLOCATED_RECIPIENT: D("500.00"),
                GLOBAL: D("99.99"),
            },
        ),
        (
            "subregion",
            {
                "Sub-Saharan Africa": AFRICA_COUNTRIES,
                "Eastern Asia": D("500.00"),
                "Regional: Eastern Africa": D("80.00"),
                "Regional: Africa": D("250.00"),
                UNALLOCATED_RECIPIENT: D("500.00"),
                GLOBAL: D("99.99"),
            },
        ),
        (
            "income_group",
            {
                "Lower-middle income": D("2266.67"),  # NGA, GHA, KEN
                "Least developed countries": D("166.67"),  # UGA
                "Upper-middle income": D("500.00"),  # CHN
                "Regional: Eastern Africa": D("80.00"),
                "Regional: Africa": D("250.00"),
                UNALLOCATED_RECIPIENT: D("500.00"),
                GLOBAL: D("99.99"),
            },
        ),
        (
            "priority_area",
            {
                "23b Remote access & connectivity": D("2513.34"),
                "23d Broadband capacity": D("1000.00"),
                "23c Regional backbones": D("250.00"),
                UNALLOCATED_AREA: D("99.99"),
            },
        ),
    ],
)
def test_every_geographic_dimension_follows_the_flow(geo, in_database, by, expected):
    rows, total, _ = _by(in_database, by=by)
    assert rows == expected
    assert total == TOTAL
    assert sum(rows.values()) == total


@pytest.mark.parametrize("in_database", PATHS)
def test_category_by_the_membership_on_each_flows_value_date(geo, in_database):
    """Nigeria is FCS from 2024-07-01: its 2024 flow counts there, its 2023 flow does not."""
    rows, total, _ = _by(in_database, by="category")
    assert rows == {
        "FCS Fragile and conflict-affected situations": D("600.00"),
        "HIPC Heavily Indebted Poor Countries": D("666.67"),  # GHA 500 + UGA 166.67
        "LDC Least Developed Countries": D("166.67"),
        "LLDC Landlocked Developing Countries": D("166.67"),
        # on the DAC list: NGA 1000 + 600, GHA 500, UGA 166.67, KEN 166.67, CHN 500
        "DAC ODA recipients (OECD DAC List)": D("2933.34"),
        # regional 80 + 250 + unallocated 500 + global 99.99
        NO_CATEGORY: D("929.99"),
    }
    assert total == TOTAL
    fcs, total, _ = _by(in_database, by="country", category="FCS")
    assert fcs == {"Nigeria": D("600.00")} and total == D("600.00")


@pytest.mark.parametrize("in_database", PATHS)
def test_region_by_area_cross_tab(geo, in_database):
    rows, total, _ = _by(in_database, by=["region", "priority_area"])
    assert rows == {
        ("Africa", "23b Remote access & connectivity"): AFRICA_COUNTRIES,
        ("Regional: Eastern Africa", "23b Remote access & connectivity"): D("80.00"),
        ("Asia", "23d Broadband capacity"): D("500.00"),
        (UNALLOCATED_RECIPIENT, "23d Broadband capacity"): D("500.00"),
        ("Regional: Africa", "23c Regional backbones"): D("250.00"),
        (GLOBAL, UNALLOCATED_AREA): D("99.99"),
    }
    assert total == TOTAL


@pytest.mark.parametrize("in_database", PATHS)
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"country": "NGA"}, {"Nigeria": D("1600.00")}),
        ({"country": "KEN"}, {"Kenya": D("166.67")}),
        # Half of China's project is unallocated: China keeps half, never the whole.
        ({"country": "CHN"}, {"China": D("500.00")}),
        ({"country": "NGA,GHA"}, {"Nigeria": D("1600.00"), "Ghana": D("500.00")}),
        ({"region": "011"}, {"Nigeria": D("1600.00"), "Ghana": D("500.00")}),  # Western Africa
        (
            {"region": "014"},  # Eastern Africa: its countries, and the flow named to the region itself
            {"Kenya": D("166.67"), "Uganda": D("166.67"), "Regional: Eastern Africa": D("80.00")},
        ),
        (
            {"region": "002"},  # Africa and every region below it
            {
                "Nigeria": D("1600.00"),
                "Ghana": D("500.00"),
                "Kenya": D("166.67"),
                "Uganda": D("166.67"),
                "Regional: Eastern Africa": D("80.00"),
                "Regional: Africa": D("250.00"),
            },
        ),
        ({"region": "142"}, {"China": D("500.00")}),
    ],
)
def test_filters_by_country_and_region(geo, in_database, params, expected):
    rows, total, projects = _by(in_database, by="country", **params)
    assert rows == expected
    assert total == sum(expected.values())
    area_rows, area_total, _ = _by(in_database, by="priority_area", **params)
    assert area_total == total


def test_a_project_counts_for_a_country_named_only_on_its_flows(geo):
    _rows, _total, projects = _by(True, by="country", country="NGA")
    assert projects == {"Nigeria": 1}
    totals = run_report(build_spec(by="year", measures=["projects"], country="NGA"))
    assert totals.total["projects"] == 1


def test_unallocated_and_global_are_kept_apart_in_the_labels(geo):
    assert UNALLOCATED_RECIPIENT != GLOBAL
    report = run_report(build_spec(by="country", measures=["commitment"]))
    assert any(UNALLOCATED_RECIPIENT in note for note in report.notes)
    assert any("IATI transaction types counted" in note for note in report.notes)


def test_api_meta_says_which_types_each_measure_counts(geo, client):
    body = client.get("/api/v1/reports/flows?by=country&measure=commitment").get_json()
    types = body["transaction_types"]
    assert types["measures"]["pledge"]["iati_types"] == ["12"]
    assert types["measures"]["commitment"]["iati_types"] == ["2"]
    assert types["measures"]["disbursement"]["iati_types"] == ["3"]
    assert types["measures"]["expenditure"]["iati_types"] == ["4"]
    assert types["not_counted"]["iati_types"] == ["1", "5", "6", "7", "8", "9", "10", "11", "13"]
    rows = {r["country_label"]: r["commitment"] for r in body["rows"]}
    assert rows["Nigeria"] == "1600.00"


def test_the_reports_sum_only_the_four_measured_types():
    assert set(queries.FLOW_TYPES) == {
        TransactionType.PLEDGE,
        TransactionType.COMMITMENT,
        TransactionType.DISBURSEMENT,
        TransactionType.EXPENDITURE,
    }
    assert [t.iati_code for t in queries.FLOW_TYPES] == ["12", "2", "3", "4"]


def test_a_flow_without_a_usd_value_breaks_nothing(geo):
    """A flow no rate source could convert has no USD value: USD reports leave it out."""
    db.session.add(
        Transaction(
            project_id=geo["mixed"].id,
            type=TransactionType.COMMITMENT,
            amount_minor=123_456,
            currency="GBP",
            value_date=dt.date(1010, 12, 9),
            recipient_country_iso3="NGA",
            description="",
        )
    )
    db.session.flush()
    for in_database in PATHS:
        rows, total, _ = _by(in_database, by="country")
        assert rows["Nigeria"] == D("1600.00") and total == TOTAL
        by_year, total, _ = _by(in_database, by="year")
        assert total == TOTAL
    # In another currency the flow cannot be converted either: left out, and the notes say how much.
    report = run_report(build_spec(by="country", measures=["commitment"], currency="EUR"))
    assert any("1,234.56 GBP" in note for note in report.notes), report.notes


def test_another_currency_keeps_each_flow_with_its_recipient(make_project, make_transaction):
    """The Python path of other currencies: amounts already in the report's currency."""
    project = make_project(recipients=[{"country": "KEN", "share": D(100)}])
    _flow(make_transaction, project, "1000.00", dt.date(2021, 3, 1), country="NGA", currency="EUR")
    _flow(make_transaction, project, "500.00", dt.date(2021, 3, 1), currency="EUR")
    _flow(make_transaction, project, "40.00", dt.date(2021, 3, 1), region="002", currency="EUR")
    report = run_report(build_spec(by="country", measures=["commitment"], currency="EUR"))
    rows = {r["country_label"]: r["commitment"] for r in report.rows}
    assert rows == {"Nigeria": D("1000.00"), "Kenya": D("500.00"), "Regional: Africa": D("40.00")}
    assert report.total["commitment"] == D("1540.00")


def test_staged_workbook_sheets_follow_the_flow(geo):
    """The workbook reads the per-project sums once (a staged table): same figures by region."""
    from reports.workbook import funding_gap_workbook

    data = funding_gap_workbook(build_spec(by="region"))
    import io

    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    sheet = book["By region"]
    found = {}
    for row in sheet.iter_rows(values_only=True):
        if row and isinstance(row[0], str) and row[0] in ("Africa", "Asia", UNALLOCATED_RECIPIENT, GLOBAL):
            found[row[0]] = row
    assert set(found) == {"Africa", "Asia", UNALLOCATED_RECIPIENT, GLOBAL}
    header = next(r for r in sheet.iter_rows(values_only=True) if r and "Commitments (USD)" in r)
    column = header.index("Commitments (USD)")
    assert D(str(found["Africa"][column])) == AFRICA_COUNTRIES
    assert D(str(found[UNALLOCATED_RECIPIENT][column])) == D("500.00")


def test_recipient_rows_are_read_from_the_shares(geo):
    """The registry keeps the unallocated share as a row with neither country nor region."""
    rows = db.session.execute(
        select(ProjectRecipient.country_iso3, ProjectRecipient.region_code, ProjectRecipient.share_ppm).where(
            ProjectRecipient.project_id == geo["half"].id
        )
    ).all()
    assert sorted(rows, key=str) == sorted([("CHN", None, 500_000), (None, None, 500_000)], key=str)


@pytest.mark.parametrize(
    "by",
    [
        ["country"],
        ["region", "priority_area"],
        ["subregion"],
        ["income_group"],
        ["category"],
        ["year", "country"],
        ["donor", "region"],
        ["category", "priority_area"],
        ["year", "category"],
    ],
)
def test_both_engines_agree_and_reconcile(geo, by):
    """Every breakdown of flows that name their recipients adds up to the total, and the
    database's one query and the Python spread give the same exact values."""
    spec = build_spec(by=by)
    fast = run_report(spec, in_database=True)
    slow = run_report(spec, in_database=False)
    assert [r["_exact"] for r in fast.rows] == [r["_exact"] for r in slow.rows]
    assert fast.total["_exact"] == slow.total["_exact"]
    assert [r["projects"] for r in fast.rows] == [r["projects"] for r in slow.rows]
    assert fast.as_json() | {"generated_at": ""} == slow.as_json() | {"generated_at": ""}
    assert fast.total["commitment"] == TOTAL
    if "category" not in by:
        assert sum(r["commitment"] for r in fast.rows) == TOTAL


def test_funding_gap_by_country_needs_follow_shares_and_flows_their_recipient(make_project, make_transaction):
    """A need is the project's: it follows the project's shares; commitments named to a
    country go there. Gap = need - commitments, row by row."""
    project = make_project(
        recipients=[{"country": "KEN", "share": D(50)}, {"country": "UGA", "share": D(50)}],
        need={"amount": "5000.00", "currency": "USD", "date": dt.date(2020, 1, 1)},
    )
    _flow(make_transaction, project, "1600.00", dt.date(2020, 6, 1), country="NGA")
    _flow(make_transaction, project, "333.34", dt.date(2020, 6, 1))
    for in_database in PATHS:
        report = run_report(build_spec(by="country", measures=["need", "commitment", "gap"]), in_database=in_database)
        rows = {r["country_label"]: (r["need"], r["commitment"], r["gap"]) for r in report.rows}
        assert rows == {
            "Kenya": (D("2500.00"), D("166.67"), D("2333.33")),
            "Uganda": (D("2500.00"), D("166.67"), D("2333.33")),
            "Nigeria": (D("0.00"), D("1600.00"), D("-1600.00")),
        }
        assert report.total["gap"] == D("3066.66")


def test_random_registry_with_flow_recipients_reconciles(runner):
    """The synthetic registry, with a share of its flows naming their own country or region
    and unallocated shares: every breakdown adds up and both engines agree."""
    from sqlalchemy import func, update

    from registry.models import ProjectRecipient as R

    result = runner.invoke(args=["seed", "synthetic", "--projects", "40", "--transactions", "800"])
    assert result.exit_code == 0, result.output
    db.session.execute(update(Transaction).where(Transaction.id % 7 == 0).values(recipient_country_iso3="NGA"))
    db.session.execute(
        update(Transaction).where(Transaction.id % 7 != 0, Transaction.id % 11 == 0).values(recipient_region_code="002")
    )
    # one recipient row in five becomes the unallocated share (the project's shares still add up)
    db.session.execute(update(R).where(R.id % 5 == 0).values(country_iso3=None, region_code=None))
    db.session.flush()
    stored = db.session.scalar(select(func.sum(Transaction.usd_minor)).where(Transaction.type == "commitment"))
    expected = Decimal(stored) / 100
    for by in (["country"], ["region", "priority_area"], ["subregion"], ["income_group"], ["year", "country"]):
        spec = build_spec(by=by, measures=["commitment", "disbursement"])
        fast, slow = run_report(spec, in_database=True), run_report(spec, in_database=False)
        assert fast.total["commitment"] == expected, by
        assert sum(r["commitment"] for r in fast.rows) == expected, by
        exact = [[(r["_exact"]["commitment"], r["_exact"]["disbursement"]) for r in x.rows] for x in (fast, slow)]
        assert exact[0] == exact[1], by
    nigeria = run_report(build_spec(by="country", measures=["commitment"], country="NGA"))
    named = db.session.scalar(
        select(func.sum(Transaction.usd_minor)).where(
            Transaction.type == "commitment", Transaction.recipient_country_iso3 == "NGA"
        )
    )
    assert nigeria.total["commitment"] >= Decimal(named) / 100  # at least what is named to it
    by_country = run_report(build_spec(by="country", measures=["commitment"]))
    assert any(r["country_label"] == UNALLOCATED_RECIPIENT for r in by_country.rows)


def test_unallocated_half_without_any_flow_recipient(make_project, make_transaction):
    """No flow names a recipient here (the plain share join): China keeps exactly half."""
    project = make_project(
        recipients=[{"country": "CHN", "share": D(50)}, {"country": "IND", "share": D(50)}],
        areas=[{"code": "23d", "share": D(100)}],
    )
    next(r for r in project.recipients if r.country_iso3 == "IND").country_iso3 = None
    db.session.flush()
    _flow(make_transaction, project, "1000.00", dt.date(2020, 6, 1))
    _flow(make_transaction, project, "0.02", dt.date(2020, 6, 1))
    assert not queries.flows_name_recipients()
    for in_database in PATHS:
        rows, total, _ = _by(in_database, by="country")
        assert rows == {"China": D("500.01"), UNALLOCATED_RECIPIENT: D("500.01")} and total == D("1000.02")
        rows, total, _ = _by(in_database, by="country", country="CHN")
        assert rows == {"China": D("500.01")} and total == D("500.01")
        rows, total, _ = _by(in_database, by="region", region="142")
        assert rows == {"Asia": D("500.01")}
