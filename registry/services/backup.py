"""Backups of the registry's database and their restore, on SQLite and PostgreSQL.

SQLite: the online backup API copies the database page by page inside one read
transaction, so the copy is the database at one point in time even while the app writes
(WAL). A restore first checks the file is a backup of this registry (it opens, passes
``PRAGMA integrity_check``, has an ``alembic_version`` at a revision of our migrations),
copies it next to the database and replaces the database in one rename: the database is
either the old one or the restored one, never half of each.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists --no-owner``
in one transaction (``--single-transaction``), with the connection taken from the app's
database URL; the password goes through ``PGPASSWORD``, never the command line.

Nothing here commits the app's session: a backup only reads, and a restore replaces the
whole database outside it (the caller disposes of the engine's connections first)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from registry.errors import RegistryError

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


class BackupError(RegistryError):
    """A backup or restore that cannot be done; the database is unchanged."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass
class Summary:
    """What a backup holds or what was restored: its file, size and contents."""

    path: Path
    size: int
    revision: str
    projects: int
    flows: int

    def describe(self) -> str:
        return (
            f"{self.path}: {self.size:,} bytes, schema revision {self.revision}, "
            f"{self.projects:,} projects, {self.flows:,} flows"
        )


def known_revisions() -> set[str]:
    """Every revision of the registry's migrations."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from registry.app import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


# --------------------------------------------------------------------------- SQLite


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("The database is in memory: there is no file to back up or restore.")
    return Path(database)


def _contents(conn) -> tuple[str, int, int]:
    """The schema revision and the counts of projects and flows, read on a DB-API connection."""
    cursor = conn.cursor()
    (revision,) = cursor.execute("SELECT version_num FROM alembic_version").fetchone()
    (projects,) = cursor.execute("SELECT count(*) FROM projects").fetchone()
    (flows,) = cursor.execute("SELECT count(*) FROM transactions").fetchone()
    return revision, projects, flows


def check_sqlite_backup(path: Path) -> Summary:
    """The contents of the SQLite backup at PATH, or BackupError saying why it is not one."""
    try:
        with path.open("rb") as handle:
            header = handle.read(16)
    except OSError as exc:
        raise BackupError(f"{path}: cannot be read ({exc.strerror}).") from None
    if header != b"SQLite format 3\x00":
        raise BackupError(f"{path}: not a SQLite database (its first bytes are not the SQLite header).")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{path}: cannot be opened as SQLite ({exc}).") from None
    try:
        verdict = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
        if verdict != ["ok"]:
            raise BackupError(f"{path}: fails SQLite's integrity check ({'; '.join(verdict[:3])}).")
        try:
            revision, projects, flows = _contents(conn)
        except (sqlite3.Error, TypeError) as exc:
            raise BackupError(
                f"{path}: not a backup of this registry (no alembic_version, projects or flows: {exc})."
            ) from None
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a readable SQLite database ({exc}).") from None
    finally:
        conn.close()
    if revision not in known_revisions():
        raise BackupError(f"{path}: schema revision {revision!r} is not one of this registry's migrations.")
    return Summary(path, path.stat().st_size, revision, projects, flows)


def _copy(source: sqlite3.Connection, target_path: str, journal_mode: str) -> None:
    """Copy the database open on SOURCE to TARGET_PATH with the online backup API; close both."""
    target = sqlite3.connect(target_path)
    try:
        # pages=-1: the whole database in one step, so in one read transaction.
        source.backup(target, pages=-1)
        target.execute(f"PRAGMA journal_mode={journal_mode}")
    finally:
        target.close()
        source.close()


def backup_sqlite(url: str, out: Path) -> Summary:
    """Copy the database of URL to OUT with SQLite's online backup API (one point in time)."""
    source_path = sqlite_path(url)
    if not source_path.exists():
        raise BackupError(f"{source_path}: the database does not exist.")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    os.close(fd)
    try:
        # The copy stands alone: one file, no WAL beside it.
        _copy(sqlite3.connect(source_path, timeout=30), partial, "DELETE")
        os.replace(partial, out)
    except sqlite3.Error as exc:
        raise BackupError(f"Backup of {source_path} failed: {exc}.") from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return check_sqlite_backup(out)


