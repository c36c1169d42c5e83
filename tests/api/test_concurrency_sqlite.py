"""SQLite: a unit of work that writes takes the write lock when it begins (BEGIN IMMEDIATE);
reads begin deferred; a lock held past the busy timeout is a 503 with Retry-After."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from registry.app import create_app
from registry.sqlite import writing
from registry.unit_of_work import command_unit


@pytest.fixture
def sqlite_file(tmp_path):
    path = tmp_path / "lock.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))
    engine.dispose()
    return path


@pytest.fixture
def engine(sqlite_file):
    engine = create_engine(f"sqlite:///{sqlite_file}", connect_args={"timeout": 5})
    yield engine
    engine.dispose()


def someone_can_write(path) -> bool:
    """Whether another connection gets the write lock right now (it does not wait)."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        other.close()


web = Flask(__name__)


@pytest.mark.parametrize(
    ("method", "takes_the_lock"),
    [("POST", True), ("PATCH", True), ("PUT", True), ("DELETE", True), ("GET", False), ("HEAD", False)],
)
def test_a_write_request_takes_the_write_lock_when_its_transaction_begins(engine, sqlite_file, method, takes_the_lock):
    with web.test_request_context("/", method=method), engine.connect() as conn:
        conn.execute(text("SELECT n FROM counter")).scalar_one()  # only a read so far
        assert someone_can_write(sqlite_file) is not takes_the_lock
        conn.rollback()
    assert someone_can_write(sqlite_file)


def test_writing_and_command_units_begin_immediate_outside_requests(engine, sqlite_file):
    with engine.connect() as conn:
        conn.execute(text("SELECT n FROM counter"))
        assert someone_can_write(sqlite_file)  # a plain read: deferred
        conn.rollback()
    with writing(), engine.connect() as conn:
        conn.execute(text("SELECT n FROM counter"))
        assert not someone_can_write(sqlite_file)
        conn.rollback()


def _read_then_write(engine, method: str, first_read: threading.Event, first: bool, outcome: list) -> None:
    """A request's unit of work: read the counter, then write it plus one. The first writer
    pauses between its read and its write; the second begins during that pause."""
    try:
        if not first:
            assert first_read.wait(timeout=5)
        with web.test_request_context("/", method=method), engine.connect() as conn:
            n = conn.execute(text("SELECT n FROM counter")).scalar_one()
            if first:
                first_read.set()
                time.sleep(0.3)
            conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
            conn.commit()
        outcome.append("saved")
    except OperationalError as error:
        outcome.append(str(error.orig))


@pytest.mark.parametrize("method", ["PATCH", "GET"])
def test_two_writers_read_then_write(engine, method):
    """The failure of issue 14: two deferred transactions read, then both want to write; the
    second is refused at once ("database is locked"), whatever the busy timeout. Begun IMMEDIATE,
    the second waits for the first and then reads its result: both saved, nothing lost."""
    first_read = threading.Event()
    outcome: list[str] = []
    threads = [
        threading.Thread(target=_read_then_write, args=(engine, method, first_read, first, outcome))
        for first in (True, False)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    with engine.connect() as conn:
        final = conn.execute(text("SELECT n FROM counter")).scalar_one()
    if method == "PATCH":
        assert outcome == ["saved", "saved"] and final == 2
    else:  # what write requests did before they began IMMEDIATE
        assert outcome == ["saved", "database is locked"] and final == 1


@pytest.fixture
def busy_app(sqlite_file):
    """An app on a database file whose write lock another process holds (busy timeout 0.2 s)."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{sqlite_file}",
            "SQLITE_BUSY_TIMEOUT": 0.2,
            "SECRET_KEY": "test",
            "SESSION_COOKIE_SECURE": False,
            "WTF_CSRF_ENABLED": False,
        }
    )
    holder = sqlite3.connect(sqlite_file, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")
    yield app
    holder.execute("ROLLBACK")
    holder.close()
    from registry.extensions import db

    with app.app_context():
        db.engine.dispose()


def test_a_write_that_cannot_get_the_lock_is_a_503_with_retry_after(busy_app):
    client = busy_app.test_client()
    response = client.post(
        "/api/v1/projects", json={"title": "Waiting"}, headers={"Authorization": "Bearer some-token"}
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    body = response.get_json()
    assert body["code"] == 503 and body["status"] == "Service Unavailable" and body["errors"] == {}
    assert "busy" in body["message"] and "nothing was saved" in body["message"]
    # A form gets the same answer as a page.
    page = client.post("/login", data={"email": "someone@example.org", "password": "x" * 12})
    assert page.status_code == 503 and page.headers["Retry-After"] == "1"
    assert "text/html" in page.content_type and b"busy" in page.data


def test_a_command_unit_begins_immediate(app, engine, sqlite_file):
    """The command line's unit of work is a writer's (the app's own session commits at its end)."""
    with command_unit(), engine.connect() as conn:
        conn.execute(text("SELECT n FROM counter"))
        assert not someone_can_write(sqlite_file)
        conn.rollback()
    with engine.connect() as conn:
        conn.execute(text("SELECT n FROM counter"))
        assert someone_can_write(sqlite_file)  # after the unit, reads are deferred again
        conn.rollback()


def test_a_token_read_goes_on_when_its_last_use_cannot_be_recorded(tmp_path):
    """A token's read commits its last use on its own, as a writer: while another writer holds
    SQLite's lock past the busy timeout, the read is answered and only the record waits for the
    next use (the read's own transaction never becomes a writer midway, which SQLite refuses)."""
    from flask_migrate import upgrade

    from registry.extensions import db
    from registry.models import ApiToken, User
    from registry.models.types import Role
    from registry.services import tokens
    from registry.services.actor import Actor

    path = tmp_path / "tokens.sqlite3"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "SQLITE_BUSY_TIMEOUT": 0.2,
            "SECRET_KEY": "test",
            "SESSION_COOKIE_SECURE": False,
        }
    )
    with app.app_context():
        upgrade()
        user = User(email="reader@example.org", name="", role=Role.ANALYST, active=True)
        db.session.add(user)
        db.session.flush()
        secret = tokens.issue(Actor(label="tester", channel="cli", role=Role.ADMIN), user, "script").secret
        db.session.commit()
        token_id = db.session.scalar(select(ApiToken.id))
        db.session.remove()

    def last_use():
        with app.app_context():
            used = db.session.get(ApiToken, token_id).last_used_at
            db.session.remove()
            return used

    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert client.get("/api/v1/projects", headers=headers).status_code == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert last_use() is None  # the database was too busy: not recorded, and the read answered
    assert client.get("/api/v1/projects", headers=headers).status_code == 200
    assert last_use() is not None  # the next use records it
    with app.app_context():
        db.engine.dispose()
