"""Tied status: on every flow (the project's default, the flow's own), in from IATI, out to
IATI, through the API, and the untied share of commitments with unknown kept apart."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from marshmallow import ValidationError as SchemaError
from sqlalchemy import select

from importers.iati_export import write_iati
from importers.interop import import_iati
from registry.errors import ValidationError
from registry.extensions import db
from registry.models import Project
from registry.models.types import Role, tied_status_code
from registry.schemas.projects import TransactionIn
from registry.services.actor import Actor
from registry.services.projects import add_transaction, update_project
from reports.flows import build_spec
from reports.tied import tied_report
from tests.importers.iati_xml import activity, document

ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)


def _tx(code: str, amount: str, tied: str = "") -> str:
    own = f'<tied-status code="{tied}"/>' if tied else ""
    return (
        f'<transaction><transaction-type code="{code}"/><transaction-date iso-date="2021-03-01"/>'
        f'<value currency="USD" value-date="2021-03-01">{amount}</value>{own}</transaction>'
    )


def test_words_and_codes_read_as_iati_codes():
    assert [tied_status_code(v) for v in ("5", "4.0", "Partially tied", "partially_tied", " UNTIED ", "")] == [
        "5",
        "4",
        "3",
        "3",
        "5",
        None,
    ]


def test_iati_default_and_transaction_override_and_round_trip(app, tmp_path):
    xml = document(
        activity(
            "XM-TEST-1-TIED",
            extra="",
            transactions=_tx("2", "1000.00") + _tx("2", "250.00", tied="4") + _tx("3", "400.00"),
        ).replace('<default-aid-type code="C01"/>', '<default-aid-type code="C01"/><default-tied-status code="5"/>')
    )
    path = tmp_path / "tied.xml"
    path.write_bytes(xml)
    result = import_iati(path, ADMIN)
    assert result.ok, [p for b in result.batches for p in b.problems if p["severity"] == "error"]
    project = db.session.scalar(select(Project).where(Project.iati_identifier == "XM-TEST-1-TIED"))
    assert project.default_tied_status == "5"
    flows = sorted(project.transactions, key=lambda t: (t.type.value, t.amount))
    assert [(t.type.value, str(t.amount), t.tied_status, t.effective_tied_status) for t in flows] == [
        ("commitment", "250.00", "4", "4"),
        ("commitment", "1000.00", None, "5"),
        ("disbursement", "400.00", None, "5"),
    ]
    out = io.BytesIO()
    write_iati([project], out)
    exported = out.getvalue().decode()
    assert '<default-tied-status code="5"/>' in exported
    assert exported.count("<tied-status ") == 1 and '<tied-status code="4"/>' in exported
    # and back in: the same statuses
    db.session.delete(project)
    db.session.flush()
    again = tmp_path / "again.xml"
    again.write_bytes(out.getvalue())
    assert import_iati(again, ADMIN).ok
    back = db.session.scalar(select(Project).where(Project.iati_identifier == "XM-TEST-1-TIED"))
    assert back.default_tied_status == "5"
    assert sorted((str(t.amount), t.tied_status) for t in back.transactions) == [
        ("1000.00", None),
        ("250.00", "4"),
        ("400.00", None),
    ]


def test_untied_share_by_donor_to_the_cent_unknown_never_untied(app, make_org, make_project, make_transaction):
    donor_a, donor_b = make_org(ref="DONOR-A"), make_org(ref="DONOR-B")
    # A: default untied; one flow tied, one partially tied, one untied by default
    a = make_project(org=donor_a, default_tied_status="untied")
    make_transaction(a, amount=Decimal("1000.10"))  # untied (default)
    make_transaction(a, amount=Decimal("300.25"), tied_status="4")  # tied
    make_transaction(a, amount=Decimal("199.65"), tied_status="partially tied")  # partially tied
    make_transaction(a, type="disbursement", amount=Decimal("5000.00"))  # not a commitment
    # B: no default; one untied flow and one unknown
    b = make_project(org=donor_b)
    make_transaction(b, amount=Decimal("700.00"), tied_status="5")
    make_transaction(b, amount=Decimal("2100.00"))  # unknown
    db.session.commit()

    report = tied_report(build_spec(by="donor"))
    by_donor = {r["donor"]: r for r in report["rows"]}
    row_a, row_b = by_donor[donor_a.id], by_donor[donor_b.id]
    assert row_a["donor_label"] and row_b["donor_label"]
    assert (row_a["tied"], row_a["partially_tied"], row_a["untied"], row_a["unknown"]) == (
        "300.25",
        "199.65",
        "1000.10",
        "0.00",
    )
    # 1000.10 / (300.25 + 199.65 + 1000.10) = 1000.10 / 1500.00
    assert row_a["untied_share"] == str((Decimal("1000.10") / Decimal("1500.00")).quantize(Decimal("0.0001")))
    # B: the unknown 2100 is shown apart and is not in the denominator: 700 / 700 = 1
    assert (row_b["untied"], row_b["unknown"], row_b["untied_share"]) == ("700.00", "2100.00", "1.0000")
    total = report["total"]
    assert total["unknown"] == "2100.00"
    # (1000.10 + 700) / (300.25 + 199.65 + 1000.10 + 700)
    expected = (Decimal("1700.10") / Decimal("2200.00")).quantize(Decimal("0.0001"))
    assert total["untied_share"] == str(expected)
    # a project with only unknown flows has no untied share, rather than 0 or 1
    c = make_project(org=make_org(ref="DONOR-C"))
    make_transaction(c, amount=Decimal("10.00"))
    db.session.commit()
    row_c = next(r for r in tied_report(build_spec(by="donor"))["rows"] if r["unknown"] == "10.00")
    assert row_c["untied_share"] is None


def test_api_accepts_validates_and_shows_tied_status(app, client, make_org, make_project):
    project = make_project(default_tied_status="3")
    tx = add_transaction(
        ADMIN,
        project,
        {"type": "commitment", "amount": "10.00", "currency": "USD", "value_date": dt.date(2021, 1, 1)},
    )
    assert tx.tied_status is None and tx.effective_tied_status == "3"
    update_project(ADMIN, project, {"default_tied_status": None})
    assert tx.effective_tied_status is None
    with pytest.raises(ValidationError):
        update_project(ADMIN, project, {"default_tied_status": "7"})
    loaded = TransactionIn().load(
        {"type": "commitment", "amount": "1.00", "currency": "USD", "value_date": "2021-01-01", "tied_status": "untied"}
    )
    assert loaded["tied_status"] == "5"
    with pytest.raises(SchemaError):
        TransactionIn().load(
            {"type": "commitment", "amount": "1.00", "currency": "USD", "value_date": "2021-01-01", "tied_status": "x"}
        )
    db.session.commit()
    response = client.get("/api/v1/reports/tied?by=year")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["total"]["unknown"] == "10.00"
