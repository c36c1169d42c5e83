"""Shared fixtures: one migrated database per test session, a rolled-back
transaction per test, and factories for the registry's objects.

Set ``DATABASE_URL`` to run the suite on PostgreSQL (the database is emptied
first); by default it runs on a temporary SQLite file.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import text

from registry.app import create_app
from registry.extensions import db, limiter
from registry.models.types import Role
from registry.services.actor import Actor

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_sessionstart(session):
    """The app reads compiled catalogues (messages.mo): compile any that is missing or older than
    its messages.po, as `make translations` does, so that a plain `pytest` sees the current ones."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (REPO / "registry" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as source:
                catalogue = read_po(source)
            with mo.open("wb") as target:
                write_mo(target, catalogue)


# --------------------------------------------------------------------------- honest skips
# A test that reads the shared real files carries the marker ``fixtures``; a test that
# drives Chromium carries ``browser``. Both skip cleanly on a machine without them, but a
# skip is a failure where they ARE present (the shared fixtures folder next to the
# repository; CI, which installs Chromium): there a skip would hide a test that no longer runs.


def _skip_is_a_failure(item) -> str | None:
    if item.get_closest_marker("fixtures") is not None and FIXTURES.is_dir():
        return "the shared fixtures are present (../shared/fixtures) but this test skipped"
    if item.get_closest_marker("browser") is not None and IN_CI:
        return "CI installs Chromium (make browser) but this browser test skipped"
    return None


def _skip_reason(report) -> str:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return reason.removeprefix("Skipped: ")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    why = _skip_is_a_failure(item)
    if why is None:
        return
    report.outcome = "failed"
    report.longrepr = f"{why}: {_skip_reason(report)}"


def pytest_terminal_summary(terminalreporter):
    """Say how many tests skipped and why, whatever the verbosity (CI reads this line)."""
    skipped = terminalreporter.stats.get("skipped", [])
    reasons: dict[str, int] = {}
    for report in skipped:
        reason = _skip_reason(report)
        reasons[reason] = reasons.get(reason, 0) + 1
    terminalreporter.write_sep("-", f"{len(skipped)} skipped")
    for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
        terminalreporter.write_line(f"{n:5d}  {reason}")


def _test_database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def _empty_database() -> None:
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))


class BoundSession(FlaskSession):
    """Flask-SQLAlchemy's session, but always on the test's connection.

    Flask-SQLAlchemy's own ``get_bind`` picks the engine itself and would ignore
    the bound connection (and so escape the test's outer transaction).
    """

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        return bind if bind is not None else self.bind


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return _test_database_url(tmp_path_factory)


@pytest.fixture(scope="session")
def _app(database_url, tmp_path_factory):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test",
            "SESSION_COOKIE_SECURE": False,
            # the shipped rate files, never one a developer loaded into the instance folder
            "RATES_DIR": str(tmp_path_factory.mktemp("rates")),
            # jobs run inline when queued (tests/test_queue_worker.py runs a real worker process)
            "QUEUE_IMMEDIATE": True,
        }
    )
    with app.app_context():
        _empty_database()
        upgrade()
        from registry.services.reference import load_reference

        load_reference()
        db.session.commit()
        db.session.remove()
    yield app
    # Close the pool's connections now: an app dropped later (another test's create_app
    # takes over the extensions' references to it) would leave them to the garbage
    # collector, which warns of a connection deleted while still open.
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(_app):
    """The app, with every change of the test rolled back afterwards (and no rate-limit counts
    left by an earlier test: they would refuse a test for what another one did)."""
    with _app.app_context():
        limiter.reset()
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {"bind": connection, "join_transaction_mode": "create_savepoint", "class_": BoundSession}
        )
        try:
            yield _app
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def actor() -> Actor:
    return Actor(label="tester", channel="cli", role=Role.ADMIN)


@pytest.fixture
def make_org(app, actor):
    from registry.services.organisations import create_organisation

    counter = {"n": 0}

    def make(**overrides):
        counter["n"] += 1
        data = {"ref": f"ORG-{counter['n']}", "name": f"Organisation {counter['n']}", "kind": "donor_agency"}
        data.update(overrides)
        return create_organisation(actor, data)

    return make


@pytest.fixture
def make_source(app, actor, make_org):
    from registry.services.funding import create_funding_source

    counter = {"n": 0}

    def make(**overrides):
        counter["n"] += 1
        data = {
            "ref": f"FS-{counter['n']}",
            "name": f"Funding source {counter['n']}",
            "kind": "bilateral_oda",
            "instruments": ["grant"],
        }
        if "managing_org_id" not in overrides:
            data["managing_org_id"] = make_org().id
        data.update(overrides)
        return create_funding_source(actor, data)

    return make


@pytest.fixture
def make_project(app, actor, make_org):
    from registry.services.projects import create_project

    counter = {"n": 0}

    def make(org=None, **overrides):
        counter["n"] += 1
        org = org or make_org()
        data = {
            "reference": f"P-{counter['n']:04d}",
            "title": f"Project {counter['n']}",
            "status": "active",
            "recipients": [{"country": "KEN", "share": Decimal(100)}],
            "areas": [{"code": "23b", "share": Decimal(100)}],
            "planned_start": dt.date(2020, 1, 1),
        }
        data.update(overrides)
        return create_project(actor, org, data)

    return make


@pytest.fixture
def make_transaction(app, actor):
    from registry.services.projects import add_transaction

    def make(project, **overrides):
        data = {
            "type": "commitment",
            "amount": Decimal("1000.00"),
            "currency": "USD",
            "value_date": dt.date(2020, 6, 1),
        }
        data.update(overrides)
        return add_transaction(actor, project, data)

    return make
