"""Soft delete: the ``deleted_at`` / ``deleted_by`` columns and the one filter that hides
deleted rows from every ORM read.

Projects, money flows, funding sources and organisations are never removed by a user's
delete: the row is marked with ``deleted_at`` (and who did it) and stays restorable. A
``do_orm_execute`` listener adds ``deleted_at IS NULL`` for these four models to every ORM
SELECT (lists, detail, search, the finder, relationship loads, the reports' ORM queries),
so a deleted row is hidden everywhere without each query remembering to say so. A read that
must see deleted rows (the "Deleted" pages, restore, import undo, the importers' check for
a deleted identifier) passes the execution option ``include_deleted=True``.

Statements that are not ORM SELECTs (``INSERT ... FROM SELECT`` into the report facts,
Core statements over ``Table`` objects) are not touched by the listener: those say
``deleted_at IS NULL`` themselves (``reports/facts.py``, ``reports/cells_sql.py``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria

from registry.models.types import UTCDateTime

INCLUDE_DELETED = {"include_deleted": True}


class SoftDeleted:
    """Mixin: when and by whom a row was deleted (NULL: live)."""

    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # Who deleted it, as the audit trail names actors (an e-mail, "cli", ...).
    deleted_by: Mapped[str | None] = mapped_column(String(200), default=None)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


def _live(cls):
    return cls.deleted_at.is_(None)


@event.listens_for(Session, "do_orm_execute")
def _hide_deleted(state: ORMExecuteState) -> None:
    """Add ``deleted_at IS NULL`` for every soft-deleted model to ORM SELECTs.

    A column load (refreshing an expired object already in the session) is left alone, so
    that an object deleted in this unit of work can still be read back and answered."""
    if not state.is_select or state.is_column_load or state.execution_options.get("include_deleted"):
        return
    state.statement = state.statement.options(
        with_loader_criteria(SoftDeleted, _live, include_aliases=True, propagate_to_loaders=True)
    )
