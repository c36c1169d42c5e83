"""IATI forward plans: every budget and planned disbursement of a real file lands with its type,
status, period, value, currency and value date (read here from the XML by IATI's rules, not by
the importer's code); a re-import replaces them, never adds them twice; undo puts back the ones
replaced; the export writes them back and the import reads the same plans again."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select, update

from importers.iati_export import write_iati
from importers.interop import import_iati
from importers.pipeline import run_import
from importers.pipeline.undo import undo_batch
from registry.extensions import db
from registry.models import PlannedDisbursement, Project, ProjectBudget
from registry.models.types import Role
from registry.services.actor import Actor

FIXTURES = next(
    (p / "shared" / "fixtures" for p in Path(__file__).resolve().parents if (p / "shared" / "fixtures").is_dir()),
    Path("/nonexistent"),
)
CORPUS = FIXTURES / "iati" / "corpus" / "dportal_62.xml"
ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)
BUDGET_TYPES = {"1": "original", "2": "revised"}
BUDGET_STATUSES = {"1": "indicative", "2": "committed"}


def _day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text[:10]) if text else None


def read_plans(path: Path) -> tuple[Counter, Counter]:
    """Each activity's budgets and planned disbursements as IATI defines them: @type (BudgetType,
    1 when absent), a budget's @status (BudgetStatus, 1 when absent), period-start/-end, value
    with @currency (else the activity's default-currency) and @value-date."""
    budgets: Counter = Counter()
    planned: Counter = Counter()
    for act in etree.parse(str(path)).getroot().iter("iati-activity"):
        identifier = " ".join((act.findtext("iati-identifier") or "").split())
        default = act.get("default-currency")
        for elem in act.findall("budget") + act.findall("planned-disbursement"):
            value = elem.find("value")
            start = _day(elem.find("period-start").get("iso-date"))
            end_elem = elem.find("period-end")
            key = (
                identifier,
                BUDGET_TYPES[elem.get("type") or "1"],
                start,
                _day(end_elem.get("iso-date")) if end_elem is not None else None,
                Decimal(value.text.strip()),
                value.get("currency") or default,
                _day(value.get("value-date")),
            )
            if elem.tag == "budget":
                budgets[(*key, BUDGET_STATUSES[elem.get("status") or "1"])] += 1
            else:
                provider = elem.find("provider-org")
                planned[(*key, provider.get("ref") if provider is not None else None)] += 1
    return budgets, planned


def stored_plans() -> tuple[Counter, Counter]:
    budgets: Counter = Counter()
    for b, ident in db.session.execute(
        select(ProjectBudget, Project.iati_identifier).join(Project, Project.id == ProjectBudget.project_id)
    ):
        budgets[(ident, b.kind, b.period_start, b.period_end, b.amount, b.currency, b.value_date, b.status)] += 1
    planned: Counter = Counter()
    for p, ident in db.session.execute(
        select(PlannedDisbursement, Project.iati_identifier).join(Project, Project.id == PlannedDisbursement.project_id)
    ):
        key = (ident, p.kind, p.period_start, p.period_end, p.amount, p.currency, p.value_date, p.provider_ref)
        planned[key] += 1
    return budgets, planned


@pytest.mark.fixtures  # a skip fails where the shared fixtures are present
@pytest.mark.skipif(not CORPUS.is_file(), reason="real fixtures absent")
def test_every_budget_and_planned_disbursement_of_a_real_file_lands(app):
    expected_budgets, expected_planned = read_plans(CORPUS)
    assert sum(expected_budgets.values()) == 5 and sum(expected_planned.values()) == 4  # what the file holds
    result = import_iati(CORPUS, ADMIN)
    assert result.ok
    got_budgets, got_planned = stored_plans()
    assert got_budgets == expected_budgets
    assert got_planned == expected_planned
    # One of them, written out here from the file: the revised budget of 2019-04-24 to 2020-03-31
    assert (
        got_budgets[
            (
                next(k[0] for k in expected_budgets),
                "revised",
                dt.date(2019, 4, 24),
                dt.date(2020, 3, 31),
                Decimal("23202519"),
                "GBP",
                dt.date(2020, 5, 28),
                "committed",
            )
        ]
        == 1
    )

    # The same file again, as a new reading (another file name): the plans are replaced, not added
    again = import_iati(CORPUS, ADMIN, filename="again.xml")
    assert again.ok
    assert stored_plans() == (expected_budgets, expected_planned)


def _xml(plans: str, default_currency: str = "EUR") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<iati-activities version="2.03">
 <iati-activity default-currency="{default_currency}">
  <iati-identifier>XM-TEST-PLAN-1</iati-identifier>
  <reporting-org ref="XM-TEST" type="10"><narrative>Test donor</narrative></reporting-org>
  <title><narrative>Rural broadband plan</narrative></title>
  <activity-status code="2"/>
  <activity-date type="1" iso-date="2024-01-01"/>
  <recipient-country code="KE" percentage="100"/>
  <sector vocabulary="1" code="22040" percentage="100"/>
  {plans}
 </iati-activity>
</iati-activities>""".encode()


def _planned(start: str, end: str, amount: str, extra: str = "") -> str:
    return (
        f'<planned-disbursement type="1"><period-start iso-date="{start}"/><period-end iso-date="{end}"/>'
        f'<value value-date="{start}"{extra}>{amount}</value></planned-disbursement>'
    )


def test_a_newer_file_replaces_the_plans_and_undo_puts_them_back(app, make_org):
    make_org(ref="XM-TEST", name="Test donor")
    first = _xml(_planned("2024-01-01", "2024-12-31", "1000.00") + _planned("2025-01-01", "2025-12-31", "2000.00"))
    batch = run_import("iati", "plans.xml", first, "XM-TEST", ADMIN)
    assert batch.status == "committed", batch.problems
    second = _xml(_planned("2025-01-01", "2025-12-31", "2500.00"))
    newer = run_import("iati", "plans-2.xml", second, "XM-TEST", ADMIN)
    assert newer.status == "committed", newer.problems
    amounts = lambda: sorted(str(p.amount) for p in db.session.scalars(select(PlannedDisbursement)))  # noqa: E731
    assert amounts() == ["2500.00"]
    undo_batch(newer.id, ADMIN)
    db.session.expire_all()
    assert amounts() == ["1000.00", "2000.00"]


def test_a_plan_that_cannot_be_kept_is_left_out_with_its_money(app, make_org):
    make_org(ref="XM-TEST", name="Test donor")
    plans = (
        _planned("2024-01-01", "2023-12-31", "700.00")  # ends before it starts
        + _planned("2024-01-01", "2024-12-31", "-5.00")  # negative
        + _planned("2024-01-01", "2024-12-31", "12.345", ' currency="USD"')  # rounded half-even to 12.34
    )
    batch = run_import("iati", "bad-plans.xml", _xml(plans), "XM-TEST", ADMIN)
    assert batch.status == "committed"
    messages = [p["message"] for p in batch.problems]
    assert any("Planned disbursement of 700.00 EUR left out" in m for m in messages), messages
    assert any("Planned disbursement of -5.00 EUR left out" in m for m in messages), messages
    assert [(p.amount, p.currency) for p in db.session.scalars(select(PlannedDisbursement))] == [
        (Decimal("12.34"), "USD")
    ]


def test_plans_go_out_in_the_export_and_come_back_the_same(app, make_org):
    make_org(ref="XM-TEST", name="Test donor")
    plans = (
        '<budget type="1" status="2"><period-start iso-date="2024-01-01"/><period-end iso-date="2024-12-31"/>'
        '<value value-date="2024-01-01">300000.00</value></budget>'
        '<budget type="2" status="1"><period-start iso-date="2024-01-01"/><period-end iso-date="2024-12-31"/>'
        '<value currency="USD" value-date="2024-06-01">320000.50</value></budget>'
        + _planned("2025-01-01", "2025-06-30", "150000.00")
        + '<planned-disbursement type="2"><period-start iso-date="2025-07-01"/>'
        '<value currency="GBP" value-date="2024-02-01">99.99</value>'
        '<provider-org ref="XM-TEST"><narrative>Test donor</narrative></provider-org>'
        '<receiver-org ref="KE-GOV"><narrative>Ministry of ICT</narrative></receiver-org></planned-disbursement>'
    )
    batch = run_import("iati", "plans.xml", _xml(plans), "XM-TEST", ADMIN)
    assert batch.status == "committed", batch.problems
    before = stored_plans()
    project = db.session.scalar(select(Project))
    out = io.BytesIO()
    write_iati([project], out, today=dt.date(2026, 1, 1))
    root = etree.fromstring(out.getvalue())
    # Stored budgets are written as they are, not the need spread over the years
    assert [(b.get("type"), b.get("status"), b.findtext("value")) for b in root.iter("budget")] == [
        ("1", "2", "300000.00"),
        ("2", "1", "320000.50"),
    ]
    # The export read into an empty registry gives the same plans
    db.session.query(PlannedDisbursement).delete()
    db.session.query(ProjectBudget).delete()
    db.session.flush()
    back = run_import("iati", "export.xml", out.getvalue(), "XM-TEST", ADMIN)
    assert back.status == "committed", back.problems
    assert stored_plans() == before
    receiver = db.session.scalar(select(PlannedDisbursement).where(PlannedDisbursement.currency == "GBP"))
    assert (receiver.receiver_ref, receiver.receiver_name, receiver.kind) == ("KE-GOV", "Ministry of ICT", "revised")
    assert db.session.scalar(select(func.count(PlannedDisbursement.id))) == 2


def _budget(kind: str, status: str, start: str, end: str, amount: str, currency: str) -> str:
    return (
        f'<budget type="{kind}" status="{status}"><period-start iso-date="{start}"/><period-end iso-date="{end}"/>'
        f'<value currency="{currency}" value-date="{start}">{amount}</value></budget>'
    )


def test_the_import_writes_the_plans_the_plan_service_would(app, make_org):
    """The import replaces every project's plans in a few statements; what it stores, and the
    audit event it writes, are what ``set_plans`` stores and writes for the same plans."""
    from registry.models import AuditEvent
    from registry.money import convert, to_minor
    from registry.services import plans as plan_service

    make_org(ref="XM-TEST", name="Test donor")
    provider = '<provider-org ref="XM-TEST"><narrative>Test donor</narrative></provider-org>'
    first = _xml(
        _budget("1", "1", "2024-01-01", "2024-12-31", "5000.00", "GBP")
        + _planned("2024-01-01", "2024-12-31", "1000.00")
        + _planned("2025-01-01", "2025-12-31", "2000.00").replace(
            "</planned-disbursement>", provider + "</planned-disbursement>"
        )
    )
    batch = run_import("iati", "plans.xml", first, "XM-TEST", ADMIN)
    assert batch.status == "committed", batch.problems
    project = db.session.scalar(select(Project).where(Project.iati_identifier == "XM-TEST-PLAN-1"))
    before = plan_service.snapshot(project)
    assert [b["amount"] for b in before["budgets"]] == ["5000.00"]
    assert [(p["amount"], p["provider_ref"]) for p in before["planned_disbursements"]] == [
        ("1000.00", None),
        ("2000.00", "XM-TEST"),
    ]

    second = _xml(
        _budget("1", "1", "2024-01-01", "2024-12-31", "5000.00", "GBP")
        + _budget("2", "2", "2024-01-01", "2024-12-31", "6000.00", "GBP")
        + _planned("2025-01-01", "2025-12-31", "2500.00")
    )
    newer = run_import("iati", "plans-2.xml", second, "XM-TEST", ADMIN)
    assert newer.status == "committed", newer.problems
    assert newer.counts["plans_replaced"] == 1
    db.session.expire_all()
    after = plan_service.snapshot(project)
    # The same plans given to the service change nothing: the import stored what it would.
    budgets_again = [
        dict(b)
        | {"period_start": dt.date(2024, 1, 1), "period_end": dt.date(2024, 12, 31)}
        | {"value_date": dt.date(2024, 1, 1)}
        for b in after["budgets"]
    ]
    same = plan_service.set_plans(
        ADMIN,
        project,
        budgets=[
            {k: v for k, v in b.items()}
            | {"period_start": dt.date(2024, 1, 1), "period_end": dt.date(2024, 12, 31)}
            | {"value_date": dt.date(2024, 1, 1)}
            for b in after["budgets"]
        ],
        planned=[
            {k: v for k, v in p.items()}
            | {"period_start": dt.date(2025, 1, 1), "period_end": dt.date(2025, 12, 31)}
            | {"value_date": dt.date(2025, 1, 1)}
            for p in after["planned_disbursements"]
        ],
    )
    assert same is False
    assert [(b["kind"], b["status"], b["amount"]) for b in after["budgets"]] == [
        ("original", "indicative", "5000.00"),
        ("revised", "committed", "6000.00"),
    ]
    assert [(p["amount"], p["currency"], p["provider_ref"]) for p in after["planned_disbursements"]] == [
        ("2500.00", "EUR", None)
    ]
    # Each row's USD value at its value date's rate, with the rate it used, and the batch.
    rows = list(project.budgets) + list(project.planned_disbursements)
    for row in rows:
        conversion = convert(row.amount, row.currency, "USD", row.value_date)
        assert (row.usd_minor, row.usd_rate, row.usd_rate_date, row.usd_rate_source) == (
            to_minor(conversion.amount, "USD"),
            str(conversion.rate),
            conversion.rate_date,
            conversion.source,
        )
        assert row.import_batch_id == newer.id
    # One audit event for the replacement, as set_plans records it (the first import has its own).
    events = list(
        db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity_id == project.id,
                AuditEvent.summary == "Import replaced the forward plans",
                AuditEvent.import_batch_id == newer.id,
            )
        )
    )
    assert len(events) == 1
    event = events[0]
    assert (event.action, event.entity_type, event.org_id, event.import_batch_id) == (
        "update",
        "project",
        project.org_id,
        newer.id,
    )
    assert (event.before, event.after) == (before, after)

    # The same plans again in another file (the same bytes would be the same import): nothing
    # replaced, no event; the rows stay (their ids), but a USD value missing when they were
    # stored (no rate yet for their value date) is filled in now that one converts them.
    ids = sorted(row.id for row in rows)
    unrated = project.budgets[0]
    usd_before = (unrated.usd_minor, unrated.usd_rate, unrated.usd_rate_date, unrated.usd_rate_source)
    no_usd = {"usd_minor": None, "usd_rate": None, "usd_rate_date": None, "usd_rate_source": None}
    db.session.execute(update(ProjectBudget).where(ProjectBudget.id == unrated.id).values(**no_usd))
    db.session.expire_all()
    again = run_import("iati", "plans-3.xml", second + b"<!-- again -->", "XM-TEST", ADMIN)
    assert again.id != newer.id
    assert again.status == "committed" and again.counts.get("plans_replaced", 0) == 0, again.counts
    replaced = AuditEvent.summary == "Import replaced the forward plans"
    assert db.session.scalar(select(func.count()).where(replaced, AuditEvent.import_batch_id == again.id)) == 0
    refilled = db.session.get(ProjectBudget, unrated.id)
    assert (refilled.usd_minor, refilled.usd_rate, refilled.usd_rate_date, refilled.usd_rate_source) == usd_before
    assert sorted(r.id for r in list(project.budgets) + list(project.planned_disbursements)) == ids
    # The plan service does the same for the same plans given again through it.
    db.session.execute(update(ProjectBudget).where(ProjectBudget.id == unrated.id).values(**no_usd))
    db.session.expire_all()
    assert plan_service.set_plans(ADMIN, project, budgets=budgets_again) is False
    db.session.flush()
    db.session.expire_all()
    refilled = db.session.get(ProjectBudget, unrated.id)
    assert (refilled.usd_minor, refilled.usd_rate, refilled.usd_rate_date, refilled.usd_rate_source) == usd_before
    undo_batch(again.id, ADMIN)
    undo_batch(newer.id, ADMIN)
    db.session.expire_all()
    assert plan_service.snapshot(project) == before
