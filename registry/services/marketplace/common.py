"""What every part of the marketplace asks: who the actor is, and whether text can be stored."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from registry.errors import ValidationError
from registry.extensions import db
from registry.models import User
from registry.models.types import Role
from registry.services.actor import Actor


def user_of(actor: Actor) -> User | None:
    """The actor's user account (None for a command-line or anonymous actor)."""
    return db.session.get(User, actor.user_id) if actor.user_id else None


def is_admin(actor: Actor) -> bool:
    """Administrators may do everything the marketplace's rules give anyone."""
    return actor.role == Role.ADMIN


def check_text(values: dict[str, Any]) -> None:
    """Refuse text with NUL characters: no database column can hold them."""
    bad = sorted(k for k, v in values.items() if isinstance(v, str) and "\x00" in v)
    if bad:
        raise ValidationError(_("Text contains a NUL character"), {k: [_("Contains a NUL character")] for k in bad})
