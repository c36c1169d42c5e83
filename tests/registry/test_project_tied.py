"""A project's untied share, computed once in registry/services/tied.py: the project page
shows it, with unknown commitments apart, and the reports give the same figures."""

from __future__ import annotations

import html
from decimal import Decimal

from registry.extensions import db
from registry.services.tied import project_tied
from reports.flows import build_spec
from reports.tied import tied_report


def test_the_project_page_shows_the_untied_share_with_unknown_apart(
    app, client, make_org, make_project, make_transaction
):
    org = make_org(ref="TIED-PAGE")
    project = make_project(org, reference="TP-1", title="Rural broadband")
    make_transaction(project, amount=Decimal("600.00"), tied_status="5")  # untied
    make_transaction(project, amount=Decimal("150.00"), tied_status="3")  # partially tied
    make_transaction(project, amount=Decimal("250.00"), tied_status="4")  # tied
    make_transaction(project, amount=Decimal("4000.00"))  # no status, no default: unknown
    make_transaction(project, type="disbursement", amount=Decimal("900.00"), tied_status="5")  # no commitment
    db.session.commit()

    found = project_tied(project)
    # 600 / (600 + 150 + 250): the 4000 unknown is in neither part of the share
    assert found["untied_share"] == Decimal("0.6000")
    assert found["amounts"] == {
        "tied": Decimal("250.00"),
        "partially_tied": Decimal("150.00"),
        "untied": Decimal("600.00"),
        "unknown": Decimal("4000.00"),
    }
    # the reports give the same figures (the organisation reports this project alone)
    row = next(r for r in tied_report(build_spec(by="donor"))["rows"] if r["donor"] == org.id)
    assert (row["untied"], row["partially_tied"], row["tied"], row["unknown"], row["untied_share"]) == (
        "600.00",
        "150.00",
        "250.00",
        "4000.00",
        "0.6000",
    )

    page = html.unescape(client.get(f"/projects/{project.id}").data.decode())
    assert "Untied share" in page and "60 %" in page
    assert "untied 600.00 USD, partially tied 150.00 USD, tied 250.00 USD" in page
    assert "Commitments of unknown tied status, never counted as untied: 4,000.00 USD" in page


def test_a_project_whose_commitments_are_all_unknown_has_no_share(app, client, make_project, make_transaction):
    project = make_project(reference="TP-2")
    make_transaction(project, amount=Decimal("10.00"))
    db.session.commit()
    found = project_tied(project)
    assert found["untied_share"] is None and found["any"]
    page = html.unescape(client.get(f"/projects/{project.id}").data.decode())
    untied = page.split('class="untied-share">', 1)[1].split("</dd>", 1)[0]
    assert untied.startswith("Unknown") and "10.00 USD" in untied


def test_the_default_applies_to_flows_without_their_own(app, make_project, make_transaction):
    project = make_project(reference="TP-3", default_tied_status="4")
    make_transaction(project, amount=Decimal("300.00"))  # tied, by the default
    make_transaction(project, amount=Decimal("100.00"), tied_status="5")
    db.session.commit()
    # 100 / (300 + 100)
    assert project_tied(project)["untied_share"] == Decimal("0.2500")
