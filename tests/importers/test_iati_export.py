"""IATI 2.03 export: schema validity, filters, CLI, and the round trip through the importer."""

# ruff: noqa: E501  (inline XML and CSV fixtures read best on one line each)

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from importers.iati_export import write_iati
from importers.interop import import_iati
from registry.extensions import db
from registry.models import Country, Project, ProjectRecipient
from registry.models.types import Role
from registry.services.actor import Actor
from registry.services.organisations import remove_organisation
from tests.importers.iati_codes import TRANSACTION_TYPES

SCHEMA = next(
    (
        p / "shared" / "fixtures" / "iati-schema-2.03" / "iati-activities-schema.xsd"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "fixtures" / "iati-schema-2.03" / "iati-activities-schema.xsd").is_file()
    ),
    None,
)
ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)


@pytest.fixture(scope="module")
def schema():
    if SCHEMA is None:
        pytest.skip("IATI 2.03 schema fixture absent")
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


@pytest.fixture
def projects(make_org, make_project, make_transaction):
    donor = make_org(ref="DONOR-A", name="Donor A", iati_ref="XM-DAC-99-A")
    other = make_org(ref="DONOR-B", name="Donor B", kind="multilateral")
    p1 = make_project(
        org=donor,
        reference="P-0001",
        iati_identifier="XM-DAC-99-A-P-0001",
        title="Regional backbone for East Africa",
        description="Fibre links & an IXP <Nairobi>",
        recipients=[
            {"country": "KEN", "share": Decimal("33.3333")},
            {"country": "UGA", "share": Decimal("33.3333")},
            {"region": "014", "share": Decimal("33.3334")},
        ],
        areas=[
            {"code": "23c", "share": Decimal(60)},
            {"code": "23d", "share": Decimal("25.5"), "inferred": True},
            {"code": "23a", "share": Decimal("14.5")},
        ],
        sectors=["22020", "22040"],
        wsis_action_lines=["C11", "C2", "C4"],
        planned_start=dt.date(2020, 1, 1),
        planned_end=dt.date(2023, 12, 31),
        actual_start=dt.date(2020, 3, 1),
        need={"amount": "2500000.00", "currency": "EUR"},
    )
    make_transaction(
        p1,
        type="commitment",
        amount=Decimal("1000000.00"),
        currency="EUR",
        value_date=dt.date(2020, 2, 1),
    )
    make_transaction(
        p1,
        type="disbursement",
        amount=Decimal("333333.33"),
        currency="EUR",
        value_date=dt.date(2020, 6, 30),
        flow_type="10",
        finance_type="110",
        aid_type="C01",
        description="First tranche",
    )
    make_transaction(
        p1,
        type="pledge",
        amount=Decimal("5000000"),
        currency="JPY",
        value_date=dt.date(2019, 12, 1),
    )
    p2 = make_project(
        org=other,
        reference="B-7",
        title="Telecentres",
        status="pipeline",
        recipients=[{"country": "NPL", "share": Decimal(100)}],
        areas=[{"code": "23l", "share": Decimal(100)}],
        planned_start=dt.date(2024, 1, 1),
    )
    make_transaction(
        p2,
        type="expenditure",
        amount=Decimal("12.34"),
        currency="USD",
        value_date=dt.date(2024, 2, 1),
    )
    make_transaction(
        p2,
        type="incoming_funds",
        amount=Decimal("99.99"),
        currency="USD",
        value_date=dt.date(2024, 1, 15),
    )
    db.session.flush()
    return [p1, p2]


@pytest.mark.fixtures
def test_export_validates_against_the_iati_203_schema(client, projects, schema):
    response = client.get("/api/v1/projects.iati.xml")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    doc = etree.fromstring(response.data)
    schema.assertValid(doc)
    assert doc.get("version") == "2.03"
    acts = doc.findall("iati-activity")
    assert len(acts) == 2
    first = acts[0]
    assert first.findtext("iati-identifier") == "XM-DAC-99-A-P-0001"
    areas = first.findall("sector[@vocabulary='99']")
    assert [(a.get("code"), a.get("percentage")) for a in areas] == [
        ("23a", "14.5"),
        ("23c", "60"),
        ("23d", "25.5"),
    ]
    assert all(a.get("vocabulary-uri", "").startswith("https://") for a in areas)
    assert [c.get("code") for c in first.findall("recipient-country")] == ["KE", "UG"]
    assert first.find("recipient-region").get("vocabulary") == "2"
    # A project without an IATI identifier gets its organisation's reference as prefix.
    assert acts[1].findtext("iati-identifier") == "DONOR-B-B-7"


