"""IATI as IATI means it: recipients, transaction types, identifiers, dates, budgets.

Each case is a small activity built here; the expected figures are worked out by hand from
the standard's rules (written in the test), not from the importer's code."""

# ruff: noqa: E501  (inline XML fixtures read best on one line each)

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import func, select

from importers.iati import read_iati
from importers.interop import import_iati
from registry.extensions import db
from registry.models import Project, ProjectRecipient, Transaction
from registry.models.types import Role, TransactionType
from registry.services.actor import Actor
from tests.importers.iati_codes import LETTER_CODES, TRANSACTION_TYPES, active_codelist
from tests.importers.iati_xml import activity, document

ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)
MILLION = 1_000_000  # share_ppm of 100 %


def read(data: bytes):
    reader = read_iati(io.BytesIO(data), filename="test.xml")
    return list(reader), reader


def tx(code: str, value: str, day: str = "2020-02-01", currency: str = "USD", inside: str = "") -> str:
    return (
        f'<transaction><transaction-type code="{code}"/><transaction-date iso-date="{day}"/>'
        f'<value currency="{currency}" value-date="{day}">{value}</value>{inside}</transaction>'
    )


def imported(tmp_path: Path, data: bytes):
    path = tmp_path / "act.xml"
    path.write_bytes(data)
    result = import_iati(path, ADMIN)
    problems = [p for b in result.batches for p in b.problems] or [p.as_dict() for p in result.problems]
    return result, problems


def stored_recipients(iati_identifier: str) -> list[tuple]:
    project = db.session.scalar(select(Project).where(Project.iati_identifier == iati_identifier))
    return sorted((r.country_iso3 or "", r.region_code or "", r.share_ppm) for r in project.recipients)


def proportions(shares: list) -> list[Fraction]:
    """Each share divided by their sum: the part of the money the registry gives it."""
    total = sum(Fraction(str(s)) for s in shares)
    return [Fraction(str(s)) / total for s in shares]


def warnings(problems: list[dict], code: str) -> list[dict]:
    return [p for p in problems if p["code"] == code and p["severity"] == "warning"]


# -- recipients --------------------------------------------------------------


def test_each_transaction_keeps_its_own_recipient_to_the_cent(app, tmp_path):
    """Nigeria and Ghana given on the transactions: each gets exactly its own flows, not a
    spread of the activity's money by shares."""
    flows = (
        tx("2", "1234567.89", inside='<recipient-country code="NG"/>'),
        tx("2", "765432.11", inside='<recipient-country code="NG"/>'),
        tx("3", "100000.01", "2020-06-01", inside='<recipient-country code="NG"/>'),
        tx("2", "3000000.50", inside='<recipient-country code="GH"/>'),
        tx("3", "999.99", "2020-06-01", inside='<recipient-country code="GH"/>'),
    )
    result, problems = imported(tmp_path, document(activity(recipients="", transactions="".join(flows))))
    assert result.ok, [p for p in problems if p["severity"] == "error"]
    rows = db.session.execute(
        select(Transaction.recipient_country_iso3, Transaction.type, func.sum(Transaction.amount_minor)).group_by(
            Transaction.recipient_country_iso3, Transaction.type
        )
    ).all()
    got = {(country, kind.value): minor for country, kind, minor in rows}
    # By hand, in cents: Nigeria 1,234,567.89 + 765,432.11 = 2,000,000.00 committed, 100,000.01
    # disbursed; Ghana 3,000,000.50 committed and 999.99 disbursed.
    assert got == {
        ("NGA", "commitment"): 200_000_000,
        ("NGA", "disbursement"): 10_000_001,
        ("GHA", "commitment"): 300_000_050,
        ("GHA", "disbursement"): 99_999,
    }
    # The project lists both (for display and search); every flow has its own recipient.
    assert {c for c, _, _ in stored_recipients("XM-TEST-1-P1")} == {"NGA", "GHA"}
    assert db.session.scalar(select(func.count()).where(Transaction.recipient_country_iso3.is_(None))) == 0


