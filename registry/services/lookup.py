"""An object by its id, or NotFoundError (404): the one way the services, the pages and
the API turn an id from a URL or a form into an object."""

from __future__ import annotations

from typing import Any

from registry.errors import NotFoundError
from registry.extensions import db

MAX_ID = 2**31 - 1  # PostgreSQL INTEGER keys


def load(model: type, object_id: int, what: str) -> Any:
    """The object with this id, or NotFoundError "No <what> with id <id>" (ids beyond the key
    range are simply unknown, never a database error)."""
    obj = db.session.get(model, object_id) if 0 < object_id <= MAX_ID else None
    # A deleted object is not found (the session may still hold it after its delete).
    if obj is None or getattr(obj, "deleted_at", None) is not None:
        raise NotFoundError(f"No {what} with id {object_id}")
    return obj
