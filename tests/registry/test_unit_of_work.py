"""One commit boundary: a read never commits, a write commits once, services never commit.

Commits are counted with SQLAlchemy's ``before_commit`` session event, which fires for
every attempt to commit the session (not for the savepoints a service may release), so
a commit anywhere below a route (a view, a helper, a service, an after-request hook)
is seen.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from registry.extensions import db
from registry.models import AuditEvent, FundingSource, Organisation, Project, Transaction, User
from registry.models.types import ProjectStatus, Role
from registry.services import alerts, marketplace
from registry.services import projects as projects_service
from registry.services.actor import Actor
from registry.services.demo import seed_demo
from tests.sessions import log_in

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "registry"
# The product's packages: every one ends its units of work through the registry's helpers.
PRODUCT = ("registry", "importers", "reports")


# Query strings that make a route do its real work rather than show an empty form.
QUERIES = {
    "finder.find_funding": "?country=KEN&priority_area=23b&amount=100000&currency=USD",
    "finder_api.FundingMatch": "?country=KEN&priority_area=23b&amount=100000&currency=USD",
    "reports_web.chart": "?by=region",
}


@contextmanager
def counting_commits() -> Iterator[list[Session]]:
    """The sessions that tried to commit while the block ran, one entry per attempt."""
    seen: list[Session] = []

    def count(session: Session) -> None:
        seen.append(session)

    event.listen(Session, "before_commit", count)
    try:
        yield seen
    finally:
        event.remove(Session, "before_commit", count)


def _login(client, user: User) -> None:
    log_in(client, user)


@pytest.fixture
def demo(app):
    """The demo data set, with one of each object a GET route can show."""
    seed_demo()
    admin = db.session.scalar(select(User).where(User.role == Role.ADMIN))
    donor = db.session.scalar(select(User).where(User.role == Role.DONOR))
    pipeline = db.session.scalar(
        select(Project).where(Project.status == ProjectStatus.PIPELINE).order_by(Project.id).limit(1)
    )
    tx = db.session.scalar(select(Transaction).order_by(Transaction.id).limit(1))
    source = db.session.get(FundingSource, tx.funding_source_id) if tx.funding_source_id else None
    source = source or db.session.scalar(select(FundingSource).order_by(FundingSource.id).limit(1))
    actor = Actor(label=donor.email, channel="web", user_id=donor.id, org_id=donor.org_id, role=Role.DONOR)
    interest = marketplace.express_interest(actor, pipeline, "Fits our call")
    search = marketplace.create_saved_search(actor, "Kenya", "funding", {"country": "KEN"})
    admin_actor = Actor(label=admin.email, channel="web", user_id=admin.id, role=Role.ADMIN)
    follow = alerts.follow(admin_actor, "project", tx.project_id)
    from importers import pipeline as imports

    csv = (
        b"Project reference,Title,Country,Priority area,Type,Amount,Currency,Value date\n"
        b"U1,Unit of work,KEN,23b,commitment,5,USD,2021-01-04\n"
    )
    org = db.session.get(Organisation, donor.org_id)
    batch = imports.run_import("sheet", "mine.csv", csv, org, Actor(label="t", channel="import"), dry_run=True)
    db.session.commit()  # a savepoint: the test's outer transaction still rolls back
    return {
        "admin": admin,
        "project_id": tx.project_id,
        "tx_id": tx.id,
        "pipeline_id": pipeline.id,
        "source_id": source.id,
        "org_id": donor.org_id,
        "interest_id": interest.id,
        "search_id": search.id,
        "follow_id": follow.id,
        "token": search.token,
        "batch_id": batch.id,
        "job_id": "no-such-job",
        "iso3": "KEN",
        "fmt": "csv",
        "name": "region",
        "filename": "app.css",
        "kind": "project",
        "object_id": tx.project_id,
        "user_id": donor.id,
        "event_id": db.session.scalar(select(AuditEvent.id).limit(1)),
        "what": "projects",  # the deleted objects' lists: /deleted/<what>, /api/v1/deleted/<what>
        "slug": "donor",  # a guide under /help
    }


def _url(rule, objects: dict) -> str:
    url = rule.rule
    for arg in rule.arguments:
        key = arg
        if arg == "project_id" and rule.rule.startswith(("/pipeline", "/api/v1/pipeline-projects")):
            key = "pipeline_id"
        if key not in objects:
            raise AssertionError(f"Teach test_unit_of_work about <{arg}> in {rule.rule}")
        url = re.sub(rf"<(?:[^<>]+:)?{arg}>", str(objects[key]), url)
    return url + QUERIES.get(rule.endpoint, "")


def test_no_get_request_commits(app, client, demo):
    """Every GET route of the app, pages and API, on the demo data, signed in as an admin."""
    _login(client, demo["admin"])
    committed, answered = [], 0
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()):
            continue
        url = _url(rule, demo)
        with counting_commits() as commits:
            response = client.get(url)
        response.close()  # static files answer with an open file
        assert response.status_code < 500, (url, response.status_code)
        answered += response.status_code == 200
        if commits:
            committed.append(f"{rule.endpoint} {url}: {len(commits)} commit(s)")
    assert committed == []
    # The walk reached the real pages, not a wall of redirects or 404s.
    assert answered >= 50


PROJECT_FORM = {
    "reference": "UOW-1",
    "title": "One commit",
    "status": "active",
    "recipients-0-place": "KEN",
    "areas-0-code": "23b",
}


@pytest.fixture
def donor(make_user):
    user, token = make_user("donor")
    db.session.commit()
    return user, token


def _projects() -> int:
    return db.session.scalar(select(func.count(Project.id)))


def test_an_api_write_commits_once_and_a_refused_one_never(client, donor):
    user, token = donor
    headers = {"Authorization": f"Bearer {token}"}
    body = {"reference": "UOW-1", "title": "One commit", "recipients": [{"country": "KEN"}], "areas": [{"code": "23b"}]}
    with counting_commits() as commits:
        created = client.post("/api/v1/projects", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    assert len(commits) == 1
    before = _projects()
    with counting_commits() as commits:
        refused = client.post("/api/v1/projects", json={**body, "areas": [{"code": "99z"}]}, headers=headers)
    assert refused.status_code == 422 and commits == [] and _projects() == before
    # A stale version: refused with 409 by the same mapping as every API write, nothing saved.
    url = f"/api/v1/projects/{created.get_json()['id']}"
    with counting_commits() as commits:
        stale = client.patch(url, json={"title": "Lost update", "version": 7}, headers=headers)
    assert stale.status_code == 409 and stale.get_json()["code"] == 409 and commits == []


def test_a_marketplace_api_write_commits_once_through_the_same_helper(client, make_user, make_org):
    user, token = make_user("government", org=make_org(kind="government", country_iso3="NPL"), country="NPL")
    db.session.commit()
    body = {
        "title": "District e-health",
        "country": "NPL",
        "areas": ["23f"],
        "instrument_sought": "grant",
        "contact_email": "rai@health.example",
        "need": {"amount": "1000", "currency": "USD"},
    }
    with counting_commits() as commits:
        response = client.post("/api/v1/pipeline-projects", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.get_json()
    assert len(commits) == 1


def test_a_page_write_commits_once_and_a_conflict_is_a_flash_not_an_error(client, donor):
    user, _ = donor
    _login(client, user)
    with counting_commits() as commits:
        created = client.post("/projects/new", data=PROJECT_FORM)
    assert created.status_code == 302 and len(commits) == 1
    project = db.session.scalar(select(Project).where(Project.reference == "UOW-1"))
    # A delete from a form rendered at an old version: nothing is committed, the user is sent
    # back to the project with the reason.
    with counting_commits() as commits:
        stale = client.post(f"/projects/{project.id}/delete", data={"version": "7"}, follow_redirects=True)
    assert stale.status_code == 200 and commits == []
    assert "changed" in stale.get_data(as_text=True) and db.session.get(Project, project.id) is not None
    with counting_commits() as commits:
        deleted = client.post(f"/projects/{project.id}/delete", data={"version": "1"})
    assert deleted.status_code == 302 and len(commits) == 1


def test_a_cli_write_commits_once_and_a_refused_one_never(runner, donor):
    user, _ = donor
    with counting_commits() as commits:
        result = runner.invoke(args=["users", "token", "--email", user.email, "--label", "ci"])
    assert result.exit_code == 0, result.output
    assert len(commits) == 1
    with counting_commits() as commits:
        result = runner.invoke(args=["users", "create", "--email", "x@example.org", "--role", "donor"])
    assert result.exit_code != 0 and "organisation" in result.output.lower()
    assert commits == []


def test_services_never_commit_while_seeding_the_demo_data(app):
    """The demo seed calls the services that create every kind of object; none commits."""
    with counting_commits() as commits:
        result = seed_demo()
    assert result.created > 0
    assert commits == []


def _commit_calls(path: Path, session_only: bool = False) -> list[int]:
    """Lines that call ``something.commit()`` (only ``….session.commit()`` with session_only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
        and (not session_only or (isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "session"))
    ]