def test_export_filters_like_the_project_list(client, projects):
    def ids(query: str) -> list[str]:
        response = client.get(f"/api/v1/projects.iati.xml?{query}")
        assert response.status_code == 200, response.json
        return [a.findtext("iati-identifier") for a in etree.fromstring(response.data).findall("iati-activity")]

    assert ids("country=NPL") == ["DONOR-B-B-7"]
    assert ids("region=002") == ["XM-DAC-99-A-P-0001"]  # Africa includes Kenya and Eastern Africa
    assert ids("area=23l") == ["DONOR-B-B-7"]
    assert ids("status=pipeline") == ["DONOR-B-B-7"]
    donor_a = projects[0].org_id
    assert ids(f"org_id={donor_a}") == ["XM-DAC-99-A-P-0001"]
    assert ids("year_from=2024") == ["DONOR-B-B-7"]
    assert ids("year_to=2021") == ["XM-DAC-99-A-P-0001"]
    assert ids("q=backbone") == ["XM-DAC-99-A-P-0001"]
    assert sorted(ids("category=LDC")) == ["DONOR-B-B-7", "XM-DAC-99-A-P-0001"]  # Uganda and Nepal
    assert ids("category=SIDS") == []


@pytest.mark.parametrize("query", ["status=dreaming", "year_from=soon", "year_from=2024&year_to=2020"])
def test_bad_filters_are_a_422_with_the_error_shape(client, query):
    response = client.get(f"/api/v1/projects.iati.xml?{query}")
    assert response.status_code == 422
    assert set(response.json) >= {"code", "status", "message", "errors"}


@pytest.mark.fixtures
def test_cli_export(runner, projects, tmp_path, schema):
    out = tmp_path / "out.xml"
    result = runner.invoke(args=["export", "iati", str(out), "--country", "NPL"])
    assert result.exit_code == 0, result.output
    assert "Wrote 1 activities" in result.output
    schema.assertValid(etree.parse(str(out)))
    result = runner.invoke(args=["export", "iati", str(out), "--status", "nope"])
    assert result.exit_code == 2


def _state(project: Project) -> dict:
    return {
        "title": project.title,
        "description": project.description,
        "status": project.status,
        "dates": (
            project.planned_start,
            project.planned_end,
            project.actual_start,
            project.actual_end,
        ),
        "recipients": sorted((r.country_iso3 or "", r.region_code or "", r.share_ppm) for r in project.recipients),
        "areas": sorted((a.area_code, a.share_ppm, a.inferred) for a in project.areas),
        "sectors": sorted(s.code for s in project.sectors),
        "action_lines": sorted(project.action_lines),
        "need": (project.need_minor, project.need_currency),
        "transactions": sorted(
            (
                t.type.value,
                t.amount_minor,
                t.currency,
                t.value_date,
                t.flow_type,
                t.finance_type,
                t.aid_type,
                t.description,
            )
            for t in project.transactions
        ),
        "org": project.org.iati_ref or project.org.ref,
    }


def _exported(data: bytes) -> dict[str, str]:
    """The registry reference of each exported activity (other-identifier A1), by iati-identifier."""
    return {
        act.findtext("iati-identifier"): act.find("other-identifier[@type='A1']").get("ref")
        for act in etree.fromstring(data).findall("iati-activity")
    }


