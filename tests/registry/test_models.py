import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from registry.errors import ConflictError, ValidationError
from registry.extensions import db
from registry.models import Project, ProjectArea, Transaction


def test_country_shares_must_add_up_to_100(make_project):
    with pytest.raises(ValidationError) as info:
        make_project(recipients=[{"country": "KEN", "share": Decimal(60)}, {"country": "UGA", "share": Decimal(30)}])
    assert "add up to 100" in info.value.message
    assert "recipients" in info.value.errors


def test_area_shares_must_add_up_to_100(make_project):
    with pytest.raises(ValidationError, match="add up to 100"):
        make_project(areas=[{"code": "23a", "share": Decimal(50)}, {"code": "23b", "share": Decimal(49.5)}])


def test_shares_within_a_hundredth_are_accepted(make_project):
    project = make_project(
        areas=[{"code": c, "share": Decimal("33.33")} for c in ("23a", "23b", "23c")],
    )
    assert sum(a.share_ppm for a in project.areas) == 999_900


def test_shares_default_to_an_even_split_that_sums_exactly(make_project):
    project = make_project(recipients=[{"country": c} for c in ("KEN", "UGA", "TZA")])
    assert sum(r.share_ppm for r in project.recipients) == 1_000_000


def test_a_recipient_is_a_country_or_a_region(make_project):
    with pytest.raises(ValidationError, match="country or a region"):
        make_project(recipients=[{"country": "KEN", "region": "002", "share": Decimal(100)}])
    project = make_project(recipients=[{"region": "202", "share": Decimal(100)}])
    assert project.recipients[0].region_code == "202"


@pytest.mark.parametrize(
    ("field", "value"),
    [("recipients", [{"country": "XXX", "share": Decimal(100)}]), ("areas", [{"code": "23z", "share": Decimal(100)}])],
)
def test_unknown_codes_are_rejected(make_project, field, value):
    with pytest.raises(ValidationError, match="Unknown"):
        make_project(**{field: value})


def test_the_database_refuses_a_share_out_of_range(make_project):
    project = make_project()
    db.session.add(ProjectArea(project_id=project.id, area_code="23c", share_ppm=2_000_000))
    with pytest.raises(IntegrityError):
        db.session.flush()


def test_project_reference_is_unique_per_organisation(make_org, make_project):
    org, other = make_org(), make_org()
    make_project(org=org, reference="00123")
    with pytest.raises(ConflictError, match="already has a project with reference '00123'"):
        make_project(org=org, reference="00123")
    # The same reference in another organisation is a different project.
    assert make_project(org=other, reference="00123").reference == "00123"


def test_the_database_enforces_the_unique_reference(make_org, make_project):
    org = make_org()
    make_project(org=org, reference="R-1")
    db.session.add(Project(org_id=org.id, reference="R-1", title="Duplicate", status="active"))
    with pytest.raises(IntegrityError):
        db.session.flush()


def test_planned_dates_must_be_ordered(make_project):
    with pytest.raises(ValidationError) as info:
        make_project(planned_start=dt.date(2021, 1, 1), planned_end=dt.date(2020, 1, 1))
    assert "planned_end" in info.value.errors


def test_money_round_trip_is_exact_in_the_database(make_project, make_transaction):
    project = make_project()
    # the largest amount the registry takes: more cents than a float holds exactly
    tx = make_transaction(project, amount=Decimal("99999999999999.99"), currency="USD")
    tx_id = tx.id
    db.session.expire_all()
    stored = db.session.get(Transaction, tx_id)
    assert stored.amount_minor == 9999999999999999 > 2**53
    assert stored.amount == Decimal("99999999999999.99")
    assert str(stored.amount) == "99999999999999.99"
    raw = db.session.execute(select(Transaction.amount_minor).where(Transaction.id == tx_id)).scalar_one()
    assert isinstance(raw, int) and raw == 9999999999999999


def test_a_transaction_keeps_currency_value_date_and_the_rate_used(make_project, make_transaction):
    project = make_project()
    tx = make_transaction(project, amount=Decimal("1000.00"), currency="EUR", value_date=dt.date(2020, 1, 4))
    assert (tx.currency, tx.value_date) == ("EUR", dt.date(2020, 1, 4))
    assert tx.usd_rate_date == dt.date(2020, 1, 3)
    assert Decimal(tx.usd_rate) == Decimal("1.1147")
    assert tx.usd_amount == Decimal("1114.70")