def test_no_service_calls_commit():
    """Also the services the seed does not reach: the unit of work is the caller's."""
    found = {
        str(p.relative_to(REGISTRY)): lines
        for p in sorted((REGISTRY / "services").rglob("*.py"))  # the packages (matching/, marketplace/) too
        if (lines := _commit_calls(p))
    }
    assert found == {}
    assert _commit_calls(REGISTRY / "unit_of_work.py")  # the check sees a commit where there is one


def test_the_product_commits_the_session_in_one_place():
    """Views, CLI commands, jobs and helpers of the registry, the importers and the reports
    end their unit of work through registry.unit_of_work.commit (a savepoint's own
    ``nested.commit()`` is not a session commit and is not counted)."""
    found = {
        p.relative_to(ROOT).as_posix(): lines
        for package in PRODUCT
        for p in sorted((ROOT / package).rglob("*.py"))
        if (lines := _commit_calls(p, session_only=True))
    }
    assert list(found) == ["registry/unit_of_work.py"] and len(found["registry/unit_of_work.py"]) == 1


def test_a_clash_at_commit_is_a_conflict_on_every_channel(app, make_org):
    """A key taken meanwhile surfaces only at commit: the API gets ConflictError (409), a
    page a flash and a redirect (never a 500), a command its message and exit status 1."""
    from flask import get_flashed_messages

    from registry.api.common import commit as api_commit
    from registry.errors import ConflictError
    from registry.models.types import OrganisationKind
    from registry.unit_of_work import command_unit
    from registry.web.saving import save

    make_org(ref="TAKEN")
    db.session.commit()

    def clash() -> None:
        db.session.add(Organisation(ref="TAKEN", name="Again", kind=next(iter(OrganisationKind))))

    with pytest.raises(ConflictError, match="clashes with existing data"):
        clash()
        api_commit()
    with app.test_request_context("/organisations/new", method="POST"):
        response = save(clash, "Saved", "/done", refused="/back")
        assert response.status_code == 302 and response.location == "/back"
        [(category, message)] = get_flashed_messages(with_categories=True)
        assert category == "error" and "clashes with existing data" in message
    with pytest.raises(click.ClickException, match="clashes with existing data"):
        with command_unit():
            clash()
    assert db.session.scalar(select(func.count()).where(Organisation.ref == "TAKEN")) == 1


