"""The end of a unit of work: one commit per request or command, or nothing saved.

Services add and flush, never commit. Each channel ends its unit of work through one
helper built on :func:`commit`, which turns the two ways a commit can clash with other
writers into the one domain error, :class:`ConflictError`:

- the API: ``registry.api.common.commit`` (the error handler answers 409);
- the pages: ``registry.web.saving.save`` (a flash and a redirect, or the form again);
- the command line: :func:`command_unit` (a message and a non-zero exit).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from registry.errors import RegistryError, clash
from registry.extensions import db
from registry.sqlite import writing


def commit() -> None:
    """Save the unit of work, or roll it back and raise ConflictError when it clashes with
    another writer (a stale optimistic-locking version, a unique key taken meanwhile)."""
    try:
        db.session.commit()
    except (StaleDataError, IntegrityError) as exc:
        db.session.rollback()
        raise clash(exc) from None


def describe(error: RegistryError) -> str:
    """A domain error in one line: its message, then the problem of each field."""
    details = "; ".join(
        f"{key}: {', '.join(map(str, value)) if isinstance(value, list | tuple) else value}"
        for key, value in error.errors.items()
    )
    # A message that carries its own translation (an importer's) reads in the reader's language.
    translated = getattr(error.message, "translated", None)
    message = translated() if callable(translated) else error.message
    return message + (f" ({details})" if details else "")


@contextmanager
def command_unit() -> Iterator[None]:
    """A CLI command's unit of work: commit once when the block ends, roll back on any error;
    a refusal by the registry's rules ends the command with its message and exit status 1.
    On SQLite the unit begins with the write lock (BEGIN IMMEDIATE, see registry/sqlite.py)
    when no transaction is open yet."""
    try:
        with writing():
            yield
            commit()
    except RegistryError as exc:
        db.session.rollback()
        raise click.ClickException(describe(exc)) from None
    except BaseException:
        db.session.rollback()
        raise
