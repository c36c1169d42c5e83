"""IATI files through the shared pipeline: import, re-import, refusals, the real fixtures."""

# ruff: noqa: E501  (inline XML and CSV fixtures read best on one line each)

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from importers.interop import import_iati
from registry.extensions import db
from registry.models import ImportBatch, Project, ProjectRecipient, Transaction
from registry.models.types import Role
from registry.services.actor import Actor
from tests.importers.iati_codes import TRANSACTION_TYPES
from tests.importers.iati_xml import activity, document

FIXTURES = next(
    (p / "shared" / "fixtures" for p in Path(__file__).resolve().parents if (p / "shared" / "fixtures").is_dir()),
    Path("/nonexistent"),
)
ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)


def write(tmp_path: Path, data: bytes, name: str = "act.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_import_creates_the_org_projects_and_inferred_areas(app, tmp_path):
    result = import_iati(write(tmp_path, document(activity())), ADMIN)
    assert result.ok and len(result.batches) == 1
    project = db.session.scalar(select(Project).where(Project.iati_identifier == "XM-TEST-1-P1"))
    assert project.org.ref == "XM-TEST-1" and project.org.name == "Test donor"
    assert [(r.country_iso3, r.share) for r in project.recipients] == [("KEN", 100)]
    assert [s.code for s in project.sectors] == ["22020"]
    assert project.areas and all(a.inferred for a in project.areas)
    assert sum(a.share_ppm for a in project.areas) == 1_000_000
    assert [(t.type.value, t.amount, t.import_batch_id) for t in project.transactions] == [
        ("commitment", Decimal("1000.00"), result.batches[0].id)
    ]


def test_reimport_updates_by_identifier_and_never_counts_twice(app, tmp_path):
    first = document(activity())
    import_iati(write(tmp_path, first), ADMIN)
    again = import_iati(write(tmp_path, first, "same.xml"), ADMIN)
    assert getattr(again.batches[0], "already_imported", False)
    tx = (
        '<transaction><transaction-type code="2"/><transaction-date iso-date="2020-02-01"/>'
        '<value currency="USD" value-date="2020-02-01">1500.00</value></transaction>'
        '<transaction><transaction-type code="3"/><transaction-date iso-date="2020-05-01"/>'
        '<value currency="USD" value-date="2020-05-01">700.00</value></transaction>'
    )
    updated = document(activity(transactions=tx, title="<narrative>Renamed</narrative>"))
    result = import_iati(write(tmp_path, updated, "v2.xml"), ADMIN)
    assert result.batches[0].counts["projects_updated"] == 1
    projects = db.session.scalars(select(Project).where(Project.iati_identifier == "XM-TEST-1-P1")).all()
    assert len(projects) == 1 and projects[0].title == "Renamed"
    amounts = sorted(t.amount for t in projects[0].transactions)
    assert amounts == [Decimal("700.00"), Decimal("1500.00")]


def test_a_provider_the_registry_does_not_know_stays_unrecorded(app, tmp_path):
    """A flow without provider-org is the publisher's own; one naming an unknown provider is
    recorded without one, not credited to the publisher."""
    unknown = (
        '<transaction><transaction-type code="3"/><transaction-date iso-date="2020-05-01"/>'
        '<value currency="USD" value-date="2020-05-01">700.00</value>'
        '<provider-org ref="GB-GOV-1"><narrative>FCDO</narrative></provider-org></transaction>'
    )
    own = (
        '<transaction><transaction-type code="2"/><transaction-date iso-date="2020-04-01"/>'
        '<value currency="USD" value-date="2020-04-01">900.00</value></transaction>'
    )
    path = tmp_path / "a.xml"
    path.write_bytes(document(activity(transactions=unknown + own)))
    result = import_iati(path, ADMIN)
    assert result.ok
    project = db.session.scalar(select(Project).where(Project.iati_identifier == "XM-TEST-1-P1"))
    providers = {t.type.value: t.provider_org_id for t in project.transactions}
    assert providers == {"disbursement": None, "commitment": project.org_id}
    [warning] = [p for b in result.batches for p in b.problems if p["code"] == "unknown_provider_org"]
    assert "recorded without a provider" in warning["message"]


def test_dry_run_writes_nothing(app, tmp_path):
    result = import_iati(write(tmp_path, document(activity())), ADMIN, dry_run=True)
    assert result.batches[0].status == "previewed"
    assert db.session.scalar(select(func.count(Project.id))) == 0


@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE iati-activities [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n',
        '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n',
    ],
)
def test_cli_refuses_entities_and_writes_nothing(runner, tmp_path, prolog):
    path = write(tmp_path, document(activity(title="<narrative>&xxe;</narrative>"), prolog=prolog))
    result = runner.invoke(args=["import", "iati", str(path)])
    assert result.exit_code == 1
    assert "refused" in result.output and "DOCTYPE" in result.output
    assert db.session.scalar(select(func.count(Project.id))) == 0
    assert db.session.scalar(select(func.count(ImportBatch.id))) == 0


