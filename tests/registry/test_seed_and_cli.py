import datetime as dt

from sqlalchemy import func, select

from registry.extensions import db
from registry.models import (
    Country,
    FundingSource,
    Organisation,
    PlannedDisbursement,
    Project,
    ProjectArea,
    ProjectBudget,
    ProjectRecipient,
    Transaction,
    User,
)
from registry.models.types import SourceKind
from registry.services.demo import seed_demo


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_demo_seed_meets_the_promised_shape_and_is_idempotent(app):
    first = seed_demo()
    assert first.created > 0
    assert count(FundingSource) >= 30
    kinds = set(db.session.scalars(select(FundingSource.kind).distinct()))
    assert kinds == set(SourceKind)
    assert count(Organisation) >= 40
    assert count(Project) == 400
    assert count(Project, Project.demo.is_(False)) == 0
    countries = db.session.scalars(
        select(ProjectRecipient.country_iso3).distinct().where(ProjectRecipient.country_iso3.is_not(None))
    ).all()
    assert len(countries) >= 70
    regions = set(db.session.scalars(select(Country.region_code).where(Country.iso3.in_(countries))))
    assert regions == {"002", "019", "142", "150", "009"}
    assert len(set(db.session.scalars(select(ProjectArea.area_code)))) == 12
    types = set(db.session.scalars(select(Transaction.type).distinct()))
    assert {"pledge", "commitment", "disbursement"} <= {t.value for t in types}
    assert len(set(db.session.scalars(select(Transaction.currency).distinct()))) >= 5
    first_day, last_day = db.session.execute(
        select(func.min(Transaction.value_date), func.max(Transaction.value_date))
    ).one()
    assert first_day.year == 2005 and last_day.year == 2025
    unfunded_pipeline = count(
        Project,
        Project.status == "pipeline",
        Project.need_minor > 0,
        ~Project.transactions.any(),
    )
    assert unfunded_pipeline >= 10
    assert {u.role.value for u in db.session.scalars(select(User).where(User.demo.is_(True)))} == {
        "admin",
        "donor",
        "government",
        "analyst",
    }

    # The projects paid in 2025 planned it; a share of the active projects has a forward plan
    # of the next three years, with a committed budget of next year.
    next_year = dt.date.today().year + 1
    ahead = set(
        db.session.scalars(
            select(PlannedDisbursement.project_id).where(PlannedDisbursement.period_start >= dt.date(next_year, 1, 1))
        )
    )
    active = set(db.session.scalars(select(Project.id).where(Project.status.in_(["active", "suspended"]))))
    assert ahead <= active and 0.2 <= len(ahead) / len(active) <= 0.5
    paid_2025 = set(
        db.session.scalars(
            select(Transaction.project_id).where(
                Transaction.type == "disbursement", func.extract("year", Transaction.value_date) == 2025
            )
        )
    )
    planned_2025 = set(
        db.session.scalars(
            select(PlannedDisbursement.project_id).where(PlannedDisbursement.period_start == dt.date(2025, 1, 1))
        )
    )
    assert planned_2025 == paid_2025
    assert set(db.session.scalars(select(ProjectBudget.project_id).where(ProjectBudget.status == "committed"))) == ahead

    snapshot = (
        count(Project),
        count(Transaction),
        count(Organisation),
        count(FundingSource),
        count(User),
        count(PlannedDisbursement),
        count(ProjectBudget),
    )
    second = seed_demo()
    assert second.created == 0
    assert (
        count(Project),
        count(Transaction),
        count(Organisation),
        count(FundingSource),
        count(User),
        count(PlannedDisbursement),
        count(ProjectBudget),
    ) == snapshot


def test_cli_reference_load_is_idempotent(runner):
    result = runner.invoke(args=["reference", "load"])
    assert result.exit_code == 0, result.output
    assert "nothing changed" in result.output


def test_cli_seed_demo_prints_the_demo_accounts(runner):
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    assert "donor@demo.invalid" in result.output and "demo-password" in result.output
    again = runner.invoke(args=["seed", "demo"])
    assert "nothing changed" in again.output


def test_the_migrations_match_the_models(app):
    """Every model change has its migration: autogenerate finds nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_home_page_counts_what_is_there(client, make_project, make_transaction):
    project = make_project(title="Fibre to the district")
    make_transaction(project, amount="2500.00", currency="USD", value_date=dt.date(2021, 3, 1))
    page = client.get("/").get_data(as_text=True)
    assert "2,500.00" in page
