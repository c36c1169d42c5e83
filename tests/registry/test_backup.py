"""`flask --app wsgi backup OUT` and `restore IN`: a backup is the database at one point in
time even while the app writes or an import runs, a restore gives it back whole (counts and
report totals to the cent), and a file that is not a backup of this registry is refused with
the database unchanged.

Every app a test here creates has its engine disposed at the end of the test (the
``make_app`` fixture): on PostgreSQL a pooled connection left to the garbage collector warns,
and pytest turns that warning into a failure of whichever test happens to be running."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import sqlite3
import threading
import time
from contextlib import closing

import pytest
from alembic.script import ScriptDirectory
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as AppSession
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from registry.app import MIGRATIONS_DIR, create_app
from registry.extensions import db
from registry.models import ImportBatch, Organisation, Project, Transaction
from registry.models.types import OrganisationKind, ProjectStatus, TransactionType
from registry.services.backup import BackupError, pg_tool

FLOWS_PER_BATCH = 7
HEAD = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


@pytest.fixture
def make_app(tmp_path):
    """Apps on databases of the test's own, migrated, with one organisation and project;
    ``reference=True`` loads the reference data an import needs. Disposed afterwards."""
    made = []

    def make(url: str, *, reference: bool = False):
        app = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": "test",
                "SESSION_COOKIE_SECURE": False,
                "RATES_DIR": str(tmp_path / "rates"),
                "IMPORT_STORAGE": str(tmp_path / "imports"),
            }
        )
        made.append(app)
        with app.app_context():
            upgrade()
            if reference:
                from registry.services.reference import load_reference

                load_reference()
            db.session.add(Organisation(ref="ORG-1", name="Donor", kind=next(iter(OrganisationKind))))
            db.session.flush()
            org = db.session.query(Organisation).one()
            db.session.add(Project(org_id=org.id, reference="P-1", title="Backed up", status=ProjectStatus.ACTIVE))
            db.session.commit()
            db.session.remove()
        return app

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else None


@pytest.fixture
def postgres_database():
    """Fresh PostgreSQL databases beside the suite's own (named after it), dropped afterwards."""
    url = _postgres_url()
    if url is None:
        pytest.skip("DATABASE_URL is not PostgreSQL: the pg_dump round trip runs in the PostgreSQL suite")
    try:
        pg_tool("pg_dump")
        pg_tool("pg_restore")
    except BackupError as exc:
        pytest.skip(f"no PostgreSQL client tools: {exc.message}")
    base = make_url(url).set(drivername="postgresql+psycopg")
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def make(suffix: str) -> str:
        name = f"{base.database}_{suffix}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return base.set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --------------------------------------------------------------------------- batches written by hand


def batch_amounts(n: int) -> list[int]:
    """The USD minor units of the flows of batch N: different in every batch, so a sum tells
    which batches a database holds."""
    return [n * 1_000_003 + k * 101 + 17 for k in range(FLOWS_PER_BATCH)]


def write_batch(n: int) -> None:
    """One import batch and its flows, committed together (in an app context)."""
    project = db.session.query(Project).filter_by(reference="P-1").one()
    batch = ImportBatch(kind="sheet", filename=f"batch-{n}.xlsx", file_hash=f"{n:064x}", status="committed")
    batch.counts = {"flows": FLOWS_PER_BATCH}
    db.session.add(batch)
    db.session.flush()
    for minor in batch_amounts(n):
        db.session.add(
            Transaction(
                project_id=project.id,
                type=TransactionType.DISBURSEMENT,
                amount_minor=minor,
                currency="USD",
                value_date=dt.date(2024, 1, 1),
                usd_minor=minor,
                usd_rate="1",
                usd_rate_date=dt.date(2024, 1, 1),
                usd_rate_source="identity",
                import_batch_id=batch.id,
            )
        )
    db.session.commit()


def figures(conn) -> tuple[int, int, int, int, list[tuple[int, int]]]:
    """Counts of projects, batches and flows, the USD sum, and each batch's flow count, read
    with plain SQL on a DB-API connection."""
    cur = conn.cursor()
    projects = cur.execute("SELECT count(*) FROM projects").fetchone()[0]
    batches = cur.execute("SELECT count(*) FROM import_batches").fetchone()[0]
    flows, usd = cur.execute("SELECT count(*), coalesce(sum(usd_minor), 0) FROM transactions").fetchone()
    per_batch = cur.execute(
        "SELECT b.id, count(t.id) FROM import_batches b LEFT JOIN transactions t ON t.import_batch_id = b.id "
        "GROUP BY b.id ORDER BY b.id"
    ).fetchall()
    return projects, batches, flows, int(usd), [tuple(row) for row in per_batch]