def test_a_clash_met_by_a_flush_inside_a_service_is_a_conflict_not_a_500(app, client, donor, make_org):
    """A service that flushes (to get ids, to check a rule) may meet another writer's key
    before the commit: the page shows the reason and the API answers 409, never a 500."""
    from flask import get_flashed_messages

    from registry.models.types import OrganisationKind
    from registry.web.saving import save

    make_org(ref="TAKEN")
    db.session.commit()

    def flushing_service() -> None:
        db.session.add(Organisation(ref="TAKEN", name="Again", kind=next(iter(OrganisationKind))))
        db.session.flush()

    with app.test_request_context("/organisations/new", method="POST"):
        response = save(flushing_service, "Saved", "/done", refused="/back")
        assert response.status_code == 302 and response.location == "/back"
        [(category, message)] = get_flashed_messages(with_categories=True)
        assert category == "error" and "clashes with existing data" in message

    # Through the API: the app's error handler turns the same refusal into the JSON 409.
    _, token = donor
    url = "/api/v1/projects"
    body = {
        "reference": "UOW-9",
        "title": "Flush clash",
        "recipients": [{"country": "KEN"}],
        "areas": [{"code": "23b"}],
    }
    original = projects_service.create_project

    def create_then_clash(*args, **kwargs):
        project = original(*args, **kwargs)
        flushing_service()
        return project

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(projects_service, "create_project", create_then_clash)
        with counting_commits() as commits:
            response = client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["code"] == 409 and "clashes with existing data" in response.get_json()["message"]
    assert commits == [] and db.session.scalar(select(func.count()).where(Project.reference == "UOW-9")) == 0
