"""INSERTs of many rows straight through the DB-API cursor.

SQLAlchemy's Core executemany spends about a third of an import's writing time building
and processing one parameter dict per row. Here rows are plain tuples, and each column's
values go through SQLAlchemy's own bind processor for the dialect (so an Enum is stored
as its value, a Date as ISO text on SQLite, a UTC datetime as SQLAlchemy formats it, a
JSON column serialised by the engine's serializer): exactly what an ORM or Core insert
stores, converted column by column and once per distinct value. The statement is still a
plain SQL INSERT, so database triggers see every row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _is_json(type_: TypeEngine) -> bool:
    if isinstance(type_, TypeDecorator):
        type_ = type_.impl_instance
    return isinstance(type_, JSON)


def _converter(type_: TypeEngine, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column type's bind processor; remembered per value for hashable values."""
    process = type_._cached_bind_processor(dialect)
    if process is None:
        return None
    if _is_json(type_):
        return process  # documents differ row by row (and dicts cannot be keys)
    seen: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            out = seen[value] = process(value)
            return out
        except TypeError:  # an unhashable value: convert it every time
            return process(value)

    return convert


class BulkInsert:
    """``INSERT INTO table (columns) VALUES (...)`` for a list of tuples, by cursor executemany."""

    def __init__(self, connection: Connection, table: Table, columns: Sequence[str]) -> None:
        dialect = connection.dialect
        mark = _MARKS.get(dialect.paramstyle)
        if mark is None:  # pragma: no cover - the registry runs on SQLite and psycopg
            raise NotImplementedError(f"Bulk inserts need a positional paramstyle, not {dialect.paramstyle}")
        quote = dialect.identifier_preparer.quote
        self.connection = connection
        self.columns = tuple(columns)
        self.sql = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in self.columns)}) "
            f"VALUES ({', '.join([mark] * len(self.columns))})"
        )
        converters = [_converter(table.c[name].type, dialect) for name in self.columns]
        self._convert = [(i, f) for i, f in enumerate(converters) if f is not None]

    def convert(self, rows: Iterable[Sequence[Any]]) -> list[tuple]:
        """The rows with every value as the driver receives it from SQLAlchemy."""
        rows = list(rows)
        if not rows or not self._convert:
            return [tuple(r) for r in rows]
        columns: list[Any] = list(zip(*rows, strict=True))
        for i, convert in self._convert:
            columns[i] = list(map(convert, columns[i]))
        return list(zip(*columns, strict=True))

    def execute(self, rows: Iterable[Sequence[Any]], chunk_size: int = 5000) -> int:
        """Insert the rows in chunks; returns how many were inserted."""
        rows = list(rows)
        for start in range(0, len(rows), chunk_size):
            chunk = self.convert(rows[start : start + chunk_size])
            self.connection.exec_driver_sql(self.sql, chunk)
        return len(rows)
