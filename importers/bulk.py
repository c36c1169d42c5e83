"""INSERTs of many rows straight through the DB-API cursor.

SQLAlchemy's Core executemany spends about a third of an import's writing time building
and processing one parameter dict per row. Here rows are plain tuples, and each column's
values go through SQLAlchemy's own bind processor for the dialect (so an Enum is stored
as its value, a Date as ISO text on SQLite, a UTC datetime as SQLAlchemy formats it, a
JSON column serialised by the engine's serializer): exactly what an ORM or Core insert
stores, converted column by column and once per distinct value. The statements are
plain SQL INSERTs of up to a hundred rows each, so database triggers see every row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
# Rows go in multi-row VALUES lists: the driver binds and steps once per statement rather
# than once per row (on SQLite, 100,000 transactions insert in about half the time). A
# statement keeps under SQLite's historical limit of 999 parameters.
MAX_PARAMS = 999
MAX_ROWS_PER_STATEMENT = 100


def _is_json(type_: TypeEngine) -> bool:
    if isinstance(type_, TypeDecorator):
        type_ = type_.impl_instance
    return isinstance(type_, JSON)


class _Converter:
    """A column type's bind processor, applied once per distinct value of a column.

    Values are told apart by equality, as dict keys are: fine for the ids, codes, enums,
    dates and datetimes the importers write (an enum member and its value convert alike)."""

    def __init__(self, process: Callable[[Any], Any], remember: bool) -> None:
        self.process = process
        self.seen: dict[Any, Any] | None = {} if remember else None

    def column(self, values: Sequence[Any]) -> list[Any]:
        seen = self.seen
        if seen is None:
            return list(map(self.process, values))
        try:
            distinct = set(values)
        except TypeError:  # unhashable values: convert each
            return list(map(self.process, values))
        for value in distinct - seen.keys():
            seen[value] = self.process(value)
        return list(map(seen.__getitem__, values))


def _converter(type_: TypeEngine, dialect: Dialect) -> _Converter | None:
    """The column type's bind processor for the dialect (None when values go as they are)."""
    process = type_._cached_bind_processor(dialect)
    if process is None:
        return None
    # JSON documents differ row by row (and dicts cannot be keys): no point remembering them.
    return _Converter(process, remember=not _is_json(type_))


class BulkInsert:
    """``INSERT INTO table (columns) VALUES (...), (...)`` for a list of tuples, by cursor executemany."""

    def __init__(self, connection: Connection, table: Table, columns: Sequence[str]) -> None:
        dialect = connection.dialect
        mark = _MARKS.get(dialect.paramstyle)
        if mark is None:  # pragma: no cover - the registry runs on SQLite and psycopg
            raise NotImplementedError(f"Bulk inserts need a positional paramstyle, not {dialect.paramstyle}")
        quote = dialect.identifier_preparer.quote
        self.connection = connection
        self.columns = tuple(columns)
        self._head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in self.columns)}) VALUES "
        self._row = f"({', '.join([mark] * len(self.columns))})"
        self.rows_per_statement = max(1, min(MAX_ROWS_PER_STATEMENT, MAX_PARAMS // max(1, len(self.columns))))
        converters = [_converter(table.c[name].type, dialect) for name in self.columns]
        self._convert = [(i, f) for i, f in enumerate(converters) if f is not None]

    def convert(self, rows: Iterable[Sequence[Any]]) -> list[tuple]:
        """The rows with every value as the driver receives it from SQLAlchemy."""
        rows = list(rows)
        if not rows or not self._convert:
            return [tuple(r) for r in rows]
        columns: list[Any] = list(zip(*rows, strict=True))
        for i, converter in self._convert:
            columns[i] = converter.column(columns[i])
        return list(zip(*columns, strict=True))

    def statement(self, rows: int) -> str:
        """The INSERT of ``rows`` rows (their values one after the other)."""
        return self._head + ", ".join([self._row] * rows)

    def execute(self, rows: Iterable[Sequence[Any]], chunk_size: int = 5000) -> int:
        """Insert the rows in chunks; returns how many were inserted."""
        rows = list(rows)
        per = self.rows_per_statement
        full_sql = self.statement(per)
        for start in range(0, len(rows), chunk_size):
            chunk = self.convert(rows[start : start + chunk_size])
            whole = len(chunk) - len(chunk) % per
            if whole:
                groups = [tuple(chain.from_iterable(chunk[i : i + per])) for i in range(0, whole, per)]
                self.connection.exec_driver_sql(full_sql, groups)
            if whole < len(chunk):
                rest = chunk[whole:]
                self.connection.exec_driver_sql(self.statement(len(rest)), tuple(chain.from_iterable(rest)))
        return len(rows)
