"""The forward plan on the project page, and the donor's form that sets planned disbursements
by year (one commit per request, errors next to the row, a stale form refused)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import AuditEvent, PlannedDisbursement
from registry.services import plans as plan_service
from tests.sessions import log_in

THIS_YEAR = dt.date.today().year


@pytest.fixture
def donor_client(client, make_user):
    user, _ = make_user("donor")
    db.session.commit()
    log_in(client, user)
    client.user = user
    return client


def errors_in(html: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="error-message" id="([^"]+)-error">([^<]+)</p>', html))


def _planned(project_id: int) -> list[tuple]:
    db.session.expire_all()
    rows = db.session.scalars(
        select(PlannedDisbursement)
        .where(PlannedDisbursement.project_id == project_id)
        .order_by(PlannedDisbursement.period_start, PlannedDisbursement.currency)
    )
    return [(p.period_start, p.period_end, p.amount, p.currency) for p in rows]


def _events(project_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity_id == project_id))


def test_the_project_page_shows_budgets_and_planned_disbursements_by_year(client, make_project, actor):
    project = make_project(title="Community networks")
    plan_service.set_plans(
        actor,
        project,
        budgets=[
            {
                "kind": "original",
                "status": "committed",
                "period_start": dt.date(2024, 1, 1),
                "period_end": dt.date(2024, 12, 31),
                "amount": "500000.00",
                "currency": "USD",
                "value_date": dt.date(2024, 1, 2),
            },
            {
                "kind": "revised",
                "status": "indicative",
                "period_start": dt.date(2024, 1, 1),
                "period_end": dt.date(2024, 12, 31),
                "amount": "450000.00",
                "currency": "USD",
                "value_date": dt.date(2024, 6, 3),
            },
        ],
        planned=[
            {
                "period_start": dt.date(2024, 1, 1),
                "period_end": dt.date(2024, 6, 30),
                "amount": "125000.50",
                "currency": "USD",
                "value_date": dt.date(2024, 1, 2),
                "provider_name": "Digital fund",
                "receiver_name": "Ministry of ICT",
            },
            {
                "period_start": dt.date(2024, 7, 1),
                "period_end": dt.date(2024, 12, 31),
                "amount": "74999.50",
                "currency": "USD",
                "value_date": dt.date(2024, 7, 1),
            },
        ],
    )
    db.session.commit()
    html = client.get(f"/projects/{project.id}").data.decode()
    section = html[html.index('id="forward-plan"') : html.index("</section>", html.index('id="forward-plan"'))]
    # By year: 125,000.50 + 74,999.50 planned; the revised budget (450,000) replaces the original.
    year_row = re.search(r"<th scope=\"row\"[^>]*>2024</th>(.*?)</tr>", section, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", year_row, re.S)
    assert "200,000.00" in cells[0] and "200,000.00" in cells[1]
    assert "450,000.00" in cells[2] and "450,000.00" in cells[3]
    # Each plan with its type and status, the replaced budget said to be replaced.
    assert "Original" in section and "Revised" in section
    assert "Committed" in section and "Indicative" in section
    assert "replaced by the revised budget of the period" in section
    assert "Digital fund → Ministry of ICT" in section
    assert "Edit the forward plan" not in section  # not for a visitor


def test_a_project_without_plans_says_so_and_offers_the_form_to_its_donor(donor_client, make_project):
    project = make_project(org=donor_client.user.org)
    db.session.commit()
    html = donor_client.get(f"/projects/{project.id}").data.decode()
    assert "No budget or planned disbursement recorded yet." in html
    assert f'href="/projects/{project.id}/plan"' in html


def test_the_donor_sets_planned_disbursements_by_year_in_one_commit(donor_client, make_project):
    project = make_project(org=donor_client.user.org)
    db.session.commit()
    form = donor_client.get(f"/projects/{project.id}/plan").data.decode()
    years = re.findall(r'name="plan-(\d+)-year" value="(\d{4})"', form)
    assert [y for _n, y in years] == [str(THIS_YEAR + k) for k in range(5)]  # this year and the next four
    assert f'name="version" value="{project.version}"' in form
    before = _events(project.id)
    response = donor_client.post(
        f"/projects/{project.id}/plan",
        data={
            "version": str(project.version),
            "plan-0-year": str(THIS_YEAR + 1),
            "plan-0-fixed": "1",
            "plan-0-amount": "120000.50",
            "plan-0-currency": "EUR",
            "plan-1-year": str(THIS_YEAR + 2),
            "plan-1-fixed": "1",
            "plan-1-amount": "",
            "plan-1-currency": "EUR",
            "plan-5-year": "2035",  # another year, on a blank row
            "plan-5-amount": "99",
            "plan-5-currency": "usd",
        },
    )
    assert response.status_code == 302 and response.location.endswith(f"/projects/{project.id}#forward-plan")
    assert _planned(project.id) == [
        (dt.date(THIS_YEAR + 1, 1, 1), dt.date(THIS_YEAR + 1, 12, 31), Decimal("120000.50"), "EUR"),
        (dt.date(2035, 1, 1), dt.date(2035, 12, 31), Decimal("99.00"), "USD"),
    ]
    assert _events(project.id) == before + 1  # one change, one audit event
    page = donor_client.get(f"/projects/{project.id}").data.decode()
    assert "Saved the forward plan" in page and "120,000.50" in page

    # The same amounts again change nothing; clearing a year removes its plan.
    version = str(db.session.get(type(project), project.id).version)
    same = {
        "version": version,
        "plan-0-year": str(THIS_YEAR + 1),
        "plan-0-fixed": "1",
        "plan-0-amount": "120000.5",
        "plan-0-currency": "EUR",
    }
    assert donor_client.post(f"/projects/{project.id}/plan", data=same).status_code == 302
    assert _events(project.id) == before + 1
    cleared = {**same, "plan-0-amount": "", "version": str(db.session.get(type(project), project.id).version)}
    assert donor_client.post(f"/projects/{project.id}/plan", data=cleared).status_code == 302
    assert _planned(project.id) == [(dt.date(2035, 1, 1), dt.date(2035, 12, 31), Decimal("99.00"), "USD")]


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("plan-0-amount", "12,5x", "plan-0-amount"),
        ("plan-0-amount", "-500", "plan-0-amount"),
        ("plan-0-amount", "1.234", "plan-0-amount"),  # more decimals than the euro has
        ("plan-0-year", "next", "plan-0-year"),
    ],
)
def test_a_bad_value_is_shown_next_to_its_row_and_nothing_is_saved(donor_client, make_project, field, value, where):
    project = make_project(org=donor_client.user.org)
    db.session.commit()
    data = {
        "version": str(project.version),
        "plan-0-year": str(THIS_YEAR + 1),
        "plan-0-amount": "100",
        "plan-0-currency": "EUR",
        "plan-1-year": str(THIS_YEAR + 2),
        "plan-1-fixed": "1",
        "plan-1-amount": "200",
        "plan-1-currency": "EUR",
        field: value,
    }
    response = donor_client.post(f"/projects/{project.id}/plan", data=data)
    assert response.status_code == 422
    html = response.data.decode()
    assert where in errors_in(html), errors_in(html)
    assert f'value="{value}"' in html  # what was typed is shown again
    assert _planned(project.id) == []


def test_a_stale_form_is_refused_and_an_outsider_may_not_edit(donor_client, make_project, make_user, client, actor):
    project = make_project(org=donor_client.user.org)
    db.session.commit()
    stale = str(project.version)
    plan_service.set_year_plan(actor, project, {THIS_YEAR + 1: "10"}, "USD")
    from registry.services.rights import guard_project

    guard_project(project)  # someone saved the project meanwhile
    db.session.commit()
    data = {"version": stale, "plan-0-year": str(THIS_YEAR + 1), "plan-0-amount": "500", "plan-0-currency": "USD"}
    response = donor_client.post(f"/projects/{project.id}/plan", data=data)
    assert response.status_code == 422 and b"Reload the form" in response.data
    assert _planned(project.id) == [
        (dt.date(THIS_YEAR + 1, 1, 1), dt.date(THIS_YEAR + 1, 12, 31), Decimal("10.00"), "USD")
    ]
    other, _token = make_user("donor")
    db.session.commit()
    log_in(client, other)
    assert client.get(f"/projects/{project.id}/plan").status_code == 403
