"""Changing an object that carries an optimistic-locking version (projects, funding sources)
and the checks every such change makes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from flask_babel import gettext as _

from registry.errors import ConflictError, ValidationError
from registry.extensions import db
from registry.services import audit
from registry.services.actor import Actor

T = TypeVar("T")


def check_version(current: int, expected: int | None) -> None:
    """Refuse a change based on a stale read (optimistic locking)."""
    if expected is not None and expected != current:
        raise ConflictError(
            _(
                "The object was changed by someone else (version %(current)s, you sent %(expected)s); "
                "reload it and apply your change again",
                current=current,
                expected=expected,
            ),
            {"version": [_("Current version is %(current)s", current=current)]},
        )


def reject_unknown_fields(data: dict[str, Any], *known: tuple[str, ...]) -> None:
    """Refuse a change that names a field the object does not have (422, each one named)."""
    unknown = set(data).difference(*known)
    if unknown:
        raise ValidationError(_("Unknown fields"), {k: [_("Unknown field")] for k in sorted(unknown)})


def update_versioned(
    actor: Actor,
    obj: T,
    entity_type: str,
    data: dict[str, Any],
    *,
    apply: Callable[[T, dict[str, Any]], None],
    snapshot: Callable[[T], dict[str, Any]],
    org_id: Callable[[T], int | None],
    expected_version: int | None = None,
    on_change: Callable[[T], None] | None = None,
) -> T:
    """Refuse a stale ``expected_version``, apply ``data``, and when anything changed move the
    version (the row is touched even when only linked lists changed) and audit the fields."""
    check_version(obj.version, expected_version)
    before = snapshot(obj)
    with db.session.no_autoflush:
        apply(obj, dict(data))
    after = snapshot(obj)
    if before != after:
        if on_change is not None:
            on_change(obj)
        obj.updated_at = dt.datetime.now(dt.UTC)
        db.session.flush()
        changed = audit.changed_fields(before, after)
        audit.record(actor, "update", entity_type, obj.id, before, after, f"Changed {', '.join(changed)}", org_id(obj))
    return obj
