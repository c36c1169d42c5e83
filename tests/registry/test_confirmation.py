"""Who may credit whom: a flow recorded against another organisation's funding source stands
unconfirmed, reported by the donor, until that organisation confirms it; reports say which
flows they count and how much unconfirmed money their figures hold."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from sqlalchemy import select

from registry.errors import ConflictError, PermissionDenied
from registry.extensions import db
from registry.models import AuditEvent, Transaction
from registry.models.types import Role
from registry.services import accounts
from registry.services.actor import Actor
from registry.services.projects import (
    add_transaction,
    awaiting_confirmation,
    confirm_transaction,
    flow_confirmed,
    update_transaction,
)
from reports.flows import flows_report, gap_report
from tests.sessions import log_in


@pytest.fixture
def setting(make_org, make_project, make_source):
    """A donor's project, a fund managed by another organisation, and an actor for each."""
    donor = make_org(ref="DON-A", name="Donor A")
    fund_owner = make_org(ref="FUND-B", name="Fund owner B")
    project = make_project(org=donor)
    own_source = make_source(managing_org_id=donor.id)
    other_source = make_source(managing_org_id=fund_owner.id, name="B's digital fund")
    donor_actor = Actor(label="a@donor", channel="api", org_id=donor.id, role=Role.DONOR, user_id=None)
    owner_actor = Actor(label="b@fund", channel="api", org_id=fund_owner.id, role=Role.DONOR)
    return donor, fund_owner, project, own_source, other_source, donor_actor, owner_actor


def _flow(actor, project, source=None, amount="1000.00", **extra):
    data = {"type": "commitment", "amount": Decimal(amount), "currency": "USD", "value_date": dt.date(2021, 5, 1)}
    if source is not None:
        data["funding_source_id"] = source.id
    data.update(extra)
    return add_transaction(actor, project, data)


def test_the_rule(setting):
    donor, owner, _project, _own, _other, donor_actor, owner_actor = setting
    assert flow_confirmed(donor_actor, None, donor.id)  # no source
    assert flow_confirmed(donor_actor, donor.id, donor.id)  # the project's own organisation's source
    assert not flow_confirmed(donor_actor, owner.id, donor.id)  # someone else's source
    assert flow_confirmed(owner_actor, owner.id, donor.id)  # the source's organisation records it
    assert flow_confirmed(Actor(label="admin", channel="cli", role=Role.ADMIN), owner.id, donor.id)
    analyst = Actor(label="x", channel="api", org_id=owner.id, role=Role.ANALYST)
    assert not flow_confirmed(analyst, owner.id, donor.id)  # an analyst does not speak for it


def test_a_flow_on_another_organisations_source_is_unconfirmed_and_the_donors(setting):
    donor, owner, project, own, other, donor_actor, owner_actor = setting
    mine = _flow(donor_actor, project, own)
    theirs = _flow(donor_actor, project, other)
    assert mine.confirmed is True and mine.provider_org_id == donor.id
    # Naming B's fund does not make B the donor: the flow is the reporting donor's until B confirms.
    assert theirs.confirmed is False and theirs.provider_org_id == donor.id
    assert awaiting_confirmation(owner.id) == [theirs]
    assert awaiting_confirmation(donor.id) == []
    with pytest.raises(PermissionDenied):
        confirm_transaction(donor_actor, theirs)  # the donor cannot vouch for B
    confirm_transaction(owner_actor, theirs)
    assert theirs.confirmed is True and theirs.provider_org_id == owner.id
    assert awaiting_confirmation(owner.id) == []
    event = db.session.scalar(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "transaction", AuditEvent.entity_id == theirs.id)
        .order_by(AuditEvent.id.desc())
    )
    assert event.action == "confirm" and event.before["confirmed"] is False and event.after["confirmed"] is True
    with pytest.raises(ConflictError):
        confirm_transaction(owner_actor, theirs)


def test_a_change_by_the_donor_asks_for_confirmation_again(setting):
    _donor, owner, project, _own, other, donor_actor, owner_actor = setting
    tx = _flow(donor_actor, project, other)
    confirm_transaction(owner_actor, tx)
    update_transaction(donor_actor, tx, {"amount": Decimal("5000.00")})
    assert tx.confirmed is False and tx.provider_org_id == project.org_id
    update_transaction(donor_actor, tx, {"funding_source_id": None})
    assert tx.confirmed is True  # no one else's source any more


def test_an_explicit_provider_stays_when_confirmed(setting, make_org):
    _donor, owner, project, _own, other, donor_actor, owner_actor = setting
    cofunder = make_org(ref="CO-C")
    tx = _flow(donor_actor, project, other, provider_org_id=cofunder.id)
    assert tx.confirmed is False and tx.provider_org_id == cofunder.id
    confirm_transaction(owner_actor, tx)
    assert tx.provider_org_id == cofunder.id


# -- API and pages ---------------------------------------------------------------


