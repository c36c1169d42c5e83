"""The pages: lists with filters, details, and the project, transaction and source forms."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from registry.extensions import db
from registry.models import AuditEvent, FundingSource, Project, Transaction
from tests.sessions import log_in


@pytest.fixture
def donor_client(client, make_user):
    user, _ = make_user("donor")
    db.session.commit()
    log_in(client, user)
    client.user = user
    return client


def project_form(**overrides) -> dict:
    form = {
        "title": "Rural broadband in Kenya and Uganda",
        "reference": "WEB-1",
        "status": "active",
        "planned_start": "2021-01-01",
        "planned_end": "2022-12-31",
        "recipients-0-place": "KEN",
        "recipients-0-share": "60",
        "recipients-3-place": "UGA",  # a gap between rows is fine
        "recipients-3-share": "40",
        "areas-0-code": "23b",
        "areas-0-share": "50",
        "areas-1-code": "23d",
        "areas-1-share": "50",
        "need_amount": "1200000",
        "need_currency": "EUR",
        "wsis_action_lines": ["C2", "C4"],
    }
    form.update(overrides)
    return form


def errors_in(html: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="error-message" id="([^"]+)-error">([^<]+)</p>', html))


def test_lists_and_details_render_for_everyone(client, make_project, make_source, make_transaction):
    source = make_source(name="Digital Fund", countries=["KEN"], areas=["23b"])
    project = make_project(title="Clinics online", recipients=[{"country": "KEN"}, {"region": "014"}])
    make_transaction(project, currency="EUR", amount=Decimal("1000.00"), funding_source_id=source.id)
    listing = client.get("/projects?country=KEN&area=23b&sort=-start").data.decode()
    assert "Clinics online" in listing and "Kenya" in listing
    detail = client.get(f"/projects/{project.id}").data.decode()
    assert "Eastern Africa" in detail and "50 %" in detail
    assert "1,000.00 EUR" in detail and "Digital Fund" in detail and "History" in detail
    assert "Edit project" not in detail  # anonymous
    assert "Digital Fund" in client.get("/funding-sources?q=digital").data.decode()
    source_page = client.get(f"/funding-sources/{source.id}").data.decode()
    assert "Clinics online" in source_page and "Kenya" in source_page
    org_page = client.get(f"/organisations/{project.org_id}").data.decode()
    assert "Clinics online" in org_page
    assert project.org.name in client.get("/organisations").data.decode()


def test_a_flows_rate_reads_to_six_significant_digits_with_the_exact_one_on_hover(
    client, make_project, make_transaction
):
    project = make_project(title="Rates shown")
    tx = make_transaction(project, currency="SEK", amount=Decimal("1000.00"), value_date=dt.date(2020, 6, 1))
    db.session.commit()
    exact = Decimal(tx.usd_rate)
    assert len(exact.as_tuple().digits) > 6  # a cross rate through the euro: more digits than a reader needs
    detail = client.get(f"/projects/{project.id}").data.decode()
    cell = re.search(r'<span title="([^"]+)">([^<]+)</span> <span class="muted">\(2020', detail)
    assert cell is not None, detail
    assert Decimal(cell.group(1)) == exact
    assert Decimal(cell.group(2)) == round(exact, 5 - exact.adjusted())  # 6 significant digits
    assert len(cell.group(2).replace(".", "").lstrip("0")) <= 6


def test_list_reports_bad_filters_instead_of_failing(client, make_project):
    make_project(title="Still listed")
    page = client.get("/projects?country=KENYA&year_from=abc&page=-3")
    assert page.status_code == 200
    html = page.data.decode()
    assert "were not understood" in html and "Still listed" in html


def test_list_paginates(client, make_project):
    for n in range(27):
        make_project(title=f"Paged project {n:02d}")
    html = client.get("/projects?q=paged&page=2").data.decode()
    assert "27 projects · page 2 of 2" in html
    assert html.count("Paged project") == 2


def test_register_a_project_with_two_countries_and_two_areas(donor_client):
    new = donor_client.get("/projects/new").data.decode()
    for n in range(5):  # five rows without JavaScript
        assert f'name="recipients-{n}-place"' in new and f'name="areas-{n}-code"' in new
    response = donor_client.post("/projects/new", data=project_form())
    assert response.status_code == 302
    project = db.session.scalar(select(Project).where(Project.reference == "WEB-1"))
    assert project.org_id == donor_client.user.org_id
    assert {(r.country_iso3, r.share) for r in project.recipients} == {
        ("KEN", Decimal(60)),
        ("UGA", Decimal(40)),
    }
    assert [a.area_code for a in project.areas] == ["23b", "23d"]
    assert project.need_currency == "EUR" and project.action_lines == ["C2", "C4"]
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.entity_type == "project", AuditEvent.entity_id == project.id)
    )
    assert event.channel == "web" and event.actor == donor_client.user.email


def test_form_errors_are_shown_next_to_the_fields(donor_client):
    response = donor_client.post(
        "/projects/new",
        data=project_form(
            title="",
            **{"recipients-3-share": "30", "areas-1-code": "23z", "planned_end": "2020-01-01"},
            need_amount="12.345",
        ),
    )
    assert response.status_code == 422
    errors = errors_in(response.data.decode())
    assert "Required" in errors["title"] or "Shorter" in errors["title"] or errors["title"]
    assert "add up to 100" in errors["recipients"]
    assert "Unknown priority area" in errors["areas-1-code"]
    assert "before the start" in errors["planned_end"]
    assert "decimals" in errors["need-amount"]
    # What the user typed is kept.
    assert 'value="30"' in response.data.decode()
    assert db.session.scalar(select(Project).where(Project.reference == "WEB-1")) is None


def test_edit_project_records_the_change_and_refuses_a_stale_form(donor_client):
    donor_client.post("/projects/new", data=project_form())
    project = db.session.scalar(select(Project).where(Project.reference == "WEB-1"))
    edit = donor_client.get(f"/projects/{project.id}/edit").data.decode()
    assert 'name="version" value="1"' in edit and 'value="60"' in edit
    changed = project_form(title="Rural broadband, phase 2", version="1")
    assert donor_client.post(f"/projects/{project.id}/edit", data=changed).status_code == 302
    stale = project_form(title="Lost update", version="1")
    response = donor_client.post(f"/projects/{project.id}/edit", data=stale)
    assert response.status_code == 422 and b"Reload the project" in response.data
    db.session.expire_all()
    assert db.session.get(Project, project.id).title == "Rural broadband, phase 2"
    page = donor_client.get(f"/projects/{project.id}").data.decode()
    assert "Rural broadband in Kenya and Uganda" in page  # before
    assert "Rural broadband, phase 2" in page  # after
    assert "via web" in page and donor_client.user.email in page


def test_transactions_add_edit_delete_with_usd_value(donor_client):
    donor_client.post("/projects/new", data=project_form())
    project = db.session.scalar(select(Project).where(Project.reference == "WEB-1"))
    url = f"/projects/{project.id}/transactions"
    form = {
        "type": "commitment",
        "amount": "250000.00",
        "currency": "EUR",
        "value_date": "2021-03-15",
    }
    assert donor_client.post(f"{url}/new", data=form).status_code == 302
    # the next flow's form starts in the project's own currency, as a commitment
    blank = donor_client.get(f"{url}/new").data.decode()
    assert 'value="EUR" selected' in blank and 'value="commitment" selected' in blank
    tx = db.session.scalar(select(Transaction).where(Transaction.project_id == project.id))
    assert tx.amount == Decimal("250000.00") and tx.usd_rate_date == dt.date(2021, 3, 15)
    page = donor_client.get(f"/projects/{project.id}").data.decode()
    assert "250,000.00 EUR" in page and f"{tx.usd_amount:,.2f}" in page
    # the need card says which rate turned the euros into dollars
    assert "1,200,000.00 EUR at the ECB rate in force on Jan 1, 2021" in page
    bad = donor_client.post(f"{url}/{tx.id}/edit", data={**form, "amount": "1.234"})
    assert bad.status_code == 422 and "decimals" in errors_in(bad.data.decode())["amount"]
    ok = donor_client.post(f"{url}/{tx.id}/edit", data={**form, "amount": "300000"})
    assert ok.status_code == 302
    db.session.expire_all()
    assert db.session.get(Transaction, tx.id).amount == Decimal("300000.00")
    assert donor_client.post(f"{url}/{tx.id}/delete").status_code == 302
    # a delete now marks the row deleted (restorable): no read finds it any more
    assert db.session.scalar(select(Transaction).where(Transaction.id == tx.id)) is None
    assert db.session.get(Transaction, tx.id, execution_options={"include_deleted": True}).deleted_at is not None
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_type == "transaction", AuditEvent.entity_id == tx.id)
    ).all()
    assert sorted(actions) == ["create", "delete", "update"]


def test_an_implied_provider_follows_a_new_source_in_the_edit_form(donor_client, make_source, actor):
    """The form shows an implied provider as not chosen, so changing only the funding source
    credits the flow to the new source's manager, once that organisation confirms it (until
    then it stays the reporting donor's: naming a source does not make its manager a donor)."""
    donor_client.post("/projects/new", data=project_form())
    project = db.session.scalar(select(Project).where(Project.reference == "WEB-1"))
    url = f"/projects/{project.id}/transactions"
    form = {"type": "commitment", "amount": "1000", "currency": "EUR", "value_date": "2021-03-15"}
    assert donor_client.post(f"{url}/new", data=form).status_code == 302
    tx = db.session.scalar(select(Transaction).where(Transaction.project_id == project.id))
    assert tx.provider_org_id == project.org_id
    edit = donor_client.get(f"{url}/{tx.id}/edit").data.decode()
    assert '<option value="">Implied: the source' in edit
    assert f'<option value="{project.org_id}" selected' not in edit
    source = make_source()
    db.session.commit()
    posted = {**form, "funding_source_id": str(source.id), "provider_org_id": ""}
    assert donor_client.post(f"{url}/{tx.id}/edit", data=posted).status_code == 302
    db.session.expire_all()
    tx = db.session.get(Transaction, tx.id)
    assert tx.confirmed is False and tx.provider_org_id == project.org_id != source.managing_org_id
    from registry.services.projects import confirm_transaction

    confirm_transaction(actor, tx)  # an administrator, or the source's organisation
    assert tx.confirmed is True and tx.provider_org_id == source.managing_org_id


