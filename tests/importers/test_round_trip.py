"""The donor's round trip: download the projects in the import template, edit them, import
the file again; only what changed is updated, nothing is counted twice."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import func, select

from importers import pipeline
from importers.template import filled_workbook, template_columns
from registry.extensions import db
from registry.models import PlannedDisbursement, Project, Transaction
from registry.models.types import Role
from registry.services import accounts
from registry.services import plans as plan_service
from registry.services import projects as project_service
from registry.services.actor import Actor
from tests.sessions import log_in

HEADERS = [name for name, *_ in template_columns()]


@pytest.fixture
def donor(app, actor, make_org, make_project, make_transaction):
    """A donor with two projects entered by hand (one with two countries), three flows, and a
    deleted project."""
    org = make_org(ref="RT-DON", name="Round trip donor")
    one = make_project(org, reference="007", title="Schools online")
    make_transaction(one, amount=Decimal("1000.50"))
    make_transaction(one, type="disbursement", amount=Decimal("400"), value_date=dt.date(2021, 3, 1))
    two = make_project(
        org,
        reference="RT-2",
        title='=HYPERLINK("http://x")',
        recipients=[{"country": "KEN", "share": Decimal(60)}, {"country": "UGA", "share": Decimal(40)}],
        areas=[{"code": "23a", "share": Decimal(50)}, {"code": "23b", "share": Decimal(50)}],
    )
    make_transaction(two, amount=Decimal("2500"), currency="EUR")
    gone = make_project(org, reference="RT-GONE", title="Deleted one")
    project_service.delete_project(actor, gone)
    db.session.commit()
    return org


def _download(org, path):
    with open(path, "wb") as out:
        filled_workbook(org, out)
    return path


def _rows(path):
    sheet = openpyxl.load_workbook(path)["Projects"]
    rows = list(sheet.iter_rows(values_only=True))
    return rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def _save(path, rows):
    book = openpyxl.load_workbook(path)
    sheet = book["Projects"]
    sheet.delete_rows(2, sheet.max_row)
    for r in rows:
        sheet.append([r.get(h) for h in HEADERS])
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text, as a spreadsheet keeps a text cell
    book.save(path)


def _import(org, path, dry_run=True):
    actor = Actor(label="donor", channel="web", role=Role.DONOR, org_id=org.id)
    batch = pipeline.run_import("sheet", path.name, path.read_bytes(), org, actor, dry_run=dry_run)
    db.session.commit()
    return batch


def _totals(org):
    from reports.flows import build_spec, run_report

    report = run_report(build_spec(by="donor", measures="commitment,disbursement", currency="USD", donor=org.ref))
    return [(r["commitment"], r["disbursement"]) for r in report.rows]


def test_the_filled_template_is_the_blank_one_with_the_projects(donor, tmp_path):
    path = _download(donor, tmp_path / "mine.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Instructions", "Projects", "Lists"]
    header, rows = _rows(path)
    assert list(header) == HEADERS
    assert [r["Project reference"] for r in rows] == ["007", "007", "RT-2", "RT-2"]  # one row per flow, or recipient
    assert "RT-GONE" not in {r["Project reference"] for r in rows}  # soft-deleted: left out
    first = rows[0]
    assert first["Project title"] == "Schools online" and first["Recipient country"] == "KEN"
    assert first["Amount"] == 1000.5 and first["Currency"] == "USD" and first["Transaction type"] == "commitment"
    assert first["Priority area"] == "23b (100%)" and first["Status"] == "active"
    assert isinstance(first["Flow id"], int)
    two = [r for r in rows if r["Project reference"] == "RT-2"]
    assert [(r["Recipient country"], r["Country share (%)"]) for r in two] == [("KEN", 60), ("UGA", 40)]
    assert two[0]["Amount"] == 2500 and two[0]["Currency"] == "EUR" and two[1]["Amount"] is None
    assert rows[1]["Project title"] is None and rows[1]["Flow id"] is not None  # the project's cells once
    # Formula-safe: a title that looks like a formula is text.
    sheet = book["Projects"]
    cell = sheet.cell(4, HEADERS.index("Project title") + 1)
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s"
    assert book["Projects"].data_validations.dataValidation  # the drop-down lists are there


def test_an_unchanged_file_changes_nothing_and_counts_nothing_twice(donor, tmp_path):
    before = _totals(donor)
    flows = db.session.scalar(select(func.count()).select_from(Transaction))
    path = _download(donor, tmp_path / "mine.xlsx")
    preview = _import(donor, path)
    assert preview.status == "previewed", preview.problems
    c = preview.counts
    assert (c["projects_created"], c["projects_updated"], c["transactions"]) == (0, 0, 0), c
    assert c["projects_unchanged"] == 2 and not c.get("changes")
    committed = _import(donor, path, dry_run=False)
    assert committed.status == "committed"
    assert db.session.scalar(select(func.count()).select_from(Transaction)) == flows
    assert _totals(donor) == before


def test_one_title_one_amount_and_one_new_flow_are_exactly_what_changes(donor, tmp_path):
    path = _download(donor, tmp_path / "mine.xlsx")
    _header, rows = _rows(path)
    rows[0]["Project title"] = "Schools online, phase 2"
    rows[0]["Amount"] = 1500
    changed_id = rows[0]["Flow id"]
    new = {**rows[1], "Flow id": None, "Transaction type": "disbursement", "Amount": 250}
    _save(path, [*rows, new])
    preview = _import(donor, path)
    assert preview.status == "previewed", preview.problems
    c = preview.counts
    assert (c["projects_created"], c["projects_updated"], c["transactions"], c["transactions_updated"]) == (0, 1, 1, 1)
    said = {(ch["project"], ch["flow"], ch["field"], ch["old"], ch["new"]) for ch in c["changes"]}
    assert said == {
        ("007", None, "title", "Schools online", "Schools online, phase 2"),
        ("007", changed_id, "amount", "1000.50 USD", "1500.00 USD"),
        ("007", None, "flow", None, "disbursement 250.00 USD 2021-03-01"),
    }
    committed = _import(donor, path, dry_run=False)
    assert committed.status == "committed", committed.problems
    flow = db.session.get(Transaction, changed_id)
    assert flow.amount_minor == 150000 and flow.project.title == "Schools online, phase 2"
    assert (
        db.session.scalar(
            select(func.count()).select_from(Transaction).where(Transaction.project_id == flow.project_id)
        )
        == 3
    )
    # Uploading the same file again changes nothing.
    again = _import(donor, path)
    assert again.already_imported or (again.counts["projects_updated"], again.counts["transactions"]) == (0, 0)
    # The undo puts the flow back as it was.
    pipeline.undo_batch(committed.id, Actor(label="t", channel="cli", role=Role.ADMIN))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Transaction, changed_id).amount_minor == 100050


def test_a_flow_left_out_of_the_file_is_kept_and_reported(donor, tmp_path):
    path = _download(donor, tmp_path / "mine.xlsx")
    _header, rows = _rows(path)
    gone = rows[1]["Flow id"]
    _save(path, [rows[0], *rows[2:]])
    preview = _import(donor, path)
    assert preview.status == "previewed", preview.problems
    assert preview.counts["transactions_kept"] == 1 and preview.counts["projects_updated"] == 0
    [warning] = [p for p in preview.problems if p["code"] == "flow_not_in_file"]
    assert str(gone) in warning["message"]
    _import(donor, path, dry_run=False)
    assert db.session.get(Transaction, gone) is not None


def test_a_flow_id_of_another_project_is_an_error(donor, tmp_path):
    path = _download(donor, tmp_path / "mine.xlsx")
    _header, rows = _rows(path)
    rows[0]["Flow id"] = rows[2]["Flow id"]
    _save(path, rows)
    preview = _import(donor, path)
    assert preview.status == "failed"
    assert [p["code"] for p in preview.problems if p["severity"] == "error"] == ["unknown_flow_id"]


def test_who_may_download_which_projects(app, client, actor, donor, make_org):
    other = make_org(ref="RT-OTHER")
    user = accounts.create_user(actor, "rt-donor@example.org", "donor", org=donor)
    admin = accounts.create_user(actor, "rt-admin@example.org", "admin")
    analyst = accounts.create_user(actor, "rt-analyst@example.org", "analyst")
    db.session.commit()
    log_in(client, user)
    page = client.get("/imports/")
    assert 'id="my-projects"' in page.get_data(as_text=True)
    response = client.get("/imports/my-projects.xlsx")
    assert response.status_code == 200 and "RT-DON" in response.headers["Content-Disposition"]
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data))["Projects"].iter_rows(values_only=True))
    assert len(rows) == 5
    assert client.get(f"/imports/my-projects.xlsx?org_id={other.id}").status_code == 403
    log_in(client, admin)
    assert 'id="download-org"' in client.get("/imports/").get_data(as_text=True)
    assert client.get(f"/imports/my-projects.xlsx?org_id={donor.id}").status_code == 200
    log_in(client, analyst)
    assert client.get(f"/imports/my-projects.xlsx?org_id={donor.id}").status_code == 403


def test_the_api_gives_the_filled_template(app, client, actor, donor, make_org):
    other = make_org(ref="RT-OTHER2")
    user = accounts.create_user(actor, "rt-api@example.org", "donor", org=donor)
    db.session.commit()
    headers = {"Authorization": f"Bearer {accounts.issue_token(actor, user)}"}
    db.session.commit()
    response = client.get("/api/v1/imports/template.xlsx?org=RT-DON", headers=headers)
    assert response.status_code == 200, response.data
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data))["Projects"].iter_rows(values_only=True))
    assert len(rows) == 5
    assert client.get(f"/api/v1/imports/template.xlsx?org={other.ref}", headers=headers).status_code == 403
    assert client.get("/api/v1/imports/template.xlsx", headers=headers).status_code == 200  # the blank one


def _plans(org) -> list[tuple]:
    db.session.expire_all()
    rows = db.session.execute(
        select(
            Project.reference,
            PlannedDisbursement.period_start,
            PlannedDisbursement.amount_minor,
            PlannedDisbursement.currency,
            PlannedDisbursement.value_date,
            PlannedDisbursement.provider_name,
        )
        .join(Project, Project.id == PlannedDisbursement.project_id)
        .where(Project.org_id == org.id)
        .order_by(Project.reference, PlannedDisbursement.period_start, PlannedDisbursement.currency)
    )
    return [tuple(r) for r in rows]


def test_planned_disbursements_go_round_the_trip_unchanged(donor, actor, tmp_path):
    """The next three years' plans are written in their currency's row (one more row when no
    row has it); uploading the file unchanged changes nothing, their value dates included, and
    a changed cell changes that year only."""
    year = dt.date.today().year + 1
    one = db.session.scalar(select(Project).where(Project.reference == "007"))
    two = db.session.scalar(select(Project).where(Project.reference == "RT-2"))
    plan = dict(currency="USD", value_date=dt.date(2024, 1, 2))
    plan_service.set_plans(
        actor,
        one,
        planned=[
            # two quarters of next year from an IATI file (with their provider), 1,000.00 USD in all
            {
                **plan,
                "period_start": dt.date(year, 1, 1),
                "period_end": dt.date(year, 3, 31),
                "amount": "600.00",
                "provider_name": "Fund",
            },
            {**plan, "period_start": dt.date(year, 4, 1), "period_end": dt.date(year, 6, 30), "amount": "400.00"},
            {
                **plan,
                "period_start": dt.date(year + 1, 1, 1),
                "period_end": dt.date(year + 1, 12, 31),
                "amount": "250.50",
                "currency": "EUR",
            },  # 007 has no flow in euros: a row of its own
            {
                **plan,
                "period_start": dt.date(year + 5, 1, 1),
                "period_end": dt.date(year + 5, 12, 31),
                "amount": "99.00",
            },  # beyond the template's years
        ],
    )
    plan_service.set_year_plan(actor, two, {year + 2: "7000"}, "EUR")
    db.session.commit()
    before = _plans(donor)
    path = _download(donor, tmp_path / "mine.xlsx")
    header, rows = _rows(path)
    assert [h for h in header if h.startswith("Planned ") and h[8:].isdigit()] == [
        f"Planned {year}",
        f"Planned {year + 1}",
        f"Planned {year + 2}",
    ]
    cells = [
        (
            r["Project reference"],
            r["Currency"],
            r[f"Planned {year}"],
            r[f"Planned {year + 1}"],
            r[f"Planned {year + 2}"],
        )
        for r in rows
        if any(r[f"Planned {y}"] is not None for y in (year, year + 1, year + 2))
    ]
    assert cells == [
        ("007", "USD", 1000, None, None),
        ("007", "EUR", None, 250.5, None),
        ("RT-2", "EUR", None, None, 7000),
    ]
    assert rows[2]["Flow id"] is None and rows[2]["Amount"] is None  # the euro plan's own row

    preview = _import(donor, path)
    assert preview.status == "previewed", preview.problems
    c = preview.counts
    assert (c["projects_updated"], c["transactions"], c.get("plans_replaced", 0)) == (0, 0, 0), c
    committed = _import(donor, path, dry_run=False)
    assert committed.status == "committed", committed.problems
    assert _plans(donor) == before  # the quarters, the provider and the value dates are kept

    edited = [{**r, f"Planned {year + 2}": 7500} if r[f"Planned {year + 2}"] == 7000 else r for r in rows]
    _save(path, edited)
    changed = _import(donor, path, dry_run=False)
    assert changed.status == "committed", [p for p in changed.problems if p["severity"] == "error"]
    assert changed.counts["plans_replaced"] == 1
    after = _plans(donor)
    assert [p for p in after if p[0] == "007"] == [p for p in before if p[0] == "007"]
    assert [(p[0], p[1], p[2], p[3]) for p in after if p[0] == "RT-2"] == [
        ("RT-2", dt.date(year + 2, 1, 1), 750000, "EUR")
    ]