def test_api_confirm_endpoint(setting, api, actor):
    donor, owner, project, _own, other, donor_actor, _owner_actor = setting
    tx = _flow(donor_actor, project, other)
    donor_user = accounts.create_user(actor, "d@example.org", "donor", org=donor)
    owner_user = accounts.create_user(actor, "o@example.org", "donor", org=owner)
    donor_token, owner_token = accounts.issue_token(actor, donor_user), accounts.issue_token(actor, owner_user)
    db.session.commit()
    url = f"/api/v1/projects/{project.id}/transactions/{tx.id}"
    assert api("get", url).json["confirmed"] is False
    refused = api("post", f"{url}/confirm", donor_token)
    assert refused.status_code == 403 and refused.json["code"] == 403
    assert api("post", f"{url}/confirm").status_code == 401
    done = api("post", f"{url}/confirm", owner_token)
    assert done.status_code == 200, done.json
    assert done.json["confirmed"] is True and done.json["provider_org_id"] == owner.id
    assert api("post", f"{url}/confirm", owner_token).status_code == 409


def test_api_flow_posted_by_a_donor_on_someone_elses_source_is_unconfirmed(setting, api, actor):
    donor, _owner, project, _own, other, _da, _oa = setting
    user = accounts.create_user(actor, "d2@example.org", "donor", org=donor)
    token = accounts.issue_token(actor, user)
    db.session.commit()
    body = {
        "type": "commitment",
        "amount": "250.00",
        "currency": "USD",
        "value_date": "2021-01-01",
        "funding_source_id": other.id,
    }
    response = api("post", f"/api/v1/projects/{project.id}/transactions", token, json=body)
    assert response.status_code == 201, response.json
    assert response.json["confirmed"] is False and response.json["provider_org_id"] == donor.id