@pytest.mark.fixtures
def test_round_trip_into_an_empty_registry(client, projects, tmp_path, schema):
    data = client.get("/api/v1/projects.iati.xml").data
    schema.assertValid(etree.fromstring(data))
    exported = _exported(data)
    reference_of = {ref: iati for iati, ref in exported.items()}
    before = {reference_of[p.reference]: _state(p) for p in projects}
    # Empty the registry of what was exported, then import the file back. A delete only marks
    # rows deleted (their keys stay taken, to be restored): remove them for good instead.
    for project in projects:
        org = project.org
        db.session.delete(project)
        db.session.flush()
        remove_organisation(ADMIN, org)
    db.session.flush()
    assert db.session.scalar(select(Project.id)) is None
    path = tmp_path / "export.xml"
    path.write_bytes(data)
    result = import_iati(path, ADMIN)
    assert result.ok, [p for b in result.batches for p in b.problems if p["severity"] == "error"]
    imported = db.session.scalars(select(Project)).all()
    after = {p.iati_identifier: _state(p) for p in imported}
    assert after == before
    # In a registry that never knew them, the iati-identifier identifies each activity and is
    # its reference; the reference it had where it was exported comes back as its A1 alias.
    for project in imported:
        assert project.reference == project.iati_identifier
        assert project.other_identifiers == f"A1:{exported[project.iati_identifier]}"


def test_round_trip_into_the_same_registry_finds_every_project(client, projects, tmp_path):
    """Re-importing our own export updates the projects it came from (found by IATI identifier,
    else by the A1 other-identifier that carries the registry reference): no project is doubled
    and no reference changes. (Flows entered by hand are not replaced by an import: only the
    flows earlier imports brought are, so they are left out of this comparison.)"""

    def fields(project: Project) -> dict:
        return {k: v for k, v in _state(project).items() if k != "transactions"}

    before = {p.reference: fields(p) for p in projects}
    ids = sorted(p.id for p in projects)
    data = client.get("/api/v1/projects.iati.xml").data
    path = tmp_path / "export.xml"
    path.write_bytes(data)
    result = import_iati(path, ADMIN)
    assert result.ok, [p for b in result.batches for p in b.problems if p["severity"] == "error"]
    stored = db.session.scalars(select(Project).order_by(Project.id)).all()
    assert [p.id for p in stored] == ids
    assert {p.reference: fields(p) for p in stored} == before
    # The project that had no IATI identifier now has the one it was published under.
    assert {p.reference: p.iati_identifier for p in stored} == {
        "P-0001": "XM-DAC-99-A-P-0001",
        "B-7": "DONOR-B-B-7",
    }


# IATI TransactionType codelist, version 2.03: the registry's word -> its code.
IATI_203_CODES = {kind: code for code, kind in TRANSACTION_TYPES.items()}


def _export(*projects) -> etree._Element:
    db.session.flush()
    buffer = io.BytesIO()
    write_iati(list(projects), buffer)
    return etree.fromstring(buffer.getvalue())


@pytest.mark.fixtures
def test_every_transaction_type_is_written_with_its_203_code(make_project, make_transaction, schema):
    project = make_project()
    for n, kind in enumerate(IATI_203_CODES, start=1):
        make_transaction(project, type=kind, amount=Decimal(n), value_date=dt.date(2020, 1, n))
    doc = _export(project)
    schema.assertValid(doc)
    written = [(t.find("transaction-type").get("code"), t.findtext("value")) for t in doc.iter("transaction")]
    assert written == [(IATI_203_CODES[kind], f"{n}.00") for n, kind in enumerate(IATI_203_CODES, start=1)]


@pytest.mark.fixtures
def test_kosovo_is_xk_on_the_activity_and_on_a_flow(make_project, make_transaction, schema):
    if db.session.get(Country, "XKX") is None:  # the reference data may not list it yet
        db.session.add(Country(iso3="XKX", iso2="XK", numeric="412", name="Kosovo", region_code="150"))
        db.session.flush()
    on_activity = make_project(recipients=[{"country": "XKX", "share": Decimal(100)}])
    on_flow = make_project(recipients=[{"country": "SRB", "share": Decimal(100)}])
    make_transaction(on_flow).recipient_country_iso3 = "XKX"
    doc = _export(on_activity, on_flow)
    schema.assertValid(doc)
    first, second = doc.findall("iati-activity")
    assert [c.get("code") for c in first.findall("recipient-country")] == ["XK"]
    assert second.findall("recipient-country") == []
    assert [c.get("code") for c in second.findall("transaction/recipient-country")] == ["XK"]


