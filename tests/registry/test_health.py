"""Liveness and readiness probes."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import text

from registry.app import MIGRATIONS_DIR
from registry.extensions import db
from tests.registry.test_unit_of_work import counting_commits


def _head() -> str:
    (head,) = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    return head


def test_healthz_answers_without_a_login(client):
    with counting_commits() as commits:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert commits == []


def test_readyz_is_ready_on_the_migrated_database(client):
    with counting_commits() as commits:
        response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "ok"}
    assert commits == []
    # the database really is at the head the scripts name
    assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == _head()


def test_readyz_names_a_database_behind_the_migrations(client):
    db.session.execute(text("UPDATE alembic_version SET version_num = '0013_older'"))
    db.session.commit()  # a savepoint: the test's outer transaction rolls it back
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    (problem,) = body["problems"]
    assert "0013_older" in problem and _head() in problem


def test_readyz_on_a_database_never_migrated(client):
    db.session.execute(text("DELETE FROM alembic_version"))
    db.session.commit()  # a savepoint: the test's outer transaction rolls it back
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "no alembic_version" in response.get_json()["problems"][0]
    # liveness does not depend on the database
    assert client.get("/healthz").status_code == 200


def test_probes_are_exempt_from_csrf(app):
    # a probe never carries a token; should one ever accept a POST, CSRF must not stand in its way
    assert app.blueprints["health"] in app.extensions["csrf"]._exempt_blueprints
