"""An administrator's import: the owner is proposed from the file's reporting organisation and
confirmed, or chosen when the file proposes none; never a silent default."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import ImportBatch, Project
from registry.services import accounts
from tests.importers.iati_xml import activity, document
from tests.sessions import log_in


@pytest.fixture
def admin_client(app, client, actor, make_org):
    app.config["IMPORT_BACKGROUND"] = False
    orgs = {
        "first": make_org(ref="AAA-FIRST", name="Aardvark Aid"),
        "publisher": make_org(ref="XM-TEST-1", name="Test donor"),
    }
    admin = accounts.create_user(actor, "admin-owner@example.org", "admin")
    db.session.commit()
    log_in(client, admin)
    yield client, orgs
    app.config["IMPORT_BACKGROUND"] = True


def _upload(client, data: bytes, name: str = "activities.xml", **form):
    body = {"file": (io.BytesIO(data), name), "org_id": "", **form}
    return client.post("/imports/", data=body, content_type="multipart/form-data", follow_redirects=True)


def _latest() -> ImportBatch:
    return db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))


def _projects(org) -> int:
    return db.session.scalar(select(func.count()).select_from(Project).where(Project.org_id == org.id))


def test_the_files_reporting_organisation_is_proposed_and_confirmed_before_the_commit(admin_client):
    client, orgs = admin_client
    data = document(activity("XM-TEST-1-P1"), activity("XM-TEST-1-P2"))
    html = _upload(client, data).get_data(as_text=True)
    batch = _latest()
    assert batch.status == "previewed" and batch.org_id == orgs["publisher"].id
    assert batch.options["owner"] == {"proposed_from": "Test donor (XM-TEST-1)", "confirmed": False}
    field = html[html.find('id="owner-field"') :][:1500]
    assert "Proposed from the file's reporting organisation Test donor (XM-TEST-1)" in field, field
    assert re.search(rf'<option value="{orgs["publisher"].id}" selected>Test donor', field)
    # Not confirmed: the commit is refused.
    page = client.post(f"/imports/{batch.id}/commit", follow_redirects=True)
    assert "Choose the organisation the file is imported for" in page.get_data(as_text=True)
    assert _projects(orgs["publisher"]) == 0
    # Confirmed: committed, and the batch remembers it was confirmed.
    page = client.post(f"/imports/{batch.id}/commit", data={"owner_id": orgs["publisher"].id}, follow_redirects=True)
    assert "Imported." in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ImportBatch, batch.id).options["owner"]["confirmed"] is True
    assert _projects(orgs["publisher"]) == 2


def test_another_owner_than_the_proposed_one_is_checked_again_for_it(admin_client):
    client, orgs = admin_client
    _upload(client, document(activity("XM-TEST-1-P1")))
    proposed = _latest()
    client.post(f"/imports/{proposed.id}/commit", data={"owner_id": orgs["first"].id}, follow_redirects=True)
    db.session.expire_all()
    checked = _latest()
    assert db.session.get(ImportBatch, proposed.id).status == "discarded"
    assert checked.id != proposed.id and checked.status == "previewed" and checked.org_id == orgs["first"].id
    assert "owner" not in checked.options  # chosen by the administrator: nothing to confirm
    assert _projects(orgs["first"]) == 0 and _projects(orgs["publisher"]) == 0


def test_a_file_whose_organisation_is_unknown_proposes_none_and_is_checked_once_chosen(admin_client):
    client, orgs = admin_client
    before = db.session.scalar(select(func.count()).select_from(ImportBatch))
    data = document(activity("XM-OTHER-1-P1", org="XM-OTHER-1")).replace(b"Test donor", b"Other agency")
    html = _upload(client, data).get_data(as_text=True)
    assert 'id="choose-owner"' in html and "is not in the registry" in html
    assert "Other agency (XM-OTHER-1)" in html
    assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == before  # nothing checked yet
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))
    form["options"] = form["options"].replace("&#34;", '"').replace("&quot;", '"')
    # Without a choice: asked again, nothing checked.
    page = client.post("/imports/owner", data={**form, "org_id": ""}, follow_redirects=True)
    assert 'id="choose-owner"' in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == before
    client.post("/imports/owner", data={**form, "org_id": orgs["first"].id}, follow_redirects=True)
    batch = _latest()
    assert batch.org_id == orgs["first"].id and batch.status == "previewed" and "owner" not in batch.options
