"""Every PATCH, PUT and DELETE of the API says which state of the object it is based on.

Without If-Match or a version in the body, a change could overwrite what another client saved
since the caller read the object: such a request gets 428 Precondition Required, in the API's
error shape, saying what to send, and changes nothing. The walk covers every route the app has,
so a new route that forgets the rule fails here.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from sqlalchemy import func, select

from registry.extensions import db
from registry.models import (
    AuditEvent,
    Follow,
    FundingSource,
    ImportBatch,
    Organisation,
    PipelineInterest,
    Project,
    SavedSearch,
    Transaction,
)
from registry.models.types import Role
from registry.services import accounts
from registry.services.actor import Actor

CHANGES = {"PATCH", "PUT", "DELETE"}
CSV = (
    b"Project reference,Title,Country,Priority area,Type,Amount,Currency,Value date\n"
    b"X1,Preview,KEN,23b,commitment,5,USD,2021-01-04\n"
)


def _world() -> dict:
    """Everything a refused change must leave as it was."""
    db.session.expire_all()
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    versions = lambda model: sorted(db.session.execute(select(model.id, model.version)).all())  # noqa: E731
    return {
        "versions": [versions(m) for m in (Project, FundingSource, Organisation)],
        "transactions": sorted((t.id, t.amount, t.currency) for t in db.session.scalars(select(Transaction))),
        "counts": [count(m) for m in (PipelineInterest, SavedSearch, AuditEvent)],
        "batches": sorted(db.session.execute(select(ImportBatch.id, ImportBatch.status)).all()),
    }


def test_every_api_change_without_a_precondition_is_428(app, client, make_org, make_project, make_source):
    from importers import pipeline

    actor = Actor(label="tester", channel="cli", role=Role.ADMIN)
    admin = accounts.create_user(actor, "admin@example.org", "admin")
    token = accounts.issue_token(actor, admin)
    org = make_org()
    empty_org = make_org()
    project = make_project(
        org=org,
        status="pipeline",
        recipients=[{"country": "NPL", "share": Decimal(100)}],
    )
    from registry.services.projects import add_transaction

    flow = {"type": "commitment", "amount": Decimal(5), "currency": "USD", "value_date": dt.date(2021, 1, 4)}
    tx = add_transaction(actor, project, flow)
    source = make_source(managing_org_id=org.id)
    interest = PipelineInterest(project_id=project.id, org_id=org.id, user_id=admin.id)
    search = SavedSearch(user_id=admin.id, name="Mine", kind="pipeline", params={}, token="precondition-token")
    follow = Follow(user_id=admin.id, kind="project", project_id=project.id, frequency="daily", last_event_id=0)
    db.session.add_all([interest, search, follow])
    batch = pipeline.run_import("sheet", "preview.csv", CSV, org, Actor(label="t", channel="import"), dry_run=True)
    assert batch.status == "previewed", batch.problems
    db.session.commit()
    ids = {
        "project_id": project.id,
        "tx_id": tx.id,
        "source_id": source.id,
        "org_id": empty_org.id,
        "interest_id": interest.id,
        "search_id": search.id,
        "batch_id": batch.id,
        "follow_id": follow.id,
    }

    before = _world()
    tried = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted((rule.methods or set()) & CHANGES):
            url = rule.rule
            for arg in rule.arguments:
                assert arg in ids, f"Teach this test about <{arg}> in {rule.rule}"
                url = re.sub(rf"<(?:\w+:)?{arg}>", str(ids[arg]), url)
            kwargs = {"json": {}} if method != "DELETE" else {}
            response = client.open(url, method=method, headers={"Authorization": f"Bearer {token}"}, **kwargs)
            body = response.get_json()
            assert response.status_code == 428, (method, url, response.status_code, body)
            assert body["code"] == 428 and body["status"] == "Precondition Required", body
            assert "If-Match" in body["message"] and "version" in body["message"], body["message"]
            assert "If-Match" in body["errors"], body
            assert _world() == before, (method, url)
            tried.append(f"{method} {rule.rule}")
    assert {
        "PATCH /api/v1/projects/<int:project_id>",
        "DELETE /api/v1/projects/<int:project_id>",
        "PATCH /api/v1/projects/<int:project_id>/transactions/<int:tx_id>",
        "DELETE /api/v1/projects/<int:project_id>/transactions/<int:tx_id>",
        "PATCH /api/v1/funding-sources/<int:source_id>",
        "DELETE /api/v1/funding-sources/<int:source_id>",
        "PATCH /api/v1/organisations/<int:org_id>",
        "DELETE /api/v1/organisations/<int:org_id>",
        "PATCH /api/v1/pipeline-projects/<int:project_id>",
        "DELETE /api/v1/pipeline-projects/<int:project_id>/interests/<int:interest_id>",
        "DELETE /api/v1/saved-searches/<int:search_id>",
        "DELETE /api/v1/imports/<int:batch_id>",
        "PATCH /api/v1/follows/<int:follow_id>",
        "DELETE /api/v1/follows/<int:follow_id>",
        "PUT /api/v1/saved-searches/<int:search_id>/alert",
    } <= set(tried), tried


def test_a_version_in_the_body_or_any_etag_is_a_precondition(client, make_org, make_project):
    """The 428 goes as soon as the caller says what it read: the version in the body, its ETag,
    or ``*`` (on purpose, whatever the state)."""
    org = make_org()
    actor = Actor(label="tester", channel="cli", role=Role.ADMIN)
    token = accounts.issue_token(actor, accounts.create_user(actor, "donor@example.org", "donor", org=org))
    project = make_project(org=org)
    db.session.commit()
    url = f"/api/v1/projects/{project.id}"
    auth = {"Authorization": f"Bearer {token}"}
    assert client.patch(url, json={"title": "A"}, headers=auth).status_code == 428
    assert client.patch(url, json={"title": "A", "version": 1}, headers=auth).status_code == 200
    etag = client.get(url).headers["ETag"]
    assert client.patch(url, json={"title": "B"}, headers={**auth, "If-Match": etag}).status_code == 200
    assert client.patch(url, json={"title": "C"}, headers={**auth, "If-Match": etag}).status_code == 412
    assert client.patch(url, json={"title": "C"}, headers={**auth, "If-Match": "*"}).status_code == 200
    assert client.get(url).get_json()["title"] == "C"
