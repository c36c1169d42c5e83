"""Deleted projects and flows are in no report, export or re-import: a report's totals drop by
exactly the deleted flows' amounts (to the cent, against the test's own sum of them), and a
restore brings back the same totals."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from lxml import etree
from sqlalchemy import func, select

from importers import pipeline
from registry.extensions import db
from registry.models import Project, Transaction
from registry.models.soft_delete import INCLUDE_DELETED
from registry.services import deletion
from reports import facts
from reports.flows import build_spec
from reports.workbook import funding_gap_workbook
from tests.importers.helpers import csv_bytes

MEASURES = ("pledge", "commitment", "disbursement", "expenditure", "need")


@pytest.fixture
def registry(make_org, make_project, make_transaction):
    """Three projects with USD flows and needs; one EUR flow."""
    org = make_org(ref="SD-DONOR")
    kept = make_project(
        org=org,
        title="Kept",
        recipients=[{"country": "KEN", "share": Decimal("60")}, {"country": "UGA", "share": Decimal("40")}],
        need={"amount": "90000.00", "currency": "USD", "date": dt.date(2020, 1, 1)},
    )
    gone = make_project(
        org=org,
        title="Gone",
        recipients=[{"country": "NPL", "share": Decimal("100")}],
        need={"amount": "5000.55", "currency": "USD", "date": dt.date(2020, 1, 1)},
    )
    other = make_project(org=org, title="Other", recipients=[{"region": "002"}])
    flows = {
        "kept_c": make_transaction(kept, amount=Decimal("12345.67")),
        "kept_eur": make_transaction(kept, amount=Decimal("1000.00"), currency="EUR", value_date=dt.date(2021, 3, 1)),
        "gone_c": make_transaction(gone, amount=Decimal("1000.01")),
        "gone_c2": make_transaction(gone, amount=Decimal("0.07"), value_date=dt.date(2022, 5, 5)),
        "gone_d": make_transaction(gone, type="disbursement", amount=Decimal("250.50")),
        "gone_p": make_transaction(gone, type="pledge", amount=Decimal("3.33")),
        "other_c": make_transaction(other, amount=Decimal("99.99")),
        "other_x": make_transaction(other, type="expenditure", amount=Decimal("44.44")),
    }
    db.session.commit()
    return {"org": org, "kept": kept, "gone": gone, "other": other, "flows": flows}


def _totals(client, path: str, currency: str = "USD") -> dict[str, Decimal]:
    response = client.get(f"/api/v1/reports/{path}&currency={currency}")
    assert response.status_code == 200, response.get_json()
    total = response.get_json()["total"]
    return {m: Decimal(total[m]) for m in MEASURES if total.get(m) is not None}


REPORTS = ["flows?by=country", "flows?by=region&by=priority_area", "funding-gap?by=region", "flows?by=year"]


def _usd(tx: Transaction) -> Decimal:
    return tx.usd_amount


@pytest.mark.parametrize("path", REPORTS)
def test_totals_drop_by_exactly_the_deleted_amounts_and_come_back(client, registry, actor, path):
    before = _totals(client, path)
    flows = registry["flows"]
    deletion.delete_project(actor, registry["gone"])
    deletion.delete_transaction(actor, flows["other_x"])
    db.session.commit()
    assert not facts.stale()  # the delete's commit refreshed the facts
    after = _totals(client, path)

    # the test's own sums of what was deleted, by measure
    dropped = {
        "pledge": flows["gone_p"].usd_amount,
        "commitment": flows["gone_c"].usd_amount + flows["gone_c2"].usd_amount,
        "disbursement": flows["gone_d"].usd_amount,
        "expenditure": flows["other_x"].usd_amount,
        "need": Decimal("5000.55"),
    }
    assert dropped["commitment"] == Decimal("1000.08")
    for measure in before:
        assert before[measure] - after[measure] == dropped[measure], measure
    # and what is left is the sum of the live flows, computed apart from the report
    live = select(func.sum(Transaction.usd_minor)).where(Transaction.type == "commitment")
    assert (
        after["commitment"]
        == Decimal(db.session.scalar(live)) / 100
        == Decimal("12345.67") + Decimal("99.99") + flows["kept_eur"].usd_amount
    )

    deletion.restore_project(actor, deletion.load_deleted("project", registry["gone"].id))
    deletion.restore_transaction(actor, deletion.load_deleted("transaction", flows["other_x"].id))
    db.session.commit()
    assert _totals(client, path) == before


def test_reports_in_another_currency_and_the_staged_workbook_leave_deleted_flows_out(client, registry, actor):
    spec = build_spec(by="region", currency="EUR")

    def summary() -> dict:
        book = openpyxl.load_workbook(io.BytesIO(funding_gap_workbook(build_spec(by="region"))))
        sheet = book["Summary"]
        return {sheet.cell(row=r, column=1).value: sheet.cell(row=r, column=2).value for r in range(5, 14)}

    eur_before = _totals(client, "flows?by=region", "EUR")
    book_before = summary()
    deletion.delete_project(actor, registry["gone"])
    db.session.commit()
    eur_after = _totals(client, "flows?by=region", "EUR")
    book_after = summary()
    assert eur_after["commitment"] < eur_before["commitment"]
    assert eur_after["disbursement"] == eur_before["disbursement"] - _totals_of_gone_in_eur(client, registry, actor)
    assert Decimal(str(book_before["Commitments"])) - Decimal(str(book_after["Commitments"])) == Decimal("1000.08")
    assert spec is not None
    deletion.restore_project(actor, deletion.load_deleted("project", registry["gone"].id))
    db.session.commit()
    assert _totals(client, "flows?by=region", "EUR") == eur_before
    assert summary() == book_before


def _totals_of_gone_in_eur(client, registry, actor) -> Decimal:
    """The EUR value of the deleted disbursement, as the report converts it alone: the only
    disbursement in the registry, so a report with it restored shows it by itself."""
    deletion.restore_project(actor, deletion.load_deleted("project", registry["gone"].id))
    db.session.commit()
    value = _totals(client, "flows?by=region", "EUR")["disbursement"]
    deletion.delete_project(actor, registry["gone"])
    db.session.commit()
    return value


def test_csv_exports_leave_deleted_projects_out(client, registry, actor):
    def rows() -> list[list[str]]:
        response = client.get("/api/v1/reports/flows.csv?by=country")
        assert response.status_code == 200
        return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))

    before = rows()
    assert any(r and r[0].startswith("NPL") or "Nepal" in ",".join(r) for r in before)
    deletion.delete_project(actor, registry["gone"])
    db.session.commit()
    after = rows()
    assert not any("Nepal" in ",".join(r) for r in after)


def test_iati_export_leaves_deleted_projects_out(client, registry, actor):
    def titles() -> list[str]:
        response = client.get("/api/v1/projects.iati.xml")
        assert response.status_code == 200
        return [a.findtext("title/narrative") for a in etree.fromstring(response.data).findall("iati-activity")]

    assert "Gone" in titles()
    deletion.delete_project(actor, registry["gone"])
    db.session.commit()
    assert "Gone" not in titles() and "Kept" in titles()


HEADER = ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"]


def test_reimporting_a_deleted_project_is_refused_not_doubled_nor_resurrected(app, actor, make_org):
    org = make_org(ref="SD-IMP")
    db.session.commit()
    data = csv_bytes([HEADER, ["R-1", "School links", "KEN", "commitment", "1000", "USD", "2021-03-01"]])
    pipeline.run_import("sheet", "a.csv", data, org, actor)
    db.session.commit()
    project = db.session.scalar(select(Project).where(Project.org_id == org.id))
    deletion.delete_project(actor, project)
    db.session.commit()
    corrected = csv_bytes([HEADER, ["R-1", "School links", "KEN", "commitment", "1200", "USD", "2021-03-01"]])
    batch = pipeline.run_import("sheet", "b.csv", corrected, org, actor)
    db.session.commit()
    assert batch.status == "failed"
    assert [p["code"] for p in batch.problems] == ["deleted_project"]
    assert "was deleted on" in batch.problems[0]["message"]
    every = select(func.count()).select_from(Project).where(Project.org_id == org.id)
    assert db.session.scalar(every, execution_options=INCLUDE_DELETED) == 1  # not doubled
    assert db.session.get(Project, project.id, execution_options=INCLUDE_DELETED, populate_existing=True).deleted_at
    amounts = select(Transaction.amount_minor, Transaction.deleted_at).where(Transaction.project_id == project.id)
    rows = db.session.execute(amounts, execution_options=INCLUDE_DELETED).all()
    assert [(a, d is not None) for a, d in rows] == [(100_000, True)]  # nothing written into it


def test_reimport_keeps_a_flow_deleted_by_hand_deleted(app, actor, make_org):
    org = make_org(ref="SD-FLOW")
    db.session.commit()
    data = csv_bytes(
        [
            HEADER,
            ["R-2", "Links", "KEN", "commitment", "1000", "USD", "2021-03-01"],
            ["R-2", "Links", "KEN", "disbursement", "400", "USD", "2021-06-01"],
        ]
    )
    pipeline.run_import("sheet", "a.csv", data, org, actor)
    db.session.commit()
    project = db.session.scalar(select(Project).where(Project.org_id == org.id))
    tx = db.session.scalar(
        select(Transaction).where(Transaction.project_id == project.id, Transaction.type == "disbursement")
    )
    deletion.delete_transaction(actor, tx)
    db.session.commit()
    renamed = data.replace(b"Links", b"Links again")
    batch = pipeline.run_import("sheet", "b.csv", renamed, org, actor)
    db.session.commit()
    assert batch.status == "committed", batch.problems
    assert [p["code"] for p in batch.problems] == ["deleted_flow"]
    live = db.session.execute(
        select(Transaction.type, Transaction.amount_minor).where(Transaction.project_id == project.id)
    )
    assert [(t.value, a) for t, a in live] == [("commitment", 100_000)]
    kept = db.session.get(Transaction, tx.id, execution_options=INCLUDE_DELETED, populate_existing=True)
    assert kept is not None and kept.deleted_at is not None  # still there, restorable
    deletion.restore_transaction(actor, kept)
    db.session.commit()
    assert (
        db.session.scalar(select(func.sum(Transaction.amount_minor)).where(Transaction.project_id == project.id))
        == 140_000
    )


def test_import_undo_still_removes_what_it_created_even_when_deleted(app, actor, make_org):
    org = make_org(ref="SD-UNDO")
    db.session.commit()
    data = csv_bytes([HEADER, ["U-1", "Undo me", "KEN", "commitment", "1000", "USD", "2021-03-01"]])
    batch = pipeline.run_import("sheet", "a.csv", data, org, actor)
    db.session.commit()
    project = db.session.scalar(select(Project).where(Project.org_id == org.id))
    project_id = project.id
    deletion.delete_project(actor, project)
    db.session.commit()
    pipeline.undo_batch(batch.id, actor)
    db.session.commit()
    every = select(func.count()).select_from(Project).where(Project.org_id == org.id)
    assert db.session.scalar(every, execution_options=INCLUDE_DELETED) == 0  # gone for good, not restorable
    flows = select(func.count()).select_from(Transaction).where(Transaction.project_id == project_id)
    assert db.session.scalar(flows, execution_options=INCLUDE_DELETED) == 0


def test_import_undo_refuses_to_refill_a_project_deleted_since(app, actor, make_org):
    org = make_org(ref="SD-UNDO2")
    db.session.commit()
    first = csv_bytes([HEADER, ["U-2", "Kept", "KEN", "commitment", "1000", "USD", "2021-03-01"]])
    second = csv_bytes([HEADER, ["U-2", "Kept", "KEN", "commitment", "1500", "USD", "2021-03-01"]])
    pipeline.run_import("sheet", "a.csv", first, org, actor)
    db.session.commit()
    later = pipeline.run_import("sheet", "b.csv", second, org, actor)
    db.session.commit()
    project = db.session.scalar(select(Project).where(Project.org_id == org.id))
    deletion.delete_project(actor, project)
    db.session.commit()
    from registry.errors import ConflictError

    with pytest.raises(ConflictError, match="restore it before undoing"):
        pipeline.undo_batch(later.id, actor)
    db.session.rollback()
    live = select(Transaction.amount_minor).where(Transaction.project_id == project.id)
    assert db.session.execute(live, execution_options=INCLUDE_DELETED).scalars().all() == [150_000]


@pytest.mark.parametrize("currency", ["USD", "EUR"])
@pytest.mark.parametrize("by", ["source_kind", "funding_source"])
def test_a_deleted_funding_sources_flows_stay_where_they_were_recorded(
    client, make_project, make_transaction, make_source, actor, by, currency
):
    """The money is the projects': deleting the source it was recorded against hides the
    source from the catalogue and the finder, not the money, nor its attribution."""
    source = make_source(name="Closing fund", kind="multilateral")
    project = make_project()
    make_transaction(project, amount=Decimal("777.77"), funding_source_id=source.id)
    make_transaction(project, amount=Decimal("22.23"))
    db.session.commit()
    url = f"/api/v1/reports/flows?by={by}&measure=commitment&currency={currency}"
    before = client.get(url).get_json()
    deletion.delete_funding_source(actor, source)
    db.session.commit()
    after = client.get(url).get_json()
    assert after["total"] == before["total"] and after["rows"] == before["rows"]
    labels = {row[f"{by}_label"] for row in after["rows"]}
    assert labels == {"Multilateral" if by == "source_kind" else f"Closing fund ({source.ref})", "Not recorded"}
