"""Reading IATI activity XML: versions, mapping rules, percentages, security refusals."""

# ruff: noqa: E501  (inline XML and CSV fixtures read best on one line each)

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest

from importers.iati import IatiFileError, IatiReader, UnsafeXMLError, read_iati
from tests.importers.iati_xml import activity, document


def read(data: bytes, **options):
    reader = read_iati(io.BytesIO(data), filename="test.xml", **options)
    records = list(reader)
    return records, reader


def codes(reader) -> set[str]:
    return {p.code for p in reader.problems}


@pytest.mark.parametrize("version", ["2.01", "2.02", "2.03"])
def test_versions_2_01_to_2_03_are_read(version):
    records, reader = read(document(activity(), version=version))
    assert len(records) == 1 and reader.version == version
    record = records[0]
    assert record.iati_identifier == "XM-TEST-1-P1" and record.reference == "XM-TEST-1-P1"
    assert record.org == "XM-TEST-1" and record.org_name == "Test donor"
    assert record.title == "Rural connectivity for district schools"
    assert record.status == "active"
    assert record.planned_start == dt.date(2020, 1, 1) and record.planned_end == dt.date(2022, 12, 31)
    assert [(r.country, r.share) for r in record.recipients] == [("KEN", Decimal(100))]
    assert record.sectors == ["22020"]
    tx = record.transactions[0]
    assert (tx.type, tx.amount, tx.currency, tx.value_date) == (
        "commitment",
        Decimal("1000.00"),
        "USD",
        dt.date(2020, 2, 1),
    )
    assert (tx.flow_type, tx.finance_type, tx.aid_type) == ("10", "110", "C01")
    assert {p["role"] for p in record.participating_orgs} == {"1", "4"}


def test_version_1_is_refused():
    with pytest.raises(IatiFileError, match="1.05 is not supported"):
        read(document(activity(), version="1.05"))


def test_english_narrative_first_else_the_first():
    title = '<narrative xml:lang="fr">Connectivité</narrative><narrative xml:lang="en">Connectivity</narrative>'
    records, _ = read(document(activity(title=title)))
    assert records[0].title == "Connectivity"
    title = '<narrative xml:lang="fi">Yhteydet</narrative><narrative xml:lang="sv">Anslutning</narrative>'
    records, _ = read(document(activity(title=title).replace('xml:lang="en"', 'xml:lang="fi"')))
    assert records[0].title == "Yhteydet"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("1", "pipeline"),
        ("2", "active"),
        ("3", "completed"),
        ("4", "completed"),
        ("5", "cancelled"),
        ("6", "suspended"),
    ],
)
def test_activity_status_maps(code, status):
    records, _ = read(document(activity(status=code)))
    assert records[0].status == status


def test_activity_dates_by_type_and_reversed_end_dropped():
    dates = (
        '<activity-date type="1" iso-date="2021-01-01"/><activity-date type="2" iso-date="2021-02-01"/>'
        '<activity-date type="3" iso-date="2020-12-31"/><activity-date type="4" iso-date="2023-06-30"/>'
    )
    records, reader = read(document(activity(dates=dates)))
    r = records[0]
    assert (r.planned_start, r.actual_start, r.actual_end) == (
        dt.date(2021, 1, 1),
        dt.date(2021, 2, 1),
        dt.date(2023, 6, 30),
    )
    assert r.planned_end is None and "dates_reversed" in codes(reader)


@pytest.mark.parametrize("value", ["1E+27", "100000000000000", "-2E+15"])
def test_a_value_too_large_is_an_error_at_its_element(value):
    tx = f'<transaction><transaction-type code="2"/><transaction-date iso-date="2020-02-01"/><value>{value}</value></transaction>'
    records, reader = read(document(activity(transactions=tx)))
    [problem] = [p for p in reader.problems if p.code == "bad_value"]
    assert problem.severity == "error" and "too large" in problem.message and problem.value == value
    assert problem.location.column.endswith("transaction[1]/value")
    assert records[0].transactions == []


