"""Flow direction: North-South, South-South, triangular, multilateral, unknown apart.

Each rule of registry.services.direction on a flow written here, the DAC membership read by
the value date (the Republic of Korea joined the DAC in 2010; Portugal left it from 1974 to
1991), the override with its reason, and the report dimension to the cent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from registry.errors import ValidationError
from registry.extensions import db
from registry.models.audit import AuditEvent
from registry.models.types import Role
from registry.services import direction
from registry.services.actor import Actor
from registry.services.projects import update_project
from reports.flows import build_spec, run_report
from tests.reports.test_direction_facts import _assert_facts_follow_the_flows

ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)
KEN = [{"country": "KEN", "share": Decimal(100)}]


@pytest.fixture
def flow_of(make_org, make_project, make_transaction):
    """A commitment of ``amount`` on ``day`` by a provider of ``country`` (and ``kind``), and its direction."""

    def make(country=None, day=dt.date(2020, 6, 1), kind="donor_agency", amount="100.00", project=None, **extra):
        provider = make_org(kind=kind, country_iso3=country, iati_ref=extra.pop("iati_ref", None))
        project = project or make_project(recipients=extra.pop("recipients", KEN), **extra.pop("with_project", {}))
        own_recipient = extra.pop("recipient_country", None)  # as an IATI transaction gives it
        tx = make_transaction(project, amount=Decimal(amount), value_date=day, provider_org_id=provider.id, **extra)
        tx.recipient_country_iso3 = own_recipient
        db.session.flush()
        return tx, direction.flow_directions(project)[tx.id]

    return make


def test_dac_membership_is_dated():
    assert not direction.is_dac_member("KOR", dt.date(2009, 12, 31))
    assert direction.is_dac_member("KOR", dt.date(2010, 1, 1))
    assert direction.is_dac_member("PRT", dt.date(1973, 6, 1))
    assert not direction.is_dac_member("PRT", dt.date(1980, 6, 1))
    assert direction.is_dac_member("PRT", dt.date(1995, 6, 1))
    assert not direction.is_dac_member("BRA", dt.date(2020, 6, 1))
    assert not direction.is_dac_member(None, dt.date(2020, 6, 1))
    # 32 members, the EU institutions among them (a member that is no country)
    assert len({m.member for m in direction.memberships()}) == 32
    assert any(m.member == "EUI" and m.iso3 is None and m.org_prefixes for m in direction.memberships())


def test_a_korean_flow_is_south_south_in_2008_and_north_south_in_2012(app, flow_of):
    assert flow_of("KOR", dt.date(2008, 6, 1))[1] == "south_south"
    assert flow_of("KOR", dt.date(2012, 6, 1))[1] == "north_south"


def test_portugal_out_of_the_dac_between_1974_and_1991(app, flow_of):
    assert flow_of("PRT", dt.date(1972, 6, 1))[1] == "north_south"
    assert flow_of("PRT", dt.date(1980, 6, 1))[1] == "south_south"
    assert flow_of("PRT", dt.date(1992, 6, 1))[1] == "north_south"


def test_derivations(app, flow_of, make_source, make_org):
    assert flow_of("SWE")[1] == "north_south"
    assert flow_of("BRA")[1] == "south_south"
    # no provider country: unknown, never guessed
    assert flow_of(None)[1] == "unknown"
    # the EU institutions, by their IATI identifier
    assert flow_of(None, iati_ref="XI-IATI-EC_INTPA")[1] == "north_south"
    # a multilateral organisation or regional bank, a multilateral source, IATI collaboration 2 or 4
    assert flow_of(None, kind="multilateral")[1] == "multilateral"
    assert flow_of("CIV", kind="regional_bank")[1] == "multilateral"
    multilateral_source = make_source(kind="multilateral")
    assert flow_of("SWE", funding_source_id=multilateral_source.id)[1] == "multilateral"
    assert flow_of("SWE", with_project={"collaboration_type": "4"})[1] == "multilateral"
    # South-South cooperation sources: said by the source; a DAC member funding one is triangular
    south_south = make_source(kind="south_south")
    assert flow_of(None, funding_source_id=south_south.id)[1] == "south_south"
    assert flow_of("JPN", funding_source_id=south_south.id)[1] == "triangular"
    # a Southern provider giving to a DAC member: none of the four
    assert flow_of("BRA", recipient_country="PRT")[1] == "unknown"
    assert flow_of("BRA", recipients=[{"country": "FRA", "share": Decimal(100)}])[1] == "unknown"
    _assert_facts_follow_the_flows()  # the report facts keep the same directions


def test_triangular(app, flow_of, make_org):
    # IATI collaboration-type 8, whoever provides
    assert flow_of("SWE", with_project={"collaboration_type": "8"})[1] == "triangular"
    assert flow_of(None, kind="multilateral", with_project={"collaboration_type": "8"})[1] == "triangular"
    # a DAC member among the funding partners of a Southern provider's cooperation
    make_org(ref="JICA", iati_ref="JP-8", country_iso3="JPN")
    assert flow_of("BRA", with_project={"funding_partners": "10|JP-8"})[1] == "triangular"
    # Korea funding in 2008 was not a DAC member yet: South-South with a Southern partner
    make_org(ref="KOICA", iati_ref="KR-GOV-010", country_iso3="KOR")
    assert flow_of("BRA", dt.date(2008, 6, 1), with_project={"funding_partners": "10|KR-GOV-010"})[1] == "south_south"
    assert flow_of("BRA", dt.date(2012, 6, 1), with_project={"funding_partners": "10|KR-GOV-010"})[1] == "triangular"
    # a multilateral partner, known to the registry or by its IATI organisation type 40
    assert flow_of("IND", with_project={"funding_partners": "40|XM-DAC-41114"})[1] == "triangular"
    # a Southern partner does not make it triangular
    make_org(ref="ABC", iati_ref="BR-CNPJ-1", country_iso3="BRA")
    assert flow_of("IND", with_project={"funding_partners": "10|BR-CNPJ-1"})[1] == "south_south"
    _assert_facts_follow_the_flows()


def test_override_needs_a_reason_and_is_audited(app, actor, flow_of):
    tx, derived = flow_of("SWE")
    project = tx.project
    assert derived == "north_south"
    with pytest.raises(ValidationError) as refused:
        update_project(actor, project, {"direction_override": "triangular"})
    assert "direction_reason" in refused.value.errors
    with pytest.raises(ValidationError):
        update_project(actor, project, {"direction_override": "sideways", "direction_reason": "x"})
    update_project(
        actor,
        project,
        {"direction_override": "Triangular", "direction_reason": "Sweden funds Brazil's cooperation with Kenya"},
    )
    db.session.flush()
    assert project.direction_override == "triangular"
    assert direction.flow_directions(project) == {tx.id: "triangular"}
    assert direction.project_direction(project) == ["triangular"]
    entry = db.session.scalars(
        db.select(AuditEvent)
        .where(AuditEvent.entity_type == "project", AuditEvent.entity_id == project.id)
        .order_by(AuditEvent.id)
    ).all()[-1]
    assert entry.before["direction_override"] is None
    assert entry.after["direction_override"] == "triangular"
    assert entry.after["direction_reason"] == "Sweden funds Brazil's cooperation with Kenya"
    update_project(actor, project, {"direction_override": None})
    assert project.direction_reason is None
    assert direction.flow_directions(project) == {tx.id: "north_south"}


def test_report_by_direction_reconciles_to_the_cent(app, flow_of, make_source):
    flow_of("SWE", amount="1000.01")
    flow_of("KOR", dt.date(2008, 6, 1), amount="250.25")
    flow_of("KOR", dt.date(2012, 6, 1), amount="0.07")
    flow_of(None, kind="multilateral", amount="333.33")
    flow_of(None, amount="12.34")
    flow_of("BRA", amount="99.99", with_project={"collaboration_type": "8"})
    db.session.commit()

    report = run_report(build_spec(by="direction", measures="commitment"))
    rows = {r["direction"]: r["commitment"] for r in report.rows}
    # read from the flows above: SWE and KOR 2012 North-South; KOR 2008 South-South
    assert rows == {
        "north_south": Decimal("1000.08"),
        "south_south": Decimal("250.25"),
        "triangular": Decimal("99.99"),
        "multilateral": Decimal("333.33"),
        "unknown": Decimal("12.34"),
    }
    assert report.total["commitment"] == Decimal("1695.99") == sum(rows.values())
    labels = {r["direction"]: r["direction_label"] for r in report.rows}
    assert labels["north_south"] == "North-South" and labels["unknown"] == "Unknown"

    only = run_report(build_spec(by="year", measures="commitment", direction=["south_south", "unknown"]))
    assert only.total["commitment"] == Decimal("262.59")  # 250.25 + 12.34


def test_api_report_by_direction_and_override(app, client, actor, flow_of):
    tx, _ = flow_of("SWE", amount="10.00")
    db.session.commit()
    response = client.get("/api/v1/reports/flows?by=direction&measure=commitment")
    assert response.status_code == 200, response.get_json()
    assert [(r["direction"], r["commitment"]) for r in response.get_json()["rows"]] == [("north_south", "10.00")]
    bad = client.get("/api/v1/reports/flows?by=year&direction=sideways")
    assert bad.status_code == 422 and "sideways" in str(bad.get_json())


def test_iati_keeps_collaboration_type_and_funding_partners(app, make_org, tmp_path):
    from sqlalchemy import select

    from importers.interop import import_iati
    from registry.models import Project
    from tests.importers.iati_xml import activity, document

    make_org(ref="ABC", iati_ref="BR-ABC", country_iso3="BRA")
    make_org(ref="JICA", iati_ref="JP-8", country_iso3="JPN")
    db.session.commit()
    flow = (
        '<transaction><transaction-type code="2"/><transaction-date iso-date="2021-03-01"/>'
        '<value currency="USD" value-date="2021-03-01">500.00</value><provider-org ref="BR-ABC"/></transaction>'
    )
    partners = (
        '<participating-org role="1" ref="JP-8" type="10"/><participating-org role="1" type="40" ref="XM-DAC-41114"/>'
    )
    xml = document(
        activity("BR-ABC-TRI", org="BR-ABC", transactions=flow, extra=partners),
        activity("BR-ABC-SS", org="BR-ABC", transactions=flow),
        activity("BR-ABC-C8", org="BR-ABC", transactions=flow, extra='<collaboration-type code="8"/>'),
    )
    path = tmp_path / "south.xml"
    path.write_bytes(xml)
    result = import_iati(path, ADMIN)
    assert result.ok, [p for b in result.batches for p in b.problems if p["severity"] == "error"]
    found = {p.iati_identifier: p for p in db.session.scalars(select(Project).where(Project.org.has(ref="ABC")))}
    tri, south, c8 = found["BR-ABC-TRI"], found["BR-ABC-SS"], found["BR-ABC-C8"]
    assert tri.funding_partners.splitlines() == ["|BR-ABC", "10|JP-8", "40|XM-DAC-41114"]
    assert c8.collaboration_type == "8" and tri.collaboration_type is None
    assert list(direction.flow_directions(tri).values()) == ["triangular"]
    assert list(direction.flow_directions(south).values()) == ["south_south"]
    assert list(direction.flow_directions(c8).values()) == ["triangular"]


def test_page_command_line_csv_and_workbook_by_direction(app, client, runner, flow_of):
    import io
    import json

    from openpyxl import load_workbook

    flow_of("SWE", amount="40.10")
    flow_of("BRA", amount="2.05")
    db.session.commit()
    page = client.get("/reports/?by=direction&measure=commitment")
    assert page.status_code == 200
    html = page.data.decode()
    assert '<option value="direction" selected>Flow direction</option>' in html
    assert "North-South" in html and "South-South" in html
    result = runner.invoke(args=["report", "flows", "--by", "direction", "--measure", "commitment", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["direction"]: r["commitment"] for r in json.loads(result.output)["rows"]}
    assert rows == {"north_south": "40.10", "south_south": "2.05"}
    with client.get("/api/v1/reports/flows.csv?by=direction&measure=commitment") as csv_response:
        text = csv_response.data.decode("utf-8-sig")
    assert "North-South" in text and "40.10" in text and "2.05" in text
    with client.get("/api/v1/reports/flows.xlsx?by=direction&measure=commitment") as xlsx_response:
        book = load_workbook(io.BytesIO(xlsx_response.data), read_only=True)
    cells = [str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row if c]
    assert "North-South" in cells and "South-South" in cells