def test_flows_in_cfa_francs_are_offered_and_recorded(donor_client):
    """West and Central African budgets are in CFA francs, fixed to the euro; forms offer them."""
    donor_client.post("/projects/new", data=project_form(need_amount="655957000", need_currency="XOF"))
    project = db.session.scalar(select(Project).where(Project.reference == "WEB-1"))
    url = f"/projects/{project.id}/transactions"
    blank = donor_client.get(f"{url}/new").data.decode()
    for code in ("XOF", "XAF", "KMF", "CVE", "BAM"):
        assert f'<option value="{code}"' in blank, code
    form = {"type": "commitment", "amount": "131191400", "currency": "XOF", "value_date": "2021-03-15"}
    response = donor_client.post(f"{url}/new", data=form)
    assert response.status_code == 302, errors_in(response.data.decode())
    tx = db.session.scalar(select(Transaction).where(Transaction.project_id == project.id))
    assert (tx.amount, tx.currency, tx.usd_rate_date) == (Decimal("131191400"), "XOF", dt.date(2021, 3, 15))
    # 200,000 EUR at the ECB rate of 2021-03-15 (1.192 USD per EUR)
    assert tx.usd_amount == Decimal("238400.00")
    page = donor_client.get(f"/projects/{project.id}").data.decode()
    assert "131,191,400 XOF" in page and "655,957,000 XOF" in page
    finder = donor_client.get("/find-funding").data.decode()
    assert '<option value="XOF"' in finder
    match = donor_client.get(
        "/api/v1/funding-sources/match?country=SEN&priority_area=23b&amount=655957000&currency=XOF"
    )
    assert match.status_code == 200, match.get_json()