def test_transaction_types_value_dates_and_currency_defaults():
    tx = (
        '<transaction><transaction-type code="1"/><transaction-date iso-date="2020-01-05"/><value>10</value></transaction>'
        '<transaction><transaction-type code="3"/><transaction-date iso-date="2020-03-01"/>'
        '<value currency="EUR" value-date="2020-02-28">20.5</value>'
        '<provider-org ref="XM-OTHER"><narrative>Other</narrative></provider-org>'
        '<flow-type code="20"/><finance-type code="421"/><aid-type code="B01"/></transaction>'
        '<transaction><transaction-type code="4"/><transaction-date iso-date="2020-04-01"/><value>30</value></transaction>'
        '<transaction><transaction-type code="11"/><transaction-date iso-date="2020-05-01"/><value>40</value></transaction>'
        '<transaction><transaction-type code="12"/><transaction-date iso-date="2020-06-01"/><value>50</value></transaction>'
        '<transaction><transaction-type code="5"/><transaction-date iso-date="2020-07-01"/><value>60</value></transaction>'
    )
    records, reader = read(document(activity(transactions=tx, currency="GBP")))
    got = [(t.type, t.amount, t.currency, t.value_date) for t in records[0].transactions]
    # IATI 2.03: 11 is an incoming commitment, 12 the outgoing pledge, 5 an interest payment.
    assert got == [
        ("incoming_funds", Decimal(10), "GBP", dt.date(2020, 1, 5)),
        ("disbursement", Decimal("20.5"), "EUR", dt.date(2020, 2, 28)),
        ("expenditure", Decimal(30), "GBP", dt.date(2020, 4, 1)),
        ("incoming_commitment", Decimal(40), "GBP", dt.date(2020, 5, 1)),
        ("pledge", Decimal(50), "GBP", dt.date(2020, 6, 1)),
        ("interest_payment", Decimal(60), "GBP", dt.date(2020, 7, 1)),
    ]
    second = records[0].transactions[1]
    assert (second.provider_org, second.flow_type, second.finance_type, second.aid_type) == (
        "XM-OTHER",
        "20",
        "421",
        "B01",
    )
    assert not reader.problems


def test_a_transaction_without_currency_is_an_error():
    tx = '<transaction><transaction-type code="2"/><transaction-date iso-date="2020-01-05"/><value>10</value></transaction>'
    _, reader = read(document(activity(transactions=tx).replace('default-currency="USD"', "")))
    assert [p.code for p in reader.problems if p.severity == "error"] == ["currency"]


def test_recipient_percentages_on_the_activity():
    recipients = '<recipient-country code="KE" percentage="60"/><recipient-country code="UG" percentage="40"/>'
    records, reader = read(document(activity(recipients=recipients)))
    assert [(r.country, r.share) for r in records[0].recipients] == [("KEN", 60), ("UGA", 40)]
    assert not reader.problems


def test_missing_percentages_split_equally_with_a_warning():
    recipients = '<recipient-country code="KE"/><recipient-country code="UG"/><recipient-country code="TZ"/>'
    records, reader = read(document(activity(recipients=recipients)))
    # Equal shares, equal to the last decimal: each gets a third of the money exactly.
    assert [r.share for r in records[0].recipients] == [Decimal("33.3333")] * 3
    warning = next(p for p in reader.problems if p.code == "equal_split")
    assert warning.severity == "warning" and warning.location.row is not None


def test_partial_percentages_share_the_rest_and_bad_totals_are_rescaled():
    recipients = (
        '<recipient-country code="KE" percentage="50"/><recipient-country code="UG"/><recipient-country code="TZ"/>'
    )
    records, reader = read(document(activity(recipients=recipients)))
    assert [r.share for r in records[0].recipients] == [50, 25, 25]
    assert "partial_percentages" in codes(reader)
    recipients = '<recipient-country code="KE" percentage="30"/><recipient-country code="UG" percentage="30"/>'
    records, reader = read(document(activity(recipients=recipients)))
    assert [r.share for r in records[0].recipients] == [50, 50]  # alike: equal shares
    assert "percentages_rescaled" in codes(reader)
    recipients = '<recipient-country code="KE" percentage="100"/><recipient-country code="UG" percentage="20"/>'
    records, reader = read(document(activity(recipients=recipients)))
    # 100 + 20 kept as given (scaled to 100 they would be 83.3333 + 16.6667, a few cents off):
    # each recipient's part is its share of their sum, five sixths and one sixth exactly.
    assert [r.share for r in records[0].recipients] == [100, 20]
    assert "recipients" in records[0].relative


def test_regions_map_from_dac_and_m49_vocabularies():
    recipients = (
        '<recipient-region code="289" vocabulary="1" percentage="50"/>'
        '<recipient-region code="142" vocabulary="2" percentage="50"/>'
    )
    records, _ = read(document(activity(recipients=recipients)))
    assert [(r.region, r.share) for r in records[0].recipients] == [("202", 50), ("142", 50)]


def test_recipients_on_transactions_stay_on_each_flow():
    tx = "".join(
        f'<transaction><transaction-type code="{t}"/><transaction-date iso-date="2020-01-05"/>'
        f'<value value-date="2020-01-05">{v}</value><recipient-country code="{c}"/></transaction>'
        for t, v, c in (("2", 300, "KE"), ("2", 100, "UG"), ("3", 999, "TZ"))
    )
    records, reader = read(document(activity(recipients="", transactions=tx)))
    flows = [(t.type, t.amount, t.recipient_country) for t in records[0].transactions]
    assert flows == [("commitment", 300, "KEN"), ("commitment", 100, "UGA"), ("disbursement", 999, "TZA")]
    # The project lists every recipient; its shares follow each one's commitments (Tanzania has
    # none: its disbursement), in USD, and split only the need: 300, 100 and 999 of 1399.
    shares = {r.country: r.share for r in records[0].recipients}
    assert shares == {"KEN": Decimal("21.4439"), "UGA": Decimal("7.1480"), "TZA": Decimal("71.4081")}
    assert "shares_from_transactions" in codes(reader)