def test_cli_with_org_and_sector_filter(runner, make_org, tmp_path):
    make_org(ref="MY-ORG", name="My org")
    doc = document(activity("A-1"), activity("A-2", sectors='<sector code="12191"/>'))
    result = runner.invoke(
        args=[
            "import",
            "iati",
            str(write(tmp_path, doc)),
            "--org",
            "MY-ORG",
            "--sector-filter",
            "ict",
        ]
    )
    assert result.exit_code == 0, result.output
    refs = db.session.scalars(select(Project.reference).order_by(Project.reference)).all()
    assert refs == ["A-1"]


def test_cli_imports_a_folder(runner, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    write(folder, document(activity("F-1")), "a.xml")
    write(folder, document(activity("F-2", org="XM-OTHER")), "b.xml")
    result = runner.invoke(args=["import", "iati", str(folder)])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count(Project.id))) == 2


def xml_totals(path: Path) -> tuple[dict, dict]:
    """From the XML itself: totals per (recipient, type), the recipients' percentages applied
    (regions without a percentage share what the countries leave, as IATI intends), and
    totals per (type, currency)."""
    by_recipient: dict = defaultdict(Decimal)
    by_type: dict = defaultdict(Decimal)
    for act in etree.parse(str(path)).getroot().iter("iati-activity"):
        currency = act.get("default-currency")
        countries = [(c.get("code"), Decimal(c.get("percentage") or 100)) for c in act.findall("recipient-country")]
        regions = [r.get("code") for r in act.findall("recipient-region")]
        rest = Decimal(100) - sum(p for _, p in countries)
        shares = [(code, pct) for code, pct in countries if pct] + [
            (code, rest / len(regions)) for code in regions if rest
        ]
        for tx in act.findall("transaction"):
            # The IATI 2.03 TransactionType codelist: every type is a flow of its own.
            kind = TRANSACTION_TYPES.get(tx.find("transaction-type").get("code"))
            if kind is None:
                continue
            value = tx.find("value")
            amount = Decimal(value.text)
            by_type[(kind, value.get("currency") or currency)] += amount
            for code, pct in shares:
                by_recipient[(code, kind)] += amount * pct / 100
    return by_recipient, by_type


def registry_totals() -> dict:
    """Totals per (country ISO3 or region M49, type) in the registry: amount x share."""
    rows = db.session.execute(
        select(
            func.coalesce(ProjectRecipient.country_iso3, ProjectRecipient.region_code),
            Transaction.type,
            func.sum(Transaction.amount_minor * ProjectRecipient.share_ppm),
        )
        .join(ProjectRecipient, ProjectRecipient.project_id == Transaction.project_id)
        .group_by(
            func.coalesce(ProjectRecipient.country_iso3, ProjectRecipient.region_code),
            Transaction.type,
        )
    ).all()
    return {(where, t.value): Decimal(n) / 100 / 1_000_000 for where, t, n in rows}