def test_a_flow_whose_own_recipient_is_unknown_stays_unallocated(app, tmp_path):
    flows = (
        tx("2", "500.00", inside='<recipient-country code="KE"/>'),
        tx("2", "250.00", inside='<recipient-country code="QQ"/>'),
    )
    result, problems = imported(tmp_path, document(activity(recipients="", transactions="".join(flows))))
    assert result.ok, [p for p in problems if p["severity"] == "error"]
    # Kenya keeps its 500.00; the 250.00 of QQ goes to no country: the project's own list (which
    # the flows without a recipient of their own follow) is one unallocated share.
    kept = db.session.execute(select(Transaction.recipient_country_iso3, Transaction.amount_minor)).all()
    assert sorted(kept, key=str) == sorted([("KEN", 50_000), (None, 25_000)], key=str)
    assert stored_recipients("XM-TEST-1-P1") == [("", "", MILLION)]
    [warning] = warnings(problems, "unknown_recipient")
    assert "QQ" in warning["message"] and "250.00 USD" in warning["message"]
    assert "stays unallocated" in warning["message"]


def test_region_998_beside_china_keeps_its_half_unallocated(app, tmp_path):
    recipients = (
        '<recipient-country code="CN" percentage="50"/><recipient-region code="998" vocabulary="1" percentage="50"/>'
    )
    data = document(activity(recipients=recipients, transactions=tx("2", "1000.00")))
    result, problems = imported(tmp_path, data)
    assert result.ok, [p for p in problems if p["severity"] == "error"]
    # China keeps 50 % (not 100 %); the other 50 % is the unallocated row.
    assert stored_recipients("XM-TEST-1-P1") == [("", "", MILLION // 2), ("CHN", "", MILLION // 2)]
    [warning] = warnings(problems, "unallocated_recipient")
    assert "998" in warning["message"] and "50 %" in warning["message"]
    assert "500.00 USD" in warning["message"]  # half of the 1,000.00 committed


def test_region_289_beside_china_keeps_its_half(app, tmp_path):
    recipients = (
        '<recipient-country code="CN" percentage="50"/><recipient-region code="289" vocabulary="1" percentage="50"/>'
    )
    result, problems = imported(tmp_path, document(activity(recipients=recipients)))
    assert result.ok, [p for p in problems if p["severity"] == "error"]
    # DAC 289 "South of Sahara, regional" is M49 202 (Sub-Saharan Africa).
    assert stored_recipients("XM-TEST-1-P1") == [("", "202", MILLION // 2), ("CHN", "", MILLION // 2)]


@pytest.mark.parametrize(
    ("element", "named"),
    [
        ('<recipient-country code="" percentage="30"/>', "no code"),
        ('<recipient-country code="QQ" percentage="30"/>', "QQ"),
        ('<recipient-region code="77777" vocabulary="1" percentage="30"/>', "77777"),
        ('<recipient-region code="5" vocabulary="99" percentage="30"/>', "vocabulary 99"),
    ],
    ids=["empty", "unknown-country", "unknown-dac-region", "other-vocabulary"],
)
def test_an_empty_or_unknown_code_keeps_its_share_unallocated(app, tmp_path, element, named):
    recipients = '<recipient-country code="KE" percentage="70"/>' + element
    data = document(activity(recipients=recipients, transactions=tx("2", "2000.00")))
    result, problems = imported(tmp_path, data)
    assert result.ok, [p for p in problems if p["severity"] == "error"]
    # Kenya keeps 70 %, never scaled up to 100 %.
    assert stored_recipients("XM-TEST-1-P1") == [("", "", 300_000), ("KEN", "", 700_000)]
    [warning] = warnings(problems, "unallocated_recipient")
    assert named in warning["message"] and "30 %" in warning["message"]
    assert "600.00 USD" in warning["message"]  # 30 % of 2,000.00


@pytest.mark.parametrize(
    ("percentages", "total", "expected"),
    [
        # 80: 40/80 = 50 %, 40/80 = 50 %
        ((40, 40), "80", [("KEN", Fraction(1, 2)), ("UGA", Fraction(1, 2))]),
        # 120: 90/120 = 75 %, 30/120 = 25 %
        ((90, 30), "120", [("KEN", Fraction(3, 4)), ("UGA", Fraction(1, 4))]),
    ],
)
def test_percentages_off_100_are_divided_by_their_sum(percentages, total, expected, app, tmp_path):
    ke, ug = percentages
    recipients = f'<recipient-country code="KE" percentage="{ke}"/><recipient-country code="UG" percentage="{ug}"/>'
    result, problems = imported(tmp_path, document(activity(recipients=recipients)))
    assert result.ok
    stored = stored_recipients("XM-TEST-1-P1")
    # The percentages are kept as given; each recipient's part is its share of their sum.
    assert [c for c, _, _ in stored] == [c for c, _ in expected]
    assert proportions([ppm for _, _, ppm in stored]) == [f for _, f in expected]
    [warning] = warnings(problems, "percentages_rescaled")
    assert f"add up to {total}" in warning["message"]


def test_an_unknown_code_among_percentages_off_100_keeps_its_proportion():
    """KE 40 + unknown 40 = 80: each divided by 80, the unknown half stays unallocated."""
    recipients = '<recipient-country code="KE" percentage="40"/><recipient-country code="QQ" percentage="40"/>'
    records, reader = read(document(activity(recipients=recipients, transactions=tx("2", "1000.00"))))
    assert [(r.country, r.region) for r in records[0].recipients] == [("KEN", None), (None, None)]
    assert proportions([r.share for r in records[0].recipients]) == [Fraction(1, 2), Fraction(1, 2)]
    assert "percentages_rescaled" in {p.code for p in reader.problems}
    [warning] = [p for p in reader.problems if p.code == "unallocated_recipient"]
    # 40 of 80 is half of the activity: 500.00 of the 1,000.00 committed.
    assert "40 % (50 % of the activity)" in warning.message and "500.00 USD" in warning.message


def test_an_unknown_code_without_percentage_keeps_what_is_left():
    recipients = '<recipient-country code="KE" percentage="60"/><recipient-country code="QQ"/>'
    records, reader = read(document(activity(recipients=recipients, transactions=tx("2", "1000.00"))))
    assert [(r.country, r.share) for r in records[0].recipients] == [("KEN", 60), (None, 40)]
    [warning] = [p for p in reader.problems if p.code == "unallocated_recipient"]
    assert "its share (40 % of the activity)" in warning.message and "400.00 USD" in warning.message


def test_kosovo_is_a_recipient(app, tmp_path):
    recipients = '<recipient-country code="XK" percentage="100"/>'
    result, problems = imported(tmp_path, document(activity(recipients=recipients)))
    assert result.ok, [p for p in problems if p["severity"] == "error"]
    assert stored_recipients("XM-TEST-1-P1") == [("XKX", "", MILLION)]


# -- transaction types -------------------------------------------------------


@pytest.mark.fixtures  # a skip fails when the shared fixtures are present
def test_the_transaction_types_written_in_the_tests_are_the_codelists():
    names = active_codelist("TransactionType")
    assert names["12"] == "Outgoing Pledge"
    words = {code: name.lower().removeprefix("outgoing ").replace(" ", "_") for code, name in names.items()}
    assert words == TRANSACTION_TYPES


def test_all_13_types_and_the_1x_letters_are_stored_as_what_they_are(app, tmp_path):
    codes = list(TRANSACTION_TYPES) + list(LETTER_CODES)
    flows = "".join(tx(code, f"{i + 1}.00") for i, code in enumerate(codes))
    result, problems = imported(tmp_path, document(activity(transactions=flows)))
    assert result.ok, [p for p in problems if p["severity"] == "error"]
    assert not warnings(problems, "transaction_type")
    stored = {t.amount_minor: t.type for t in db.session.scalars(select(Transaction))}
    expected = {**TRANSACTION_TYPES, **LETTER_CODES}
    assert {minor: kind.value for minor, kind in stored.items()} == {
        (i + 1) * 100: expected[code] for i, code in enumerate(codes)
    }
    # Each stored type gives back its own 2.03 code.
    assert {kind.iati_code for kind in stored.values()} == set(TRANSACTION_TYPES)


def test_type_11_is_an_incoming_commitment_and_12_the_pledge():
    records, reader = read(document(activity(transactions=tx("11", "40") + tx("12", "50"))))
    assert [(t.type, t.amount) for t in records[0].transactions] == [
        (TransactionType.INCOMING_COMMITMENT.value, 40),
        (TransactionType.PLEDGE.value, 50),
    ]
    assert not reader.problems


def test_an_unknown_type_is_left_out_with_a_warning_naming_its_money():
    records, reader = read(document(activity(transactions=tx("2", "10") + tx("99", "1234.56", currency="EUR"))))
    assert [t.amount for t in records[0].transactions] == [10]
    [warning] = [p for p in reader.problems if p.code == "transaction_type"]
    assert warning.severity == "warning" and warning.value == "99"
    assert "99" in warning.message and "1234.56 EUR" in warning.message and "left out" in warning.message


# -- identifiers -------------------------------------------------------------


def test_a_reused_other_identifier_never_merges_activities(app, tmp_path):
    shared = '<other-identifier ref="Z11/20/01/02000" type="A1"/>'
    data = document(
        *(activity(f"XM-TEST-1-{n}", extra=shared + f'<other-identifier ref="OLD-{n}" type="B1"/>') for n in (1, 2, 3))
    )
    result, problems = imported(tmp_path, data)
    assert result.ok, [p for p in problems if p["severity"] == "error"]
    stored = db.session.scalars(select(Project).order_by(Project.reference)).all()
    assert [(p.reference, p.iati_identifier) for p in stored] == [
        (f"XM-TEST-1-{n}", f"XM-TEST-1-{n}") for n in (1, 2, 3)
    ]
    assert [p.other_identifiers for p in stored] == [f"A1:Z11/20/01/02000\nB1:OLD-{n}" for n in (1, 2, 3)]
    # Imported again unchanged: the same three projects, nothing doubled.
    again = tmp_path / "again.xml"
    again.write_bytes(data.replace(b"2024-01-01T00:00:00Z", b"2024-02-01T00:00:00Z"))
    result = import_iati(again, ADMIN)
    assert result.ok and sum(b.counts["projects_unchanged"] for b in result.batches) == 3
    assert db.session.scalar(select(func.count(Project.id))) == 3


def test_a_project_imported_under_its_old_reference_is_found_again(app, tmp_path, make_org, make_project):
    """Earlier imports took other-identifier A1 as the reference: the activity's IATI identifier
    finds the project, which keeps its reference and gains its aliases."""
    org = make_org(ref="XM-TEST-1", name="Test donor")
    old = make_project(org=org, reference="P-0007", iati_identifier="XM-TEST-1-P1", title="Old title")
    data = document(activity(extra='<other-identifier ref="P-0007" type="A1"/>'))
    result, problems = imported(tmp_path, data)
    assert result.ok, [p for p in problems if p["severity"] == "error"]
    assert db.session.scalar(select(func.count(Project.id))) == 1
    project = db.session.get(Project, old.id)
    assert project.reference == "P-0007" and project.title == "Rural connectivity for district schools"
    assert project.other_identifiers == "A1:P-0007"


def test_a_project_without_iati_identifier_is_found_by_its_a1_alias(app, tmp_path, make_org, make_project):
    org = make_org(ref="XM-TEST-1", name="Test donor")
    old = make_project(org=org, reference="P-0008", title="Entered by hand")
    data = document(activity("XM-TEST-1-P-0008", extra='<other-identifier ref="P-0008" type="A1"/>'))
    result, problems = imported(tmp_path, data)
    assert result.ok, [p for p in problems if p["severity"] == "error"]
    assert db.session.scalar(select(func.count(Project.id))) == 1
    project = db.session.get(Project, old.id)
    assert (project.reference, project.iati_identifier) == ("P-0008", "XM-TEST-1-P-0008")


def test_an_identifier_twice_for_one_publisher_is_an_error_naming_both():
    records, reader = read(document(activity("XM-TEST-1-P1"), activity("XM-TEST-1-P1")))
    assert len(records) == 1
    [error] = [p for p in reader.problems if p.severity == "error"]
    assert error.code == "repeated_activity" and error.value == "XM-TEST-1-P1"
    assert "twice for publisher XM-TEST-1" in error.message and "first at line" in error.message


def test_an_identifier_of_two_publishers_says_so():
    records, reader = read(document(activity("XM-SHARED-1"), activity("XM-SHARED-1", org="XM-OTHER")))
    assert len(records) == 1
    [error] = [p for p in reader.problems if p.severity == "error"]
    assert "two publishers" in error.message and "XM-TEST-1" in error.message and "XM-OTHER" in error.message


def test_no_default_currency_is_fine_with_a_currency_on_each_value():
    data = document(activity(transactions=tx("2", "10", currency="EUR") + tx("3", "5", currency="GBP")))
    records, reader = read(data.replace(b'default-currency="USD"', b""))
    assert [(t.amount, t.currency) for t in records[0].transactions] == [(10, "EUR"), (5, "GBP")]
    assert not reader.problems


# -- dates -------------------------------------------------------------------


def _dated(value_date: str, transaction_date: str) -> str:
    return (
        f'<transaction><transaction-type code="3"/><transaction-date iso-date="{transaction_date}"/>'
        f'<value currency="EUR" value-date="{value_date}">75.00</value></transaction>'
    )


def test_a_typo_date_is_kept_as_written_and_flagged():
    records, reader = read(document(activity(transactions=tx("2", "10") + _dated("1010-12-09", "1010-12-09"))))
    assert [t.value_date for t in records[0].transactions] == [dt.date(2020, 2, 1), dt.date(1010, 12, 9)]
    [warning] = [p for p in reader.problems if p.code == "implausible_date"]
    assert warning.severity == "warning" and warning.value == "1010-12-09"
    assert not [p for p in reader.problems if p.severity == "error"]


def test_a_typo_value_date_gives_way_to_a_plausible_transaction_date():
    records, reader = read(document(activity(transactions=_dated("1010-12-09", "2010-12-09"))))
    assert [t.value_date for t in records[0].transactions] == [dt.date(2010, 12, 9)]
    [warning] = [p for p in reader.problems if p.code == "implausible_date"]
    assert "2010-12-09 is used" in warning.message


def test_an_unreadable_date_falls_back_to_the_activity_then_errs_on_that_flow_only():
    records, reader = read(document(activity(transactions=tx("2", "10") + _dated("12/09/2010", "soon"))))
    # The activity's dates: planned start 2020-01-01 (no actual start).
    assert [t.value_date for t in records[0].transactions] == [dt.date(2020, 2, 1), dt.date(2020, 1, 1)]
    assert {"bad_date", "no_date"} <= {p.code for p in reader.problems}
    assert not [p for p in reader.problems if p.severity == "error"]
    records, reader = read(document(activity(transactions=tx("2", "10") + _dated("12/09/2010", ""), dates="")))
    assert [t.amount for t in records[0].transactions] == [10]  # the activity and its other flow stay
    [error] = [p for p in reader.problems if p.severity == "error"]
    assert error.code == "no_date" and error.location.column.startswith("transaction[2]")


def test_a_typo_date_never_sinks_the_activity_on_import(app, tmp_path):
    data = document(activity(transactions=tx("2", "10") + _dated("1010-12-09", "1010-12-09")))
    result, problems = imported(tmp_path, data)
    assert result.ok, [p for p in problems if p["severity"] == "error"]
    kept = db.session.execute(select(Transaction.value_date, Transaction.usd_minor)).all()
    assert sorted(kept) == [(dt.date(1010, 12, 9), None), (dt.date(2020, 2, 1), 1000)]


# -- budgets -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("budget", "dates"),
    [
        (
            '<budget type="1"><period-start iso-date="2020-01-01"/><period-end iso-date="2020-12-31"/><value currency="USD" value-date="2020-01-01">1E+15</value></budget>',
            None,
        ),
        (
            '<budget type="1"><period-start iso-date="2020-01-01"/><period-end iso-date="2020-12-31"/><value currency="EUX" value-date="2020-01-01">100</value></budget>',
            None,
        ),
        (
            '<budget type="1"><period-start iso-date="1010-01-01"/><period-end iso-date="1010-12-31"/><value currency="EUR" value-date="1010-01-01">100</value></budget>',
            '<activity-date type="1" iso-date="1010-01-01"/>',
        ),
        ('<budget type="1"><value>not a number</value></budget>', None),
    ],
    ids=["too-large", "unknown-currency", "unconvertible-date", "no-value"],
)
def test_nothing_in_a_budget_rejects_the_activity(app, tmp_path, budget, dates):
    extra = {"dates": dates} if dates else {}
    result, problems = imported(tmp_path, document(activity(budgets=budget, **extra)))
    assert result.ok, [p for p in problems if p["severity"] == "error"]
    project = db.session.scalar(select(Project).where(Project.iati_identifier == "XM-TEST-1-P1"))
    assert project.need_minor is None and len(project.transactions) == 1
    assert [p for p in problems if p["code"].startswith("budget")]


def test_unallocated_rows_reconcile_the_money_of_the_file(app, tmp_path):
    """Every cent lands: amount x share summed over the project's rows, the unallocated one
    included, gives back the activity's commitment."""
    recipients = (
        '<recipient-country code="CN" percentage="25"/><recipient-region code="998" vocabulary="1" percentage="25"/>'
        '<recipient-region code="289" vocabulary="1" percentage="25"/><recipient-country code="" percentage="25"/>'
    )
    result, _ = imported(tmp_path, document(activity(recipients=recipients, transactions=tx("2", "1000.04"))))
    assert result.ok
    total = db.session.scalar(
        select(func.sum(Transaction.amount_minor * ProjectRecipient.share_ppm)).join(
            ProjectRecipient, ProjectRecipient.project_id == Transaction.project_id
        )
    )
    assert total == 100_004 * MILLION
    assert stored_recipients("XM-TEST-1-P1") == [("", "", 500_000), ("", "202", 250_000), ("CHN", "", 250_000)]


def test_a_repeated_recipient_is_read_once_and_a_country_beside_its_region_keeps_its_proportion():
    """Kenya 100 % and "Africa, regional" 100 % listed three times over: the repetitions are
    one entry, and the two percentages (200 in all) are divided by their sum: 50 % each."""
    recipients = (
        '<recipient-country code="KE" percentage="100"/>'
        + '<recipient-region code="298" vocabulary="1" percentage="100"/>' * 3
    )
    records, reader = read(document(activity(recipients=recipients)))
    assert [(r.country, r.region) for r in records[0].recipients] == [("KEN", None), (None, "002")]
    assert proportions([r.share for r in records[0].recipients]) == [Fraction(1, 2), Fraction(1, 2)]
    problems = {p.code: p.message for p in reader.problems}
    assert "listed 3 times" in problems["repeated_recipient"]
    assert "add up to 200" in problems["percentages_rescaled"]


def test_a_transaction_with_two_recipients_keeps_the_one_the_registry_can_place():
    flows = tx("3", "10", inside='<recipient-region code="998" vocabulary="1"/><recipient-country code="DK"/>')
    records, reader = read(document(activity(recipients="", transactions=flows)))
    assert [(t.recipient_country, t.recipient_region) for t in records[0].transactions] == [("DNK", None)]
    [warning] = [p for p in reader.problems if p.code == "several_recipients"]
    assert "998, DK" in warning.message and "DK is used" in warning.message


def test_a_flow_whose_recipient_changes_is_updated_and_undone(app, tmp_path):
    from importers.pipeline import undo_batch

    first = document(activity(recipients="", transactions=tx("2", "10.00", inside='<recipient-country code="NG"/>')))
    imported(tmp_path, first)
    moved = tmp_path / "moved.xml"
    moved.write_bytes(first.replace(b'code="NG"', b'code="GH"'))
    result = import_iati(moved, ADMIN)
    assert result.ok and result.batches[0].counts["projects_updated"] == 1
    assert db.session.scalars(select(Transaction.recipient_country_iso3)).all() == ["GHA"]
    undo_batch(result.batches[0].id, ADMIN)
    assert db.session.scalars(select(Transaction.recipient_country_iso3)).all() == ["NGA"]


def test_new_aliases_alone_update_the_project_and_undo_restores_them(app, tmp_path):
    from importers.pipeline import undo_batch

    imported(tmp_path, document(activity(extra='<other-identifier ref="P-1" type="A1"/>')))
    again = tmp_path / "again.xml"
    again.write_bytes(document(activity(extra='<other-identifier ref="P-2" type="A1"/>')))
    result = import_iati(again, ADMIN)
    assert result.ok and result.batches[0].counts["projects_updated"] == 1
    assert db.session.scalar(select(Project.other_identifiers)) == "A1:P-2"
    undo_batch(result.batches[0].id, ADMIN)
    assert db.session.scalar(select(Project.other_identifiers)) == "A1:P-1"


def test_a_flow_naming_an_unknown_recipient_is_refused_where_it_is(app, tmp_path, make_org):
    """A reader that hands the pipeline a recipient the registry lacks gets an error on that
    flow (never a database error)."""
    from importers.pipeline import run_import
    from importers.records import Location, ProjectRecord, TransactionRecord

    make_org(ref="XM-TEST-1", name="Test donor")
    flow = TransactionRecord(
        type="commitment",
        amount=Decimal("5.00"),
        currency="USD",
        value_date=dt.date(2020, 1, 1),
        recipient_country="ZZZ",
        location=Location(file="x.xml", row=7, column="transaction[1]"),
    )
    record = ProjectRecord(reference="R-1", title="T", transactions=[flow])
    batch = run_import("iati", "x.xml", b"records", "XM-TEST-1", ADMIN, records=[record], problems=[])
    [error] = [p for p in batch.problems if p["severity"] == "error"]
    assert "Unknown recipient country 'ZZZ'" in error["message"] and error["row"] == 7
    assert error["value"] == "ZZZ"


def test_spreadsheets_read_the_iati_type_codes_as_iati_means_them():
    from importers.sheets import vocabulary

    words = vocabulary()["transaction_type"]
    assert {code: words[code] for code in TRANSACTION_TYPES} == TRANSACTION_TYPES
    assert {code.lower(): words[code.lower()] for code in LETTER_CODES} == {
        code.lower(): kind for code, kind in LETTER_CODES.items()
    }


def test_a_recipient_with_a_tiny_part_of_the_commitments_never_rejects_the_activity(app, tmp_path):
    flows = (
        tx("2", "90000000000.00", inside='<recipient-country code="KE"/>'),
        tx("2", "0.01", inside='<recipient-country code="UG"/>'),
    )
    result, problems = imported(tmp_path, document(activity(recipients="", transactions="".join(flows))))
    assert result.ok, [p for p in problems if p["severity"] == "error"]
    kept = db.session.execute(select(Transaction.recipient_country_iso3, Transaction.amount_minor)).all()
    assert sorted(kept) == [("KEN", 9_000_000_000_000), ("UGA", 1)]


def test_a_publisher_that_spells_its_name_two_ways_loses_no_activity(app, tmp_path):
    """Real exports name one reporting-org "World Vision UK" and "World Vision United Kingdom":
    one organisation, one batch, every activity imported (the second spelling's activities were
    once taken for an import already done, and silently dropped)."""
    first = activity("XM-TEST-1-A")
    second = activity("XM-TEST-1-B").replace(
        "<narrative>Test donor</narrative></reporting-org>",
        "<narrative>Test donor (long name)</narrative></reporting-org>",
    )
    result, problems = imported(tmp_path, document(first, second))
    assert result.ok, [p for p in problems if p["severity"] == "error"]
    assert len(result.batches) == 1
    assert sorted(db.session.scalars(select(Project.iati_identifier))) == ["XM-TEST-1-A", "XM-TEST-1-B"]


def test_a_flow_in_special_drawing_rights_lands_at_the_imf_annual_rate(app, tmp_path):
    """XDR (the IMF's SDR) is in IATI's Currency codelist and in real files (the African
    Development Bank's): kept in XDR, converted at the IMF's 2020 average, 0.717936734517021
    SDR per US dollar (imf_rates.csv, row 2020-12-31 XDR)."""
    flows = (
        '<transaction><transaction-type code="2"/><transaction-date iso-date="2020-07-22"/>'
        '<value currency="XDR" value-date="2020-07-22">26666666</value></transaction>'
    )
    result, problems = imported(tmp_path, document(activity(transactions=flows)))
    assert result.ok, [p for p in problems if p["severity"] == "error"]
    [flow] = db.session.scalars(select(Transaction)).all()
    usd = (Decimal("26666666") / Decimal("0.717936734517021")).quantize(Decimal("0.01"))
    assert (flow.currency, flow.amount, flow.usd_amount, flow.usd_rate_source) == (
        "XDR",
        Decimal("26666666.00"),
        usd,
        "imf_annual",
    )


def test_a_type_written_as_text_is_named_as_the_file_writes_it():
    """d-portal exports hold <transaction-type>1</transaction-type> (no @code): the warning said
    'Transaction type (none)', which a reader of the file, who sees a 1, cannot match."""
    data = document(
        activity(
            "XM-TEXT-1",
            transactions=tx("2", "100.00")
            + '<transaction><transaction-type>1</transaction-type><transaction-date iso-date="2020-09-30"/>'
            '<value currency="EUR" value-date="2020-09-30"></value></transaction>',
        )
    )
    records, reader = read(data)
    (problem,) = [p for p in reader.problems if p.code == "transaction_type"]
    assert "(none)" not in problem.message
    assert "no @code" in problem.message and "'1'" in problem.message, problem.message
    assert "no value" in problem.message
    assert [t.amount for t in records[0].transactions] == [Decimal("100.00")]