def restore_sqlite(url: str, source: Path) -> Summary:
    """Replace the database of URL by the checked backup SOURCE, in one rename."""
    summary = check_sqlite_backup(source)
    target = sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".restoring", dir=target.parent)
    os.close(fd)
    try:
        _copy(sqlite3.connect(f"file:{source}?mode=ro", uri=True), partial, "WAL")
        # Fold the live database's WAL away so no stale log is replayed onto the new file.
        if target.exists():
            live = sqlite3.connect(target, timeout=30)
            try:
                live.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                live.close()
        os.replace(partial, target)
        for suffix in ("-wal", "-shm"):
            leftover = Path(f"{target}{suffix}")
            if leftover.exists():
                leftover.unlink()
    except (sqlite3.Error, OSError) as exc:
        raise BackupError(f"Restore into {target} failed, the database is unchanged: {exc}.") from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return Summary(source, summary.size, summary.revision, summary.projects, summary.flows)


# --------------------------------------------------------------------------- PostgreSQL


def pg_tool(name: str) -> str:
    """The path of pg_dump or pg_restore, or BackupError saying how to get it."""
    found = shutil.which(name)
    if found:
        return found
    for directory in PG_BIN_DIRS:
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    raise BackupError(
        f"{name} is not installed (looked on PATH and in {', '.join(PG_BIN_DIRS)}): "
        "install the PostgreSQL client tools (Debian: apt-get install postgresql-client)."
    )


def pg_connection(url: str) -> tuple[list[str], dict[str, str]]:
    """The connection options for the PostgreSQL tools and their environment (the password
    in PGPASSWORD, never on the command line)."""
    parsed = make_url(url)
    args = []
    if parsed.host:
        args += ["--host", parsed.host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    args += ["--dbname", parsed.database or ""]
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return args, env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{what} failed (exit {result.returncode}): {' '.join(detail[-3:])}")


def _pg_engine(url: str):
    from sqlalchemy import create_engine

    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url)


def _pg_counts(conn) -> tuple[str, int, int]:
    """The schema revision and the counts of projects and flows, on a SQLAlchemy connection."""
    from sqlalchemy import text

    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    projects = conn.execute(text("SELECT count(*) FROM projects")).scalar_one()
    flows = conn.execute(text("SELECT count(*) FROM transactions")).scalar_one()
    return revision, projects, flows


def pg_contents(url: str) -> tuple[str, int, int]:
    """The schema revision and counts of projects and flows of the PostgreSQL database URL."""
    engine = _pg_engine(url)
    try:
        with engine.connect() as conn:
            return _pg_counts(conn)
    finally:
        engine.dispose()


def backup_postgresql(url: str, out: Path) -> Summary:
    """Dump the database of URL to OUT (pg_dump's custom format), one snapshot; the summary
    counts that same snapshot, so it describes the file, not the database a moment later."""
    from sqlalchemy import text

    args, env = pg_connection(url)
    tool = pg_tool("pg_dump")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    os.close(fd)
    engine = _pg_engine(url)
    try:
        # A repeatable-read transaction exports its snapshot; pg_dump reads through that same
        # snapshot (--snapshot) while the transaction stays open, and the counts are taken in
        # it too. Commits made meanwhile by the app are in neither.
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                revision, projects, flows = _pg_counts(conn)
                _run([tool, "--format=custom", f"--snapshot={snapshot}", "--file", partial, *args], env, "pg_dump")
        os.replace(partial, out)
    except SQLAlchemyError as exc:
        raise BackupError(f"Backup failed: the database does not answer ({type(exc).__name__}: {exc}).") from None
    finally:
        engine.dispose()
        if os.path.exists(partial):
            os.unlink(partial)
    return Summary(out, out.stat().st_size, revision, projects, flows)


def restore_postgresql(url: str, source: Path) -> Summary:
    if not source.is_file():
        raise BackupError(f"{source}: no such file.")
    args, env = pg_connection(url)
    tool = pg_tool("pg_restore")
    # Refuse what is not a pg_dump archive before touching the database.
    _run([tool, "--list", str(source)], env, f"Reading {source} as a pg_dump archive")
    _run(
        [tool, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error", *args, str(source)],
        env,
        "pg_restore (nothing was changed)",
    )
    revision, projects, flows = pg_contents(url)
    return Summary(source, source.stat().st_size, revision, projects, flows)


# --------------------------------------------------------------------------- either


def backup(url: str, out: Path) -> Summary:
    """Back up the database of URL to OUT."""
    return backup_postgresql(url, out) if url.startswith("postgresql") else backup_sqlite(url, out)


def restore(url: str, source: Path) -> Summary:
    """Replace the database of URL by the backup SOURCE; on any failure it is unchanged."""
    return restore_postgresql(url, source) if url.startswith("postgresql") else restore_sqlite(url, source)