def expected_after(batches: int) -> tuple[int, int, int, int]:
    """Projects, batches, flows and USD sum after BATCHES committed batches, from the amounts."""
    usd = sum(sum(batch_amounts(n)) for n in range(batches))
    return 1, batches, batches * FLOWS_PER_BATCH, usd


def sqlite_figures(path):
    with closing(sqlite3.connect(path)) as conn:
        return figures(conn)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_backup_taken_while_the_app_writes_is_one_point_in_time_and_restores_whole(tmp_path, make_app):
    database = tmp_path / "live.sqlite3"
    app = make_app(f"sqlite:///{database}")
    stop = threading.Event()
    written = {"n": 0}
    failures: list[BaseException] = []

    def writer():
        with app.app_context():
            try:
                while not stop.is_set():
                    write_batch(written["n"])
                    written["n"] += 1
            except BaseException as exc:  # reported by the test, not lost in the thread
                failures.append(exc)
            finally:
                db.session.remove()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written["n"] < 20 and thread.is_alive():
            time.sleep(0.01)
        out = tmp_path / "copy.sqlite3"
        result = app.test_cli_runner().invoke(args=["backup", str(out)])
        during = written["n"]
    finally:
        time.sleep(0.05)
        stop.set()
        thread.join(timeout=60)
    assert not failures, failures
    assert result.exit_code == 0, result.output
    after = written["n"]
    assert after > during, "the app kept writing after the backup"

    projects, batches, flows, usd, per_batch = sqlite_figures(out)
    # Every batch in the copy is whole, and the copy is the source after exactly `batches`
    # commits: its counts and USD sum are those the writer's first `batches` batches give.
    assert all(count == FLOWS_PER_BATCH for _, count in per_batch)
    assert (projects, batches, flows, usd) == expected_after(batches)
    assert 20 <= batches <= after
    assert f"{flows:,} flows" in result.output and f"{out.stat().st_size:,} bytes" in result.output
    assert not os.path.exists(f"{out}-wal")  # the copy stands alone: one file

    # The live database went on to hold more; the restore gives back the copy's figures.
    assert sqlite_figures(database)[1] == after > batches
    restored = app.test_cli_runner().invoke(args=["restore", "--yes", str(out)])
    assert restored.exit_code == 0, restored.output
    assert f"revision {HEAD}" in restored.output
    assert "1 projects" in restored.output and f"{flows:,} flows" in restored.output
    assert sqlite_figures(database) == (projects, batches, flows, usd, per_batch)
    # and the app reads the restored database through its own engine
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM transactions")).scalar() == flows
        db.session.remove()


# --------------------------------------------------------------------------- during an import

IMPORT_HEADERS = ["Project reference", "Title", "Status", "Country", "Priority area"]
IMPORT_HEADERS += ["Transaction type", "Amount", "Currency", "Value date"]
COUNTRIES = ["KEN", "NPL", "SEN", "BOL", "GHA", "HTI"]
CURRENCIES = ["USD", "EUR", "GBP", "SEK"]
STATE_TABLES = ("organisations", "projects", "transactions", "import_batches", "audit_events")