def test_too_many_decimals_in_a_transaction_is_a_field_error(make_project, make_transaction):
    with pytest.raises(ValidationError) as info:
        make_transaction(make_project(), amount="10.5", currency="JPY")
    assert "amount" in info.value.errors


def test_an_unconvertible_transaction_is_refused_with_currency_and_date(make_project, make_transaction):
    with pytest.raises(ValidationError) as info:
        make_transaction(make_project(), amount="10", currency="KPW", value_date=dt.date(2020, 1, 2))
    assert "KPW" in info.value.message


def test_every_change_writes_an_audit_event(make_project, make_transaction):
    from registry.services import audit
    from registry.services.actor import Actor
    from registry.services.projects import update_project

    project = make_project(title="Before")
    update_project(Actor(label="editor@example.org", channel="api"), project, {"title": "After"})
    events = audit.history("project", project.id)
    assert [e.action for e in events] == ["update", "create"]
    assert events[0].before["title"] == "Before" and events[0].after["title"] == "After"
    assert events[0].actor == "editor@example.org" and events[0].channel == "api"
    assert events[0].occurred_at.tzinfo is not None


def test_a_stale_version_is_a_conflict(make_project):
    from registry.services.actor import SYSTEM
    from registry.services.projects import update_project

    project = make_project(title="One")
    version = project.version
    update_project(SYSTEM, project, {"title": "Two"}, expected_version=version)
    with pytest.raises(ConflictError):
        update_project(SYSTEM, project, {"title": "Three"}, expected_version=version)
    assert project.title == "Two"


def test_a_flow_without_a_provider_is_its_sources_manager_or_its_project_owners(
    make_org, make_project, make_source, make_transaction, actor
):
    """Reports by donor attribute every outgoing flow: a flow naming no provider counts for
    the manager of its funding source, else for the project's organisation."""
    from registry.services.projects import update_transaction

    owner, named = make_org(), make_org()
    project = make_project(org=owner)
    source = make_source()
    own = make_transaction(project)
    from_source = make_transaction(project, funding_source_id=source.id)
    explicit = make_transaction(project, provider_org_id=named.id, funding_source_id=source.id)
    incoming = make_transaction(project, type="incoming_funds")
    assert own.provider_org_id == owner.id
    assert from_source.provider_org_id == source.managing_org_id != owner.id
    assert explicit.provider_org_id == named.id
    assert incoming.provider_org_id is None  # who sent incoming funds is unknown until named

    # an implied provider follows the flow's source; a named one stays
    update_transaction(actor, own, {"funding_source_id": source.id})
    assert own.provider_org_id == source.managing_org_id
    update_transaction(actor, from_source, {"funding_source_id": None})
    assert from_source.provider_org_id == owner.id
    update_transaction(actor, explicit, {"funding_source_id": None})
    assert explicit.provider_org_id == named.id
    update_transaction(actor, explicit, {"provider_org_id": None})  # cleared: implied again
    assert explicit.provider_org_id == owner.id
    update_transaction(actor, own, {"type": "incoming_funds"})
    assert own.provider_org_id is None


def test_a_projects_history_starts_after_a_deleted_project_of_the_same_id(app, actor):
    """SQLite gives a new project the id of one just deleted (an undone import, say): the
    deleted project's events are not the new project's history."""
    from registry.extensions import db
    from registry.services import audit
    from registry.services.history import project_history

    pid = 987_654
    audit.record(actor, "create", "project", pid, None, {"title": "Old"}, "Created Old")
    audit.record(actor, "create", "transaction", 1, None, {"project_id": pid}, "Old flow")
    audit.record(actor, "delete", "project", pid, {"title": "Old"}, None, "Deleted Old")
    audit.record(actor, "create", "project", pid, None, {"title": "New"}, "Created New")
    audit.record(actor, "create", "transaction", 2, None, {"project_id": pid}, "New flow")
    db.session.flush()
    assert [e.summary for e in project_history(pid)] == ["New flow", "Created New"]