def test_sectors_kept_and_areas_inferred_and_flagged():
    sectors = '<sector vocabulary="1" code="22040" percentage="50"/><sector code="11330" percentage="50"/>'
    records, _ = read(document(activity(sectors=sectors, title="<narrative>Digital skills</narrative>")))
    r = records[0]
    assert r.sectors == ["22040", "11330"]
    assert r.sector_shares == {"22040": 50, "11330": 50}
    assert all(a.inferred for a in r.areas) and sum(a.share for a in r.areas) == 100
    assert {a.code for a in r.areas} >= {"23a", "23d", "23f"}


def test_sectors_on_transactions_count():
    tx = (
        '<transaction><transaction-type code="2"/><transaction-date iso-date="2020-01-05"/><value>5</value>'
        '<sector vocabulary="1" code="22030"/></transaction>'
    )
    records, _ = read(document(activity(sectors="", transactions=tx)))
    assert records[0].sectors == ["22030"]


def test_stated_areas_of_our_vocabulary_are_taken_as_stated():
    sectors = (
        '<sector vocabulary="1" code="22020" percentage="100"/>'
        '<sector vocabulary="99" code="23c" percentage="70"><narrative>Regional backbones</narrative></sector>'
        '<sector vocabulary="99" code="23d" percentage="30"><narrative>Broadband capacity [inferred]</narrative></sector>'
    )
    records, _ = read(document(activity(sectors=sectors)))
    assert [(a.code, a.share, a.inferred) for a in records[0].areas] == [
        ("23c", 70, False),
        ("23d", 30, True),
    ]


def test_ict_sector_filter_keeps_only_220xx():
    doc = document(
        activity("A-1", sectors='<sector code="22040"/>'),
        activity("A-2", sectors='<sector code="12191"/>'),
        activity("A-3", sectors='<sector vocabulary="2" code="220"/>'),
    )
    records, reader = read(doc, sector_filter="ict")
    assert [r.iati_identifier for r in records] == ["A-1", "A-3"]
    assert reader.counts["filtered_out"] == 1
    records, _ = read(doc, sector_filter="all")
    assert len(records) == 3


def test_budgets_make_the_need_revised_replacing_original():
    budgets = (
        '<budget type="1" status="1"><period-start iso-date="2020-01-01"/><period-end iso-date="2020-12-31"/>'
        '<value currency="USD" value-date="2020-01-01">100</value></budget>'
        '<budget type="2" status="1"><period-start iso-date="2020-01-01"/><period-end iso-date="2020-12-31"/>'
        '<value currency="USD" value-date="2020-06-01">150</value></budget>'
        '<budget type="1" status="1"><period-start iso-date="2021-01-01"/><period-end iso-date="2021-12-31"/>'
        '<value value-date="2021-01-01">200</value></budget>'
    )
    records, _ = read(document(activity(budgets=budgets)))
    assert (records[0].need_amount, records[0].need_currency) == (Decimal("350.00"), "USD")


def test_the_iati_identifier_is_the_reference_and_other_identifiers_are_aliases():
    extra = '<other-identifier ref="P-0007" type="A1"/><other-identifier ref="GB-GOV-3" type="B1"/>'
    records, _ = read(document(activity(extra=extra)))
    assert records[0].reference == "XM-TEST-1-P1" and records[0].iati_identifier == "XM-TEST-1-P1"
    assert records[0].other_identifiers == ["A1:P-0007", "B1:GB-GOV-3"]


XXE = '<!DOCTYPE iati-activities [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n'
)


@pytest.mark.parametrize(
    "prolog",
    [
        XXE,
        LAUGHS,
        '<!DOCTYPE iati-activities SYSTEM "http://example.invalid/iati.dtd">\n',
        "<!DOCTYPE iati-activities>\n",
    ],
)
def test_any_doctype_is_refused_before_any_record(prolog):
    body = activity(title="<narrative>&xxe; &lol3;</narrative>") if "ENTITY" in prolog else activity()
    with pytest.raises(UnsafeXMLError, match="DOCTYPE"):
        read(document(body, prolog=prolog))


def test_broken_xml_is_a_clear_error():
    with pytest.raises(IatiFileError, match="not well-formed"):
        read(document(activity())[:-30])
    with pytest.raises(IatiFileError, match="not IATI activity XML"):
        read(b"<?xml version='1.0'?><something/>")


def test_many_activities_stream_in_file_order():
    doc = document(*(activity(f"A-{i}") for i in range(50)))
    reader = read_iati(io.BytesIO(doc))
    for i, record in enumerate(reader):
        assert record.iati_identifier == f"A-{i}"
    assert reader.counts["kept"] == 50


def test_a_file_that_is_not_xml_is_called_so_not_a_doctype_refusal():
    """A JSON body saved as .xml (a real d-portal download) is not well-formed XML: the message
    says so, rather than blaming a DOCTYPE the file does not have."""
    with pytest.raises(IatiFileError, match="not well-formed XML"):
        list(IatiReader(io.BytesIO(b'{"result":[],"duration":3.357}'), filename="dportal_140.xml"))
