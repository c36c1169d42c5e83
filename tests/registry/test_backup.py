"""`flask --app wsgi backup OUT` and `restore IN`: a backup is the database at one point in
time even while the app writes, a restore gives it back whole, and a file that is not a
backup of this registry is refused with the database unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
import threading
import time

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from registry.app import create_app
from registry.extensions import db
from registry.models import ImportBatch, Organisation, Project, Transaction
from registry.models.types import OrganisationKind, ProjectStatus, TransactionType

FLOWS_PER_BATCH = 7


def make_app(url: str, tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "test",
            "SESSION_COOKIE_SECURE": False,
            "RATES_DIR": str(tmp_path / "rates"),
        }
    )
    with app.app_context():
        upgrade()
        db.session.add(Organisation(ref="ORG-1", name="Donor", kind=next(iter(OrganisationKind))))
        db.session.flush()
        org = db.session.query(Organisation).one()
        db.session.add(Project(org_id=org.id, reference="P-1", title="Backed up", status=ProjectStatus.ACTIVE))
        db.session.commit()
        db.session.remove()
    return app


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
    conn = sqlite3.connect(path)
    try:
        return figures(conn)
    finally:
        conn.close()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_backup_taken_while_the_app_writes_is_one_point_in_time_and_restores_whole(tmp_path):
    database = tmp_path / "live.sqlite3"
    app = make_app(f"sqlite:///{database}", tmp_path)
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
    assert "revision 0014_flow_recipient_facts" in restored.output
    assert "1 projects" in restored.output and f"{flows:,} flows" in restored.output
    assert sqlite_figures(database) == (projects, batches, flows, usd, per_batch)
    # and the app reads the restored database through its own engine
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM transactions")).scalar() == flows
        db.session.remove()


def test_restore_asks_first_and_a_no_leaves_the_database_alone(tmp_path):
    database = tmp_path / "live.sqlite3"
    app = make_app(f"sqlite:///{database}", tmp_path)
    out = tmp_path / "copy.sqlite3"
    assert app.test_cli_runner().invoke(args=["backup", str(out)]).exit_code == 0
    with app.app_context():
        write_batch(0)
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["restore", str(out)], input="n\n")
    assert result.exit_code != 0 and "Replace every row" in result.output
    assert sqlite_figures(database)[2] == FLOWS_PER_BATCH


def _not_a_registry(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()


def _unknown_revision(path, source):
    conn = sqlite3.connect(path)
    sqlite3.connect(source).backup(conn)
    conn.execute("UPDATE alembic_version SET version_num = '9999_from_elsewhere'")
    conn.commit()
    conn.close()


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
def test_restore_of_a_bad_file_is_refused_and_the_database_is_unchanged(tmp_path, kind, message):
    database = tmp_path / "live.sqlite3"
    app = make_app(f"sqlite:///{database}", tmp_path)
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
    with sqlite3.connect(database) as conn:
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


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


@pytest.mark.skipif(_postgres_url() is None, reason="DATABASE_URL is not PostgreSQL: pg_dump round trip not run")
def test_a_postgresql_backup_restores_into_a_second_database(tmp_path):
    base = make_url(_postgres_url()).set(drivername="postgresql+psycopg")
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    names = [f"{base.database}_bk_source", f"{base.database}_bk_target"]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        source_url = base.set(database=names[0]).render_as_string(hide_password=False)
        target_url = base.set(database=names[1]).render_as_string(hide_password=False)
        source = make_app(source_url, tmp_path)
        with source.app_context():
            for n in range(5):
                write_batch(n)
            db.session.remove()
        out = tmp_path / "registry.dump"
        result = source.test_cli_runner().invoke(args=["backup", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_bytes()[:5] == b"PGDMP"
        assert f"{5 * FLOWS_PER_BATCH} flows" in result.output

        target = make_app(target_url, tmp_path)  # a database with other rows, replaced whole
        with target.app_context():
            write_batch(99)
            db.session.remove()
        restored = target.test_cli_runner().invoke(args=["restore", "--yes", str(out)])
        assert restored.exit_code == 0, restored.output
        assert "1 projects" in restored.output and f"{5 * FLOWS_PER_BATCH} flows" in restored.output

        engine = create_engine(target_url)
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
        for app in (source, target):
            with app.app_context():
                db.engine.dispose()
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
