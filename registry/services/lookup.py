"""An object by its id, or NotFoundError (404): the one way the services, the pages and
the API turn an id from a URL or a form into an object."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from registry.errors import NotFoundError
from registry.extensions import db

MAX_ID = 2**31 - 1  # PostgreSQL INTEGER keys


def not_found(what: str, object_id: int | str) -> str:
    """ "No <what> with id <id>", a whole sentence for each kind of object the registry names."""
    messages = {
        "project": _("No project with id %(id)s", id=object_id),
        "transaction": _("No transaction with id %(id)s", id=object_id),
        "money flow": _("No money flow with id %(id)s", id=object_id),
        "funding source": _("No funding source with id %(id)s", id=object_id),
        "organisation": _("No organisation with id %(id)s", id=object_id),
        "user": _("No user with id %(id)s", id=object_id),
    }
    return messages.get(what) or _("No %(what)s with id %(id)s", what=what, id=object_id)


def load(model: type, object_id: int, what: str) -> Any:
    """The object with this id, or NotFoundError "No <what> with id <id>" (ids beyond the key
    range are simply unknown, never a database error)."""
    obj = db.session.get(model, object_id) if 0 < object_id <= MAX_ID else None
    # A deleted object is not found (the session may still hold it after its delete).
    if obj is None or getattr(obj, "deleted_at", None) is not None:
        raise NotFoundError(not_found(what, object_id))
    return obj
