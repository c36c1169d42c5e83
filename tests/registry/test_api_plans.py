"""The forward plans API: a project's budgets and planned disbursements, read and replaced."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from registry.extensions import db
from registry.models import AuditEvent, PlannedDisbursement, ProjectBudget


def test_plans_are_written_read_and_replaced(api, make_user, make_project, etag):
    user, token = make_user("donor")
    project = make_project(org=user.org)
    db.session.commit()
    url = f"/api/v1/projects/{project.id}/plans"
    empty = api("get", url)
    assert empty.status_code == 200
    assert empty.get_json() == {"project_id": project.id, "budgets": [], "planned_disbursements": []}

    body = {
        "budgets": [
            {
                "kind": "original",
                "status": "committed",
                "period_start": "2024-01-01",
                "period_end": "2024-12-31",
                "amount": "500000.00",
                "currency": "EUR",
                "value_date": "2024-01-02",
            },
            {
                "kind": "2",
                "period_start": "2024-01-01",
                "period_end": "2024-12-31",
                "amount": "450000.00",
                "currency": "EUR",
                "value_date": "2024-06-03",
            },
        ],
        "planned_disbursements": [
            {
                "period_start": "2025-01-01",
                "period_end": "2025-03-31",
                "amount": "125000.50",
                "currency": "USD",
                "value_date": "2024-12-02",
                "provider_ref": "XM-DAC-41114",
                "provider_name": "UNDP",
            },
        ],
    }
    changed = api("put", url, token, json=body, headers={"If-Match": etag(url)})
    assert changed.status_code == 200, changed.get_json()
    got = api("get", url).get_json()
    assert [(b["kind"], b["status"], b["amount"], b["currency"]) for b in got["budgets"]] == [
        ("original", "committed", "500000.00", "EUR"),
        ("revised", "indicative", "450000.00", "EUR"),
    ]
    planned = got["planned_disbursements"][0]
    assert (planned["amount"], planned["currency"], planned["value_date"]) == ("125000.50", "USD", "2024-12-02")
    assert planned["usd"] == "125000.50" and planned["usd_rate_source"] == "identity"
    assert planned["provider_ref"] == "XM-DAC-41114"
    # EUR on 2024-01-02 at the ECB rate of that day: a USD value with the rate that gave it
    first = got["budgets"][0]
    assert first["usd_rate_source"] == "ecb" and first["usd_rate_date"] == "2024-01-02"
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_id == project.id).order_by(AuditEvent.id.desc())
    ).first()
    assert event.summary == "Changed the forward plans" and len(event.after["budgets"]) == 2

    # Only the list given is replaced
    again = api("put", url, token, json={"planned_disbursements": []}, headers={"If-Match": etag(url)})
    assert again.status_code == 200
    assert len(again.get_json()["budgets"]) == 2 and again.get_json()["planned_disbursements"] == []
    assert db.session.scalar(select(PlannedDisbursement).where(PlannedDisbursement.project_id == project.id)) is None
    assert len(db.session.scalars(select(ProjectBudget).where(ProjectBudget.project_id == project.id)).all()) == 2


def test_plans_need_a_precondition_and_refuse_bad_values(api, make_user, make_project, etag):
    user, token = make_user("donor")
    project = make_project(org=user.org)
    db.session.commit()
    url = f"/api/v1/projects/{project.id}/plans"
    plan = {"period_start": "2026-01-01", "period_end": "2026-12-31", "amount": "10.00", "currency": "USD"}
    assert api("put", url, token, json={"planned_disbursements": [plan]}).status_code == 428
    stale = api("put", url, token, json={"planned_disbursements": [plan]}, headers={"If-Match": '"plans-x"'})
    assert stale.status_code == 412
    for bad, field in (
        ({**plan, "amount": "-1.00"}, "amount"),
        ({**plan, "amount": "1.001"}, "amount"),
        ({**plan, "currency": "XXZ"}, "currency"),
        ({**plan, "period_end": "2025-12-31"}, "period_end"),
        ({**plan, "kind": "3"}, "kind"),
    ):
        response = api("put", url, token, json={"planned_disbursements": [bad]}, headers={"If-Match": "*"})
        assert response.status_code == 422, (bad, response.get_json())
        assert field in str(response.get_json()["errors"]), response.get_json()
    # A plan dated beyond the published rates is kept in its currency, never refused
    future = {**plan, "currency": "EUR", "value_date": "2099-01-01"}
    kept = api("put", url, token, json={"planned_disbursements": [future]}, headers={"If-Match": etag(url)})
    assert kept.status_code == 200
    assert kept.get_json()["planned_disbursements"][0]["usd"] is None
    _other, other_token = make_user("donor")
    db.session.commit()
    refused = api("put", url, other_token, json={"budgets": []}, headers={"If-Match": "*"})
    assert refused.status_code == 403


def test_a_plan_without_value_date_takes_its_period_start_once_come_else_today(api, make_user, make_project):
    user, token = make_user("donor")
    project = make_project(org=user.org)
    db.session.commit()
    url = f"/api/v1/projects/{project.id}/plans"
    past = {"period_start": "2020-01-01", "period_end": "2020-12-31", "amount": "10.00", "currency": "USD"}
    ahead_start = dt.date.today().replace(month=1, day=1) + dt.timedelta(days=800)
    ahead = {**past, "period_start": ahead_start.isoformat(), "period_end": None}
    body = api("put", url, token, json={"planned_disbursements": [past, ahead]}, headers={"If-Match": "*"}).get_json()
    assert [p["value_date"] for p in body["planned_disbursements"]] == ["2020-01-01", dt.date.today().isoformat()]