@pytest.mark.fixtures
@pytest.mark.skipif(not (FIXTURES / "iati" / "es-maec-indonesia_v2.01.xml").exists(), reason="real fixtures absent")
def test_real_spanish_file_totals_match_the_xml(app):
    path = FIXTURES / "iati" / "es-maec-indonesia_v2.01.xml"
    result = import_iati(path, ADMIN)
    assert result.ok, [p for b in result.batches for p in b.problems if p["severity"] == "error"]
    assert sum(b.counts["projects_created"] for b in result.batches) == 83
    by_recipient, by_type = xml_totals(path)
    rows = db.session.execute(
        select(Transaction.type, Transaction.currency, func.sum(Transaction.amount_minor)).group_by(
            Transaction.type, Transaction.currency
        )
    ).all()
    got = {(t.value, c): Decimal(n) / 100 for t, c, n in rows}
    assert got == {k: v for k, v in by_type.items() if v}
    assert db.session.scalar(select(func.count(Transaction.id))) == 216
    # Per recipient: Indonesia (ID -> IDN) and the DAC region 789 "Far East Asia" (-> M49 142).
    names = {"ID": "IDN", "789": "142"}
    expected = {(names[code], kind): amount for (code, kind), amount in by_recipient.items()}
    registry = registry_totals()
    assert registry.keys() == expected.keys()
    for key, amount in expected.items():
        assert abs(registry[key] - amount) <= Decimal("0.01"), key  # to the cent


@pytest.mark.skipif(not (FIXTURES / "iati").exists(), reason="real fixtures absent")
@pytest.mark.parametrize(
    "name",
    ["fi-mfa_v2.03.xml", "gb-beis-gcrf_v2.03.xml", "multi-publisher-dportal-export_v2.03.xml"],
)
@pytest.mark.fixtures
def test_real_files_import_with_transactions_matching(app, name):
    path = FIXTURES / "iati" / name
    if not path.exists():
        pytest.skip("fixture absent")
    result = import_iati(path, ADMIN)
    assert result.ok, [p for b in result.batches for p in b.problems if p["severity"] == "error"][:3]
    _, by_type = xml_totals(path)
    rows = db.session.execute(
        select(Transaction.type, Transaction.currency, func.sum(Transaction.amount_minor)).group_by(
            Transaction.type, Transaction.currency
        )
    ).all()
    from registry.money import from_minor

    got = {(t.value, c): from_minor(n, c) for t, c, n in rows}
    expected = {k: v for k, v in by_type.items() if v}
    # Amounts with more decimals than the currency allows are rounded (and said so): compare to the cent.
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert abs(got[key] - value) < Decimal("0.05"), key


def test_api_upload_is_detected_as_iati_previewed_and_committed(client, app, actor, make_org):
    import io

    from registry.services import accounts

    org = make_org(ref="API-IATI", name="API IATI donor")
    user = accounts.create_user(actor, "iati-api@example.org", "donor", org=org)
    token = accounts.issue_token(actor, user)
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    body = {
        "file": (io.BytesIO(document(activity("API-IATI-1"))), "upload.bin"),
        "org": "API-IATI",
        "dry_run": "true",
    }
    response = client.post("/api/v1/imports", data=body, headers=headers, content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    assert response.json["kind"] == "iati" and response.json["status"] == "previewed"
    committed = client.post(f"/api/v1/imports/{response.json['id']}/commit", headers=headers)
    assert committed.status_code == 200, committed.json
    project = db.session.scalar(select(Project).where(Project.iati_identifier == "API-IATI-1"))
    assert project.org_id == org.id and project.areas
    bad = {
        "file": (io.BytesIO(document(activity(), prolog="<!DOCTYPE x>\n")), "x.xml"),
        "org": "API-IATI",
    }
    response = client.post("/api/v1/imports", data=bad, headers=headers, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "DOCTYPE" in str(response.json)
