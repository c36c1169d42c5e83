"""The project and flow forms carry the tied status and the direction set by hand (with its
reason), and the project page shows them: the default, each flow's, the direction and why."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from registry.extensions import db
from registry.models import Project, Transaction
from tests.registry.test_web_pages import donor_client, errors_in, project_form  # noqa: F401


def test_forms_and_page_show_tied_status_and_direction(donor_client):  # noqa: F811
    form = project_form(default_tied_status="5", direction_override="triangular")
    refused = donor_client.post("/projects/new", data=form)
    assert refused.status_code == 422
    assert "direction_reason" in errors_in(refused.data.decode())
    reason = "Brazil's agency implements it with Japan's funds"
    assert donor_client.post("/projects/new", data={**form, "direction_reason": reason}).status_code == 302
    project = db.session.scalar(select(Project).where(Project.reference == "WEB-1"))
    assert (project.default_tied_status, project.direction_override, project.direction_reason) == (
        "5",
        "triangular",
        reason,
    )
    url = f"/projects/{project.id}/transactions/new"
    flow = {"type": "commitment", "amount": "100.00", "currency": "USD", "value_date": "2021-03-15"}
    assert donor_client.post(url, data={**flow, "tied_status": "4"}).status_code == 302
    assert donor_client.post(url, data=flow).status_code == 302
    assert sorted(t.tied_status or "" for t in db.session.scalars(select(Transaction))) == ["", "4"]

    page = html.unescape(donor_client.get(f"/projects/{project.id}").data.decode())
    assert "Default tied status" in page and "Untied" in page
    assert "Triangular" in page and "set by hand" in page and f"Reason: {reason}" in page
    assert "Tied status: Tied · direction: Triangular" in page
    assert 'Tied status: Untied · direction: Triangular <span class="muted">(the project\'s default)' in page

    edit = html.unescape(donor_client.get(f"/projects/{project.id}/edit").data.decode())
    assert '<option value="triangular" selected>' in edit and reason in edit
    # back to derived: the reason goes with it; the donor's organisation has no country, so unknown
    version = re.search(r'name="version" value="(\d+)"', edit).group(1)
    cleared = project_form(default_tied_status="5", direction_override="", direction_reason="", version=version)
    assert donor_client.post(f"/projects/{project.id}/edit", data=cleared).status_code == 302
    db.session.expire_all()
    assert db.session.get(Project, project.id).direction_reason is None
    page = html.unescape(donor_client.get(f"/projects/{project.id}").data.decode())
    assert 'class="badge">set by hand' not in page and "direction: Unknown" in page
