"""Many clients edit one project at once through a real threaded HTTP server.

Each edit is what a careful client does: read the project and its ETag (a GET, or the answer of
its own previous PATCH), PATCH with If-Match, and on 412 (someone saved in between) read again
and retry. Every edit adds one to a counter kept in
the title, so a lost update shows: the final counter would be below the number of edits the
server acknowledged. The server runs on its own database: a SQLite file in WAL mode, or, when
DATABASE_URL is set (CI's second run), a schema of its own in that PostgreSQL database.
"""

from __future__ import annotations

import datetime as dt
import http.client
import itertools
import json
import logging
import os
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from urllib.parse import quote

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text
from werkzeug.serving import make_server

from registry.app import create_app
from registry.extensions import db
from registry.models import AuditEvent, Project
from registry.models.types import Role
from registry.services import accounts
from registry.services.actor import Actor
from registry.services.organisations import create_organisation
from registry.services.projects import create_project
from registry.services.reference import load_reference

# Issue 14's figures; CONCURRENCY_CLIENTS and CONCURRENCY_EDITS make a quicker run while working.
CLIENTS = int(os.environ.get("CONCURRENCY_CLIENTS", 8))
EDITS_EACH = int(os.environ.get("CONCURRENCY_EDITS", 200))
RETRY = {409, 412}  # the object changed since it was read: read again and retry

pytestmark = pytest.mark.slow


def _psycopg_url(url: str) -> str:
    return "postgresql+psycopg://" + url.removeprefix("postgresql://") if url.startswith("postgresql://") else url


@pytest.fixture
def database_uri(tmp_path):
    """A database of the test's own: a SQLite file, or a fresh schema of DATABASE_URL's database."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'concurrency.sqlite3'}"
        return
    url = _psycopg_url(url)
    schema = f"concurrency_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def served(database_uri, tmp_path):
    """The app, migrated, with one donor, a token and a project, served by werkzeug's threaded
    server on a free loopback port: yields (port, token, project id, app)."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "SECRET_KEY": "test",
            "SESSION_COOKIE_SECURE": False,
            "RATES_DIR": str(tmp_path / "rates"),
            # 8 x 200 edits and their reads with one token in a few minutes: far above the
            # default per-token limit, which is not what this test is about.
            "RATELIMIT_API_TOKEN": "100000 per minute",
        }
    )
    actor = Actor(label="tester", channel="cli", role=Role.ADMIN)
    with app.app_context():
        upgrade()
        load_reference()
        org = create_organisation(actor, {"ref": "CONC", "name": "Concurrent donor", "kind": "donor_agency"})
        user = accounts.create_user(actor, "editor@example.org", "donor", org=org)
        token = accounts.issue_token(actor, user)
        project = create_project(
            actor,
            org,
            {
                "reference": "CONC-1",
                "title": "Counter 0",
                "status": "active",
                "recipients": [{"country": "KEN", "share": Decimal(100)}],
                "areas": [{"code": "23b", "share": Decimal(100)}],
                "planned_start": dt.date(2020, 1, 1),
            },
        )
        db.session.commit()
        project_id = project.id
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    quiet = logging.getLogger("werkzeug")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # one line per request would only slow the run down
    thread.start()
    try:
        yield server.server_port, token, project_id, app
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        quiet.setLevel(level)
        with app.app_context():
            db.session.remove()
            # A handler thread ends its request (and gives its connection back) just after
            # the client has read the answer: wait for that before closing the connections.
            deadline = time.monotonic() + 10
            while db.engine.pool.checkedout() and time.monotonic() < deadline:
                time.sleep(0.05)
            db.engine.dispose()


class Client:
    """One client's keep-alive connection to the server, counting every answer's status."""

    def __init__(self, port: int, token: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.auth = {"Authorization": f"Bearer {token}"}
        self.statuses: Counter = Counter()
        self.read: tuple[str, int] | None = None  # (ETag, counter) of the last state read

    def call(self, method: str, url: str, body: dict | None = None, **headers: str):
        headers = {**self.auth, **headers}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        self.connection.request(method, url, body=payload, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        self.statuses[(method, response.status)] += 1
        return response.status, response.getheader("ETag"), json.loads(data) if data else None

    def add_one(self, url: str) -> None:
        """PATCH the counter up by one with If-Match, from the state last read: the answer of
        this client's previous edit, else a GET. On 412 (someone was faster) pause a random
        moment, as a polite client does so that retries spread out, read again and retry."""
        for attempt in itertools.count():
            if attempt:
                time.sleep(random.uniform(0, 0.02 * 2 ** min(attempt, 3)))
            if self.read is None:
                status, etag, body = self.call("GET", url)
                assert status == 200 and etag, (status, body)
                self.read = etag, int(body["title"].removeprefix("Counter "))
            etag, counter = self.read
            change = {"title": f"Counter {counter + 1}"}
            status, new_etag, answer = self.call("PATCH", url, change, **{"If-Match": etag})
            if status == 200:
                # The answer carries the saved state and its ETag: the next edit starts from it.
                self.read = new_etag, int(answer["title"].removeprefix("Counter "))
                return
            assert status in RETRY, (status, answer)
            self.read = None

    def run(self, url: str, edits: int) -> Counter:
        try:
            for _ in range(edits):
                self.add_one(url)
        finally:
            self.connection.close()
        return self.statuses


def test_concurrent_edits_through_a_threaded_server_lose_nothing(served):
    port, token, project_id, app = served
    url = f"/api/v1/projects/{project_id}"
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(Client(port, token).run, url, EDITS_EACH) for _ in range(CLIENTS)]
        statuses = sum((future.result() for future in futures), Counter())

    server_errors = {key: n for key, n in statuses.items() if key[1] >= 500}
    assert server_errors == {}, statuses
    acknowledged = statuses[("PATCH", 200)]
    assert acknowledged == CLIENTS * EDITS_EACH, statuses
    with app.app_context():
        project = db.session.get(Project, project_id)
        # Every acknowledged edit is in the final value: none was overwritten by another.
        assert project.title == f"Counter {acknowledged}"
        assert project.version == 1 + acknowledged
        of_project = (AuditEvent.entity_type == "project", AuditEvent.entity_id == project_id)
        updates = db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(*of_project, AuditEvent.action == "update")
        )
        assert updates == acknowledged
        dialect = db.engine.dialect.name
        db.session.remove()
    if dialect == "sqlite":
        # The If-Match check and the write happen under one write lock (BEGIN IMMEDIATE): a change
        # made in between is always seen by the check (412), never first by the write (409).
        assert statuses[("PATCH", 409)] == 0
    if CLIENTS > 1:
        # The clients did race: some read a version that was gone by the time they wrote.
        assert statuses[("PATCH", 412)] + statuses[("PATCH", 409)] > 0, statuses
