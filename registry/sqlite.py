"""SQLite connections: WAL, enforced foreign keys, and how a transaction begins.

SQLite lets one writer at a time. A transaction begun with a plain (deferred) ``BEGIN`` takes
the write lock only at its first write; if another writer committed since it first read, the
upgrade fails at once with "database is locked", whatever the busy timeout (the reader's
snapshot is stale, so waiting cannot help). A unit of work that is going to write therefore
begins ``BEGIN IMMEDIATE``: it waits (up to the busy timeout) for the write lock before it reads
anything, and then reads and writes the latest data. Reads keep a plain ``BEGIN``, so in WAL
mode they never wait for a writer nor block one.

Which units write: every web request whose method is not GET, HEAD or OPTIONS (API writes,
form posts), and any block of code inside :func:`writing` (the command line's
``command_unit``, background jobs). SQLAlchemy still emits BEGIN itself, so SAVEPOINTs
(``begin_nested``) and transactional DDL work as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_writing: ContextVar[bool | None] = ContextVar("registry_sqlite_writing", default=None)


@contextmanager
def writing() -> Iterator[None]:
    """Transactions begun inside this block take SQLite's write lock at once (BEGIN IMMEDIATE).

    Enter it before the unit of work's first query: a transaction already open keeps its mode."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def begins_immediate() -> bool:
    """Whether a transaction begun now is a writer's: inside ``writing()``, or in a web request
    whose method changes data."""
    declared = _writing.get()
    if declared is not None:
        return declared
    return has_request_context() and request.method not in READ_METHODS


def is_plain_read() -> bool:
    """Whether the current unit of work is a web request that reads only (GET, HEAD, OPTIONS)
    and was not declared a writer."""
    return has_request_context() and request.method in READ_METHODS and not _writing.get()


def is_sqlite(dbapi_connection) -> bool:
    return type(dbapi_connection).__module__.startswith("sqlite3")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL and enforced foreign keys on every SQLite connection."""
    if not is_sqlite(dbapi_connection):
        return
    # The driver must not open transactions by itself: SQLAlchemy's begin (below) does.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # The busy timeout (how long a writer waits for another's lock) is the driver's ``timeout``,
    # set from SQLITE_BUSY_TIMEOUT by create_app.
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if begins_immediate() else "BEGIN")