@pytest.mark.fixtures
def test_identifiers_and_aliases(make_org, make_project, schema):
    donor = make_org(ref="DONOR-I", iati_ref="XM-DAC-7")
    odd = make_project(org=donor, reference="R/1?")
    odd.other_identifiers = "A3:XM-DAC-7-OLD-1\n  legacy number 12 \n\nB1:XM-OLD\nurn:x:1\nA3:XM-DAC-7-OLD-1"
    prefixed = make_project(org=donor, reference="XM-DAC-7-9")
    doc = _export(odd, prefixed)
    schema.assertValid(doc)
    first, second = doc.findall("iati-activity")
    # / & | ? are forbidden in identifiers (rule 1.3.13): percent-encoded where we build one.
    assert first.findtext("iati-identifier") == "XM-DAC-7-R%2F1%3F"
    assert [(o.get("type"), o.get("ref")) for o in first.findall("other-identifier")] == [
        ("A1", "R/1?"),
        ("A3", "XM-DAC-7-OLD-1"),
        ("A9", "legacy number 12"),
        ("B1", "XM-OLD"),
        ("A9", "urn:x:1"),
    ]
    assert second.findtext("iati-identifier") == "XM-DAC-7-9"


@pytest.mark.fixtures
def test_an_unconverted_flow_keeps_its_currency_and_value(make_project, make_transaction, schema):
    project = make_project()
    tx = make_transaction(project, amount=Decimal("1.00"), currency="USD")
    # A flow no rate source could convert: kept in its own currency, without a USD value.
    tx.currency, tx.amount_minor = "MNT", 1234567
    tx.usd_minor = tx.usd_rate = tx.usd_rate_date = tx.usd_rate_source = None
    doc = _export(project)
    schema.assertValid(doc)
    value = doc.find("iati-activity/transaction/value")
    assert (value.get("currency"), value.text) == ("MNT", "12345.67")


def test_cli_prints_the_notes_of_the_export(runner, make_project, tmp_path):
    project = make_project(reference="NOTE-1", recipients=[{"country": "KEN", "share": Decimal(100)}])
    project.recipients[0].share_ppm = 750_000
    project.recipients.append(ProjectRecipient(share_ppm=250_000))
    db.session.flush()
    result = runner.invoke(args=["export", "iati", str(tmp_path / "out.xml")])
    assert result.exit_code == 0, result.output
    assert "NOTE-1: 25 % of the recipient shares is unallocated" in result.output


def test_action_lines_are_tags_of_a_declared_vocabulary(client, projects, schema):
    root = etree.fromstring(client.get("/api/v1/projects.iati.xml").data)
    schema.assertValid(root)
    act = next(a for a in root.iter("iati-activity") if a.findtext("iati-identifier") == "XM-DAC-99-A-P-0001")
    tags = act.findall("tag")
    assert [t.get("code") for t in tags] == ["C2", "C4", "C11"]
    assert {t.get("vocabulary") for t in tags} == {"99"}
    assert {t.get("vocabulary-uri") for t in tags} == {"https://www.itu.int/net/wsis/stocktaking/"}
    assert tags[0].findtext("narrative") == "Information and communication infrastructure"
    assert tags[0].get("percentage") is None  # action lines carry no shares
    other = next(a for a in root.iter("iati-activity") if a is not act)
    assert other.findall("tag") == []


def test_only_wsis_tags_are_read_as_action_lines():
    from importers.iati.sectors import read_action_lines

    act = etree.fromstring(
        '<iati-activity><tag vocabulary="99" vocabulary-uri="https://www.itu.int/net/wsis/stocktaking/" code="c7"/>'
        '<tag vocabulary="99" vocabulary-uri="https://example.org/our-tags" code="C5"/>'
        '<tag vocabulary="1" code="C3"/>'
        '<tag vocabulary="99" vocabulary-uri="https://example.org/wsis-lines" code="C12"/>'
        '<tag vocabulary="98" vocabulary-uri="https://example.org/wsis-lines" code="C10"/></iati-activity>'
    )
    assert read_action_lines(act) == ["C7", "C10"]
