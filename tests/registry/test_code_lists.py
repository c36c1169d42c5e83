"""The IATI code lists of the forms: DAC purpose codes as a searchable list that takes several
codes, flow, finance and aid types as choices; an unknown code is a form error naming it."""

from __future__ import annotations

import csv
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from registry.extensions import db
from registry.models import Project, Transaction
from registry.web import codelists
from tests.sessions import log_in

DATA = Path(codelists.__file__).resolve().parent.parent / "data"
HEADERS = {
    "dac_purpose_codes.csv": ["code", "name", "name_fr", "category", "status"],
    "flow_types.csv": ["code", "name", "name_fr", "status"],
    "finance_types.csv": ["code", "name", "name_fr", "category", "status"],
    "aid_types.csv": ["code", "name", "name_fr", "category", "status"],
}


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_each_list_is_shipped_with_its_source(name):
    with open(DATA / name, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        assert next(reader) == HEADERS[name]
        rows = list(reader)
    codes = [row[0] for row in rows]
    assert codes == sorted(codes) and len(codes) == len(set(codes)), "sorted by code, once each"
    assert all(row[1] for row in rows), "every code has its English name"
    assert {row[-1] for row in rows} <= {"active", "withdrawn"}
    sources = json.loads((DATA / "sources.json").read_text(encoding="utf-8"))
    assert "IATI/IATI-Codelists-NonEmbedded" in sources[name]["source"]
    assert name in (DATA / "SOURCES.md").read_text(encoding="utf-8")


def test_the_lists_hold_the_codes_the_registry_uses():
    sectors = codelists.codes("sectors")
    assert len(sectors) > 250 and re.fullmatch(r"\d{5}", next(iter(sectors)))
    assert sectors["22040"]["name"] == "Information and communication technology (ICT)"
    demo = json.loads((DATA / "demo.json").read_text(encoding="utf-8"))
    assert set(demo["purpose_codes"].values()) <= set(sectors)  # the demo data set's codes are known
    assert {"10", "110", "421", "C01"} <= set(codelists.codes("flow_type")) | set(
        codelists.codes("finance_type")
    ) | set(codelists.codes("aid_type"))


@pytest.fixture
def donor_client(client, make_user):
    user, _ = make_user("donor")
    db.session.commit()
    log_in(client, user)
    client.user = user
    return client


FORM = {
    "title": "School connectivity",
    "reference": "CODES-1",
    "status": "active",
    "recipients-0-place": "KEN",
    "areas-0-code": "23b",
}


def test_the_purpose_code_field_is_a_searchable_list_that_takes_several_codes(donor_client):
    page = donor_client.get("/projects/new").get_data(as_text=True)
    datalist = re.search(r'<datalist id="purpose-codes">(.*?)</datalist>', page, re.S).group(1)
    assert '<option value="22040">22040 · Information and communication technology (ICT)</option>' in datalist
    assert 'list="purpose-codes"' in page and 'name="sectors-0-code"' in page
    response = donor_client.post(
        "/projects/new", data={**FORM, "sectors-0-code": "22040", "sectors-1-code": "11330", "sectors-2-code": ""}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    project = db.session.scalar(select(Project).where(Project.reference == "CODES-1"))
    assert sorted(s.code for s in project.sectors) == ["11330", "22040"]
    edit = donor_client.get(f"/projects/{project.id}/edit").get_data(as_text=True)
    assert re.search(r'name="sectors-0-code" value="11330"', edit)
    assert re.search(r'name="sectors-1-code" value="22040"', edit)
    detail = donor_client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert 'title="Vocational training">11330<' in detail


def test_an_unknown_purpose_code_is_a_form_error_naming_it(donor_client):
    response = donor_client.post("/projects/new", data={**FORM, "sectors-0-code": "22040", "sectors-1-code": "99999"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Unknown DAC purpose code &#39;99999&#39;" in html
    assert 'value="99999"' in html  # shown again to be corrected
    assert db.session.scalar(select(Project).where(Project.reference == "CODES-1")) is None


def test_the_purpose_codes_field_still_takes_codes_separated_by_commas(donor_client):
    response = donor_client.post("/projects/new", data={**FORM, "sectors": "22040, 11330"})
    assert response.status_code == 302
    project = db.session.scalar(select(Project).where(Project.reference == "CODES-1"))
    assert sorted(s.code for s in project.sectors) == ["11330", "22040"]


def test_flow_finance_and_aid_types_are_choices_checked_on_the_server(donor_client, make_project, make_transaction):
    project = make_project(org=donor_client.user.org, title="Flows with codes")
    db.session.commit()
    page = donor_client.get(f"/projects/{project.id}/transactions/new").get_data(as_text=True)
    for name, option in (("flow_type", "10 · ODA"), ("finance_type", "110 · Standard grant"), ("aid_type", "C01 · ")):
        select_html = re.search(rf'<select id="f-{name}" name="{name}"[^>]*>(.*?)</select>', page, re.S).group(1)
        assert option in select_html, name
    assert "withdrawn" not in page and '<option value="20"' not in page  # OOF (20) is withdrawn: not offered
    form = {"type": "commitment", "amount": "1000.00", "currency": "USD", "value_date": "2021-03-01"}
    bad = donor_client.post(
        f"/projects/{project.id}/transactions/new", data={**form, "flow_type": "99", "aid_type": "Z99"}
    )
    assert bad.status_code == 422
    assert "Unknown IATI flow type &#39;99&#39;" in bad.get_data(as_text=True)
    assert "Unknown IATI aid type &#39;Z99&#39;" in bad.get_data(as_text=True)
    good = donor_client.post(
        f"/projects/{project.id}/transactions/new",
        data={**form, "flow_type": "10", "finance_type": "110", "aid_type": "C01"},
    )
    assert good.status_code == 302
    tx = db.session.scalar(select(Transaction).where(Transaction.project_id == project.id))
    assert (tx.flow_type, tx.finance_type, tx.aid_type) == ("10", "110", "C01")
    # a flow recorded with a code the list has since withdrawn keeps it when edited
    old = make_transaction(project, amount=Decimal("5.00"), flow_type="20")
    db.session.commit()
    edit = donor_client.get(f"/projects/{project.id}/transactions/{old.id}/edit").get_data(as_text=True)
    assert re.search(r'<option value="20"\s+selected>20 · OOF</option>', edit)


def test_french_readers_see_the_lists_french_names(donor_client):
    page = donor_client.get("/projects/new", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "22040 · Technologies de l&#39;information et de la communication (TIC)" in page