def donor_file(path, prefix: str, projects: int, flows_each: int):
    """A donor spreadsheet (CSV) of PROJECTS projects with FLOWS_EACH flows each, in four
    currencies at many value dates, amounts with cents: conversions a report must sum exactly."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(IMPORT_HEADERS)
        for p in range(projects):
            for k in range(flows_each):
                cents = (p * 7919 + k * 104_729) % 500_000_000 + 101
                writer.writerow(
                    [
                        f"{prefix}-{p:04d}",
                        f"{prefix} connectivity {p}",
                        "active",
                        COUNTRIES[(p + k) % len(COUNTRIES)] if k % 3 else COUNTRIES[p % len(COUNTRIES)],
                        "23b" if p % 2 else "23a",
                        "commitment" if k == 0 else "disbursement",
                        f"{cents // 100}.{cents % 100:02d}",
                        CURRENCIES[(p + k) % len(CURRENCIES)],
                        dt.date(2019 + k % 5, 1 + p % 12, 1 + (p + k) % 28).isoformat(),
                    ]
                )
    return path


def state(app) -> dict:
    """What a restore must give back: row counts, the exact USD sum of the flows, and the flows
    report by region (every measure, each to the cent) as the command line prints it."""
    with app.app_context():
        counts = {table: db.session.scalar(text(f"SELECT count(*) FROM {table}")) for table in STATE_TABLES}
        usd = db.session.scalar(text("SELECT coalesce(sum(usd_minor), 0) FROM transactions"))
        db.session.remove()
    report = app.test_cli_runner().invoke(args=["report", "flows", "--by", "region", "--format", "json"])
    assert report.exit_code == 0, report.output
    body = json.loads(report.output)
    del body["generated_at"]  # when it was asked, not what it says
    return {"counts": counts, "usd_minor": int(usd), "report": body}


class PauseBeforeCommit:
    """Holds the import thread's outermost commit until released: every row of the batch is
    written (and the report facts refreshed) inside the open transaction, none committed."""

    def __init__(self, thread_name: str) -> None:
        self.thread_name = thread_name
        self.reached = threading.Event()
        self.release = threading.Event()
        self.pending_flows: int | None = None

    def __call__(self, session) -> None:
        if threading.current_thread().name != self.thread_name or session.in_nested_transaction():
            return
        if self.reached.is_set():
            return
        self.pending_flows = session.execute(text("SELECT count(*) FROM transactions")).scalar()
        self.reached.set()
        if not self.release.wait(180):
            raise RuntimeError("the test never released the import")


def _run_import(app, path, org: str, failures: list[BaseException]) -> None:
    """`flask import sheet PATH --org ORG` as the command runs it: one unit of work, one commit."""
    from importers.cli import run_cli_import

    with app.app_context():
        try:
            run_cli_import("sheet", path, org, f"Donor {org}", {}, False)
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
        finally:
            db.session.remove()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_backup_taken_during_an_import_holds_none_of_it_and_each_backup_restores_to_the_cent(
    backend, request, tmp_path, make_app
):
    if backend == "postgresql":
        url = request.getfixturevalue("postgres_database")("backup_live")
    else:
        url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    app = make_app(url, reference=True)
    runner = app.test_cli_runner()
    first = runner.invoke(
        args=[
            "import",
            "sheet",
            str(donor_file(tmp_path / "a.csv", "A", 30, 8)),
            "--org",
            "DA",
            "--org-name",
            "Donor A",
        ]
    )
    assert first.exit_code == 0, first.output
    before = state(app)
    assert before["counts"]["transactions"] == 240 and before["usd_minor"] > 0 and before["report"]["rows"]

    # A second import runs in its own thread; it is held at its commit, every row written.
    pause = PauseBeforeCommit("import-during-backup")
    failures: list[BaseException] = []
    importer = threading.Thread(
        target=_run_import,
        args=(app, donor_file(tmp_path / "b.csv", "B", 120, 12), "DB", failures),
        name=pause.thread_name,
    )
    event.listen(AppSession, "before_commit", pause)
    try:
        importer.start()
        assert pause.reached.wait(180), f"the import never reached its commit: {failures}"
        # the import's own transaction holds its 1,440 flows; nobody else sees them yet
        assert pause.pending_flows == 240 + 120 * 12
        during = tmp_path / "during.backup"
        taken = runner.invoke(args=["backup", str(during)])
        assert taken.exit_code == 0, taken.output
        assert importer.is_alive(), "the import ended before the backup did"
    finally:
        pause.release.set()
        importer.join(timeout=180)
        event.remove(AppSession, "before_commit", pause)
    assert not failures, failures
    # the summary describes the copy: the database before the import, whatever came after
    assert f"{before['counts']['projects']:,} projects, 240 flows" in taken.output

    after = state(app)
    assert after["counts"]["transactions"] == 240 + 1440
    assert after["counts"]["import_batches"] == before["counts"]["import_batches"] + 1
    assert after["report"] != before["report"]
    later = tmp_path / "after.backup"
    assert runner.invoke(args=["backup", str(later)]).exit_code == 0

    # The backup taken during the import gives back the database before it, to the cent ...
    restored = runner.invoke(args=["restore", "--yes", str(during)])
    assert restored.exit_code == 0, restored.output
    assert f"revision {HEAD}" in restored.output
    assert state(app) == before
    # ... and the one taken after it the database with the whole import.
    restored = runner.invoke(args=["restore", "--yes", str(later)])
    assert restored.exit_code == 0, restored.output
    assert state(app) == after


# --------------------------------------------------------------------------- refusals


def test_restore_asks_first_and_a_no_leaves_the_database_alone(tmp_path, make_app):
    database = tmp_path / "live.sqlite3"
    app = make_app(f"sqlite:///{database}")
    out = tmp_path / "copy.sqlite3"
    assert app.test_cli_runner().invoke(args=["backup", str(out)]).exit_code == 0
    with app.app_context():
        write_batch(0)
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["restore", str(out)], input="n\n")
    assert result.exit_code != 0 and "Replace every row" in result.output
    assert sqlite_figures(database)[2] == FLOWS_PER_BATCH


def _not_a_registry(path):
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.commit()


def _unknown_revision(path, source):
    with closing(sqlite3.connect(path)) as conn, closing(sqlite3.connect(source)) as original:
        original.backup(conn)
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_elsewhere'")
        conn.commit()


def _truncated(path, source):
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("text", "not a SQLite database"),
        ("foreign", "not a backup of this registry"),
        ("revision", "'9999_from_elsewhere' is not one of this registry's migrations"),
        ("truncated", ""),
        ("missing", "cannot be read"),
    ],
)
def test_restore_of_a_bad_file_is_refused_and_the_database_is_unchanged(tmp_path, make_app, kind, message):
    database = tmp_path / "live.sqlite3"
    app = make_app(f"sqlite:///{database}")
    with app.app_context():
        write_batch(0)
        write_batch(1)
        db.session.remove()
    good = tmp_path / "good.sqlite3"
    assert app.test_cli_runner().invoke(args=["backup", str(good)]).exit_code == 0
    bad = tmp_path / "bad.sqlite3"
    if kind == "text":
        bad.write_text("project,flow\n1,2\n")
    elif kind == "foreign":
        _not_a_registry(bad)
    elif kind == "revision":
        _unknown_revision(bad, good)
    elif kind == "truncated":
        _truncated(bad, good)
    before_figures = sqlite_figures(database)
    with closing(sqlite3.connect(database)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = digest(database)

    result = app.test_cli_runner().invoke(args=["restore", "--yes", str(bad)])

    assert result.exit_code == 1, result.output
    assert "Error:" in result.output and str(bad) in result.output and message in result.output
    assert digest(database) == before
    assert before_figures == (*expected_after(2), [(1, FLOWS_PER_BATCH), (2, FLOWS_PER_BATCH)])
    assert sqlite_figures(database) == before_figures
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith((".restoring", ".partial"))) == []


# --------------------------------------------------------------------------- PostgreSQL


def test_a_postgresql_backup_restores_into_a_second_database(tmp_path, postgres_database, make_app):
    source_url, target_url = postgres_database("bk_source"), postgres_database("bk_target")
    source = make_app(source_url)
    with source.app_context():
        for n in range(5):
            write_batch(n)
        db.session.remove()
    out = tmp_path / "registry.dump"
    result = source.test_cli_runner().invoke(args=["backup", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:5] == b"PGDMP"
    assert f"{5 * FLOWS_PER_BATCH} flows" in result.output

    target = make_app(target_url)  # a database with other rows, replaced whole
    with target.app_context():
        write_batch(99)
        db.session.remove()
    restored = target.test_cli_runner().invoke(args=["restore", "--yes", str(out)])
    assert restored.exit_code == 0, restored.output
    assert "1 projects" in restored.output and f"{5 * FLOWS_PER_BATCH} flows" in restored.output

    engine = create_engine(make_url(target_url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            got = figures(conn.connection.dbapi_connection)
    finally:
        engine.dispose()
    assert got[:4] == expected_after(5)
    assert all(count == FLOWS_PER_BATCH for _, count in got[4])

    bad = tmp_path / "bad.dump"
    bad.write_text("not an archive")
    refused = target.test_cli_runner().invoke(args=["restore", "--yes", str(bad)])
    assert refused.exit_code == 1 and "not appear to be a valid archive" in refused.output
