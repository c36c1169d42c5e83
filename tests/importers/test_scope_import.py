"""A project's scope and infrastructure through the imports and exports: IATI activity-scope
read and written, the spreadsheet's Scope and Infrastructure columns (codes or words)."""

from __future__ import annotations

import io
from decimal import Decimal

from lxml import etree
from sqlalchemy import select

from importers import pipeline
from importers.iati_export import write_iati
from importers.interop import import_iati
from registry.extensions import db
from registry.models import Project
from registry.models.types import Role
from registry.services.actor import Actor
from tests.importers.helpers import csv_bytes
from tests.importers.iati_xml import activity, document

ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)
TWO_COUNTRIES = '<recipient-country code="NP" percentage="60"/><recipient-country code="BT" percentage="40"/>'


def _project(identifier: str) -> Project:
    return db.session.scalar(select(Project).where(Project.iati_identifier == identifier))


def test_iati_activity_scope_is_read_as_the_codelist_means_it(app, tmp_path):
    path = tmp_path / "scopes.xml"
    path.write_bytes(
        document(
            activity("XM-TEST-1-A", recipients=TWO_COUNTRIES, dates=_dates('<activity-scope code="2"/>')),
            activity("XM-TEST-1-B", dates=_dates('<activity-scope code="6"/>')),
            activity("XM-TEST-1-C", recipients=TWO_COUNTRIES),
            activity("XM-TEST-1-D", dates=_dates('<activity-scope code="12"/>')),
        )
    )
    result = import_iati(path, ADMIN)
    assert result.ok, [p for b in result.batches for p in b.problems if p["severity"] == "error"]
    # 2 Regional as stated; 6 (one first-level area) is within one country: national
    assert (_project("XM-TEST-1-A").scope, _project("XM-TEST-1-A").scope_derived) == ("regional", False)
    assert _project("XM-TEST-1-B").scope == "national"
    # none given: derived from the recipients, and said so
    c = _project("XM-TEST-1-C")
    assert (c.scope, c.effective_scope, c.scope_derived) == (None, "multi_country", True)
    # not an ActivityScope code: a warning naming it, and the scope derived
    d = _project("XM-TEST-1-D")
    assert (d.scope, d.effective_scope) == (None, "national")
    warnings = [p for b in result.batches for p in b.problems if p.get("code") == "activity_scope"]
    assert warnings and warnings[0]["value"] == "12"


def _dates(scope: str) -> str:
    """The activity's dates followed by its activity-scope (the schema's order)."""
    return f'<activity-date type="1" iso-date="2020-01-01"/><activity-date type="3" iso-date="2022-12-31"/>{scope}'


def test_the_stated_scope_goes_out_as_activity_scope_and_comes_back(
    app, tmp_path, make_org, make_project, make_transaction
):
    donor = make_org(ref="DONOR-S", name="Donor S", iati_ref="XM-DAC-99-S")
    stated = make_project(
        org=donor,
        iati_identifier="XM-DAC-99-S-1",
        recipients=[{"country": "NPL", "share": Decimal(60)}, {"country": "BTN", "share": Decimal(40)}],
        scope="regional",
        infrastructure="ixp",
    )
    derived = make_project(org=donor, iati_identifier="XM-DAC-99-S-2")
    make_transaction(stated)
    make_transaction(derived)
    buffer = io.BytesIO()
    write_iati([stated, derived], buffer)
    acts = {a.findtext("iati-identifier"): a for a in etree.fromstring(buffer.getvalue()).findall("iati-activity")}
    assert acts["XM-DAC-99-S-1"].find("activity-scope").get("code") == "2"
    # after the dates and before the recipients, as the schema orders them
    tags = [child.tag for child in acts["XM-DAC-99-S-1"]]
    assert tags.index("activity-date") < tags.index("activity-scope") < tags.index("recipient-country")
    assert acts["XM-DAC-99-S-2"].find("activity-scope") is None  # a derived scope is the recipients' to say
    # back into the same registry: the stated scope and the infrastructure (not in IATI) stay
    path = tmp_path / "scope-round-trip.xml"
    path.write_bytes(buffer.getvalue())
    result = import_iati(path, ADMIN)
    assert result.ok, [p for b in result.batches for p in b.problems if p["severity"] == "error"]
    db.session.expire_all()
    back = _project("XM-DAC-99-S-1")
    assert (back.scope, back.infrastructure) == ("regional", "ixp")
    assert _project("XM-DAC-99-S-2").scope is None


HEADER = ["Project reference", "Title", "Country", "Scope", "Infrastructure", "Transaction type", "Amount"]


def test_the_spreadsheet_takes_scope_and_infrastructure_as_codes_or_words(app, make_org):
    org = make_org(ref="DONOR-X", name="Donor X")
    data = csv_bytes(
        [
            [*HEADER, "Currency", "Value date"],
            ["BB-1", "Backbone", "NPL", "Multi-country", "Backbone network", "commitment", "100", "USD", "2021-03-01"],
            ["BB-1", "Backbone", "BTN", "", "", "", "", "", ""],
            ["IX-1", "Exchange point", "KEN", "2", "IXP", "commitment", "50", "USD", "2021-03-01"],
            ["NA-1", "Schools", "KEN", "", "none", "commitment", "10", "USD", "2021-03-01"],
        ]
    )
    batch = pipeline.run_import("sheet", "scope.csv", data, org, ADMIN)
    assert batch.status == "committed", batch.problems
    got = {
        p.reference: (p.scope, p.effective_scope, p.infrastructure)
        for p in db.session.scalars(select(Project).where(Project.org_id == org.id))
    }
    assert got == {
        "BB-1": ("multi_country", "multi_country", "backbone"),
        "IX-1": ("regional", "regional", "ixp"),
        "NA-1": (None, "national", "none"),
    }


def test_an_unknown_scope_or_infrastructure_is_refused_naming_its_column(app, make_org):
    org = make_org(ref="DONOR-Y", name="Donor Y")
    data = csv_bytes(
        [
            [*HEADER, "Currency", "Value date"],
            ["BB-1", "Backbone", "NPL", "continental", "road", "commitment", "100", "USD", "2021-03-01"],
        ]
    )
    batch = pipeline.run_import("sheet", "bad-scope.csv", data, org, ADMIN)
    assert batch.status != "committed"
    errors = {p["code"]: p for p in batch.problems if p["severity"] == "error"}
    assert errors["unknown_scope"]["column"] == "Scope" and errors["unknown_scope"]["value"] == "continental"
    assert errors["unknown_infrastructure"]["column"] == "Infrastructure"