def test_pages_offer_the_confirmation_to_the_sources_organisation(setting, client, actor):
    _donor, owner, project, _own, other, donor_actor, _oa = setting
    tx = _flow(donor_actor, project, other)
    user = accounts.create_user(actor, "owner-page@example.org", "donor", org=owner)
    db.session.commit()
    anonymous = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "unconfirmed" in anonymous and f'id="confirm-{tx.id}"' not in anonymous
    log_in(client, user)
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert f'id="confirm-{tx.id}"' in page
    source_page = client.get(f"/funding-sources/{other.id}").get_data(as_text=True)
    assert "Flows awaiting your confirmation" in source_page and f'id="confirm-{tx.id}"' in source_page
    response = client.post(
        f"/projects/{project.id}/transactions/{tx.id}/confirm", data={"next": f"/funding-sources/{other.id}"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/funding-sources/{other.id}")
    db.session.expire_all()
    assert db.session.get(Transaction, tx.id).confirmed is True
    assert "Flows awaiting your confirmation" not in client.get(f"/funding-sources/{other.id}").get_data(as_text=True)


def test_an_import_by_a_donor_follows_the_same_rule(setting, client, actor):
    donor, _owner, _project, own, other, _da, _oa = setting
    user = accounts.create_user(actor, "d3@example.org", "donor", org=donor)
    token = accounts.issue_token(actor, user)
    db.session.commit()
    csv_text = (
        "Project reference,Title,Country,Transaction type,Amount,Currency,Value date,Funding source\n"
        f"IMP-1,Schools,Kenya,commitment,100,USD,2021-01-04,{other.ref}\n"
        f"IMP-1,Schools,Kenya,disbursement,40,USD,2021-03-04,{own.ref}\n"
    )
    body = {"file": (io.BytesIO(csv_text.encode()), "flows.csv")}
    response = client.post(
        "/api/v1/imports", data=body, headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data"
    )
    assert response.status_code == 201, response.json
    rows = {
        t.funding_source_id: t
        for t in db.session.scalars(select(Transaction).where(Transaction.import_batch_id.is_not(None)))
    }
    assert rows[other.id].confirmed is False and rows[other.id].provider_org_id == donor.id
    assert rows[own.id].confirmed is True and rows[own.id].provider_org_id == donor.id


# -- reports -----------------------------------------------------------------------


def test_reports_count_all_flows_by_default_and_say_how_much_is_unconfirmed(setting, runner):
    donor, owner, project, own, other, donor_actor, owner_actor = setting
    _flow(donor_actor, project, own, amount="1000.00")
    theirs = _flow(donor_actor, project, other, amount="300.00")
    every = flows_report(by="donor")
    assert every.spec.confirmed == "all"
    assert every.total["commitment"] == Decimal("1300.00")
    # By donor: the unconfirmed 300 is Donor A's, not B's.
    by_donor = {row["donor_label"]: row["commitment"] for row in every.rows}
    assert by_donor == {"Donor A (DON-A)": Decimal("1300.00")}
    meta = every.as_json()["confirmation"]
    assert meta == {
        "confirmed": "all",
        "unconfirmed_flows": 1,
        "unconfirmed_included": True,
        "unconfirmed_amounts": {
            "pledge": "0.00",
            "commitment": "300.00",
            "disbursement": "0.00",
            "expenditure": "0.00",
        },
    }
    assert any("include 1 unconfirmed flows" in note for note in every.notes)
    only = flows_report(by="region", confirmed="only")
    assert only.total["commitment"] == Decimal("1000.00")
    assert only.as_json()["confirmation"]["unconfirmed_included"] is False
    assert only.as_json()["confirmation"]["unconfirmed_amounts"]["commitment"] == "300.00"
    assert only.spec.filters()["confirmed"] == "only"
    # In another currency, through the other path (no report facts), the same rule.
    gap = gap_report(by="region", currency="EUR", confirmed="only")
    assert gap.as_json()["confirmation"]["unconfirmed_flows"] == 1
    confirm_transaction(owner_actor, theirs)
    after = flows_report(by="donor", confirmed="only")
    assert {row["donor_label"]: row["commitment"] for row in after.rows} == {
        "Donor A (DON-A)": Decimal("1000.00"),
        "Fund owner B (FUND-B)": Decimal("300.00"),
    }
    assert after.as_json()["confirmation"]["unconfirmed_flows"] == 0
    db.session.commit()
    out = runner.invoke(args=["report", "flows", "--by", "region", "--confirmed", "only"])
    assert out.exit_code == 0, out.output


def test_report_parameter_in_the_api_and_a_bad_value(setting, client):
    _donor, _owner, project, _own, other, donor_actor, _oa = setting
    _flow(donor_actor, project, other, amount="300.00")
    db.session.commit()
    body = client.get("/api/v1/reports/flows?by=region&confirmed=only").json
    assert body["total"]["commitment"] == "0.00" and body["confirmation"]["unconfirmed_flows"] == 1
    body = client.get("/api/v1/reports/flows?by=region").json
    assert body["total"]["commitment"] == "300.00" and body["confirmation"]["confirmed"] == "all"
    bad = client.get("/api/v1/reports/flows?by=region&confirmed=some")
    assert bad.status_code == 422 and "confirmed" in bad.json["errors"]


def test_reports_page_offers_the_choice_and_says_which_was_used(setting, client):
    _donor, _owner, project, _own, other, donor_actor, _oa = setting
    _flow(donor_actor, project, other, amount="300.00")
    db.session.commit()
    page = client.get("/reports/?by=region&confirmed=only").get_data(as_text=True)
    assert 'name="confirmed"' in page
    assert "Flows counted: confirmed flows only; unconfirmed flows left out of these figures: 1." in page
    page = client.get("/reports/?by=region").get_data(as_text=True)
    assert "Flows counted: all, unconfirmed included; unconfirmed flows in these figures: 1." in page
    assert "include 1 unconfirmed flows (commitments USD 300.00)" in page


def test_the_workbook_about_sheet_says_which_flows_it_counts(setting):
    import openpyxl

    from reports.flows import GAP_MEASURES, build_spec
    from reports.workbook import funding_gap_workbook

    _donor, _owner, project, _own, other, donor_actor, _oa = setting
    _flow(donor_actor, project, other, amount="300.00")
    book = openpyxl.load_workbook(io.BytesIO(funding_gap_workbook(build_spec(default_measures=GAP_MEASURES))))
    about = {row[0]: row[1] for row in book["About"].iter_rows(values_only=True) if row[0]}
    assert about["Flows counted"].startswith("All flows, unconfirmed included; 1 unconfirmed flow included")
    assert about["Flows counted"].endswith("(commitments 300.00 USD)")  # as every note writes money, no zeros


def test_a_confirmed_flow_stays_confirmed_when_the_donor_imports_its_file_again(setting):
    """The donor's next file (one project more) brings the same flow: what the source's
    organisation confirmed is still what is recorded, so the flow stays confirmed and B's, not
    silently handed back to the donor in the reports by donor."""
    from importers import pipeline

    donor, owner, _project, _own, other, donor_actor, owner_actor = setting
    head = "Project reference,Title,Country,Transaction type,Amount,Currency,Value date,Funding source\n"
    first = head + f"IMP-1,Schools,Kenya,commitment,100,USD,2021-01-04,{other.ref}\n"
    pipeline.run_import("sheet", "flows.csv", first.encode(), donor, donor_actor)
    tx = db.session.scalar(select(Transaction).where(Transaction.funding_source_id == other.id))
    assert tx.confirmed is False and tx.provider_org_id == donor.id
    confirm_transaction(owner_actor, tx)
    db.session.commit()
    again = first + "IMP-2,Clinics,Kenya,commitment,50,USD,2021-02-01,\n"
    batch = pipeline.run_import("sheet", "flows-2.csv", again.encode(), donor, donor_actor)
    assert batch.status == "committed", batch.problems
    (kept,) = db.session.scalars(select(Transaction).where(Transaction.funding_source_id == other.id)).all()
    assert kept.confirmed is True and kept.provider_org_id == owner.id
    assert batch.counts["projects_unchanged"] == 1 and batch.counts["projects_created"] == 1
    # A flow the donor changed asks for the confirmation again, as on every other path.
    changed = first.replace(",100,", ",120,") + "IMP-2,Clinics,Kenya,commitment,50,USD,2021-02-01,\n"
    pipeline.run_import("sheet", "flows-3.csv", changed.encode(), donor, donor_actor)
    (redone,) = db.session.scalars(select(Transaction).where(Transaction.funding_source_id == other.id)).all()
    assert redone.confirmed is False and redone.provider_org_id == donor.id