def test_delete_project_through_the_form(donor_client):
    donor_client.post("/projects/new", data=project_form())
    project = db.session.scalar(select(Project).where(Project.reference == "WEB-1"))
    response = donor_client.post(f"/projects/{project.id}/delete", data={"version": "1"})
    assert response.status_code == 302
    # a delete now marks the row deleted (restorable): no read finds it any more
    assert db.session.scalar(select(Project).where(Project.id == project.id)) is None
    assert db.session.get(Project, project.id, execution_options={"include_deleted": True}).deleted_at is not None


def test_funding_source_forms(donor_client):
    form = {
        "name": "Nordic digital window",
        "ref": "NDW",
        "kind": "bilateral_oda",
        "instruments": ["grant", "technical_assistance"],
        "countries": "KEN, uga",
        "regions": "014",
        "areas": ["23b"],
        "categories": ["LDC"],
        "min_amount": "50000",
        "max_amount": "2000000",
        "amount_currency": "EUR",
    }
    assert donor_client.post("/funding-sources/new", data=form).status_code == 302
    source = db.session.scalar(select(FundingSource).where(FundingSource.ref == "NDW"))
    assert source.managing_org_id == donor_client.user.org_id
    assert [c.iso3 for c in source.countries] == ["KEN", "UGA"]
    assert source.instruments == ["grant", "technical_assistance"]
    bad = donor_client.post(
        f"/funding-sources/{source.id}/edit",
        data={**form, "max_amount": "10", "countries": "KEN, XXX", "version": "1"},
    )
    assert bad.status_code == 422
    errors = errors_in(bad.data.decode())
    assert "countries-0" not in errors and any(k.startswith("countries") for k in errors)
    ok = donor_client.post(f"/funding-sources/{source.id}/edit", data={**form, "countries": "NPL", "version": "1"})
    assert ok.status_code == 302
    db.session.expire_all()
    source = db.session.get(FundingSource, source.id)
    assert [c.iso3 for c in source.countries] == ["NPL"] and source.version == 2
    page = donor_client.get(f"/funding-sources/{source.id}").data.decode()
    assert "Nepal" in page and "EUR 50,000.00 – 2,000,000.00" in page
    assert donor_client.post(f"/funding-sources/{source.id}/delete", data={"version": "2"}).status_code == 302
    # a delete now marks the row deleted (restorable): no read finds it any more
    assert db.session.scalar(select(FundingSource).where(FundingSource.id == source.id)) is None
    assert db.session.get(FundingSource, source.id, execution_options={"include_deleted": True}).deleted_at is not None


def test_analysts_get_no_forms(client, make_user):
    user, _ = make_user("analyst")
    db.session.commit()
    log_in(client, user)
    assert client.get("/projects/new").status_code == 403
    assert client.get("/funding-sources/new").status_code == 403
    assert b"Register a project" not in client.get("/projects").data


def test_history_shows_amounts_as_the_page_does():
    from registry.web import audit_value

    assert audit_value("1000000.00") == "1,000,000.00"
    assert audit_value({"amount": "1250000.50", "currency": "EUR"}) == "1,250,000.50 EUR"
    assert audit_value([{"country": "KEN", "share": "60"}]) == "KEN 60 %"
    assert audit_value("2021-01-01") == "2021-01-01"
