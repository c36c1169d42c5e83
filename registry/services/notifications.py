"""Notifications: what a user is told, in the app's list and in e-mail digests.

A notification is written by the alerts' collection (``registry.services.alerts``), often by
a queue worker or a command where no reader is present, and read later by its user in their
own language. So its message is kept as a message id (the English, marked with ``N_`` where it
is written) and parameters (plain JSON values), and translated when it is shown
(:func:`message`). A parameter may itself be a value to show in the reader's way:

- ``{"template": ..., "params": ...}``: a whole sentence of its own (a change of a project);
- ``{"amount": "1000.00", "currency": "USD"}``: an amount as the reader's locale writes it;
- ``{"country": "KEN"}``: a country's name in the reader's language;
- ``{"label": "pipeline"}``: an enumeration's label; ``{"date": "2027-01-31"}``: a date;
- ``{"field": "title"}``: the name of a changed field;
- a list of any of these, joined.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date
from flask_babel import get_locale, gettext
from sqlalchemy import func, select, update

from registry import i18n
from registry.errors import NotFoundError
from registry.extensions import db
from registry.models import Country, Notification
from registry.models.types import N_, label
from registry.reference_names import country_name
from registry.services.lookup import MAX_ID

# The names of the fields a change names ("changed: title, description"), in the reader's language.
FIELD_WORDS: dict[str, str] = {
    "title": N_("title"),
    "name": N_("name"),
    "description": N_("description"),
    "reference": N_("reference"),
    "status": N_("status"),
    "need": N_("need"),
    "need_date": N_("date of the need"),
    "planned_start": N_("planned start"),
    "planned_end": N_("planned end"),
    "actual_start": N_("actual start"),
    "actual_end": N_("actual end"),
    "recipients": N_("recipient countries"),
    "areas": N_("priority areas"),
    "sectors": N_("sectors"),
    "instrument_sought": N_("instrument sought"),
    "contact_name": N_("contact name"),
    "contact_email": N_("contact e-mail"),
    "window_from": N_("opening date"),
    "window_until": N_("deadline"),
    "website": N_("website"),
    "instruments": N_("instruments"),
    "countries": N_("eligible countries"),
    "regions": N_("eligible regions"),
    "categories": N_("eligible categories"),
    "min_amount": N_("smallest amount"),
    "max_amount": N_("largest amount"),
    "kind": N_("kind"),
}


def phrase(template: str, **params: Any) -> dict[str, Any]:
    """A sentence kept as a parameter of another message."""
    return {"template": template, "params": params}


def notify(
    user_id: int,
    template: str,
    params: dict[str, Any],
    object_type: str,
    object_id: int | str,
    frequency: str,
    *,
    follow_id: int | None = None,
    saved_search_id: int | None = None,
    now: dt.datetime | None = None,
) -> Notification:
    """Add a notification for a user (the caller's unit of work saves it)."""
    note = Notification(
        user_id=user_id,
        follow_id=follow_id,
        saved_search_id=saved_search_id,
        object_type=object_type,
        object_id=str(object_id),
        template=template,
        params=params,
        frequency=frequency,
        created_at=now or dt.datetime.now(dt.UTC),
    )
    db.session.add(note)
    return note


# --------------------------------------------------------------------------- showing


def message(note: Notification) -> str:
    """The notification's text in the reader's language."""
    return render(note.template, note.params)


def render(template: str, params: dict[str, Any] | None) -> str:
    """A message id translated for the reader, its parameters filled in (the English text when
    a translation's placeholders do not fit)."""
    values = {k: _shown(v) for k, v in (params or {}).items()}
    try:
        return gettext(template) % values if values else gettext(template)
    except (KeyError, TypeError, ValueError):
        return template % values if values else template


def _shown(value: Any) -> str:
    if isinstance(value, list):  # whole sentences apart by semicolons, words by commas
        joiner = "; " if any(isinstance(v, dict) and "template" in v for v in value) else ", "
        return joiner.join(_shown(v) for v in value)
    if not isinstance(value, dict):
        return i18n.number(value) if isinstance(value, int) and not isinstance(value, bool) else str(value)
    if "template" in value:
        return render(value["template"], value.get("params"))
    if "amount" in value:
        try:
            return i18n.money(Decimal(str(value["amount"])), str(value.get("currency") or ""))
        except (InvalidOperation, ValueError, KeyError):
            return f"{value['amount']} {value.get('currency') or ''}".strip()
    if "country" in value:
        country = db.session.get(Country, str(value["country"]))
        return country_name(country) if country is not None else str(value["country"])
    if "label" in value:
        return label(value["label"]).lower()
    if "date" in value:
        try:
            return format_date(dt.date.fromisoformat(str(value["date"])), "long", locale=get_locale())
        except ValueError:
            return str(value["date"])
    if "field" in value:
        word = FIELD_WORDS.get(str(value["field"]))
        return gettext(word) if word else str(value["field"]).replace("_", " ")
    return ""


# --------------------------------------------------------------------------- reading


@dataclass
class Listing:
    """A page of a user's notifications: unread first, then the newest."""

    items: list[Notification]
    unread: int
    total: int


def unread_count(user_id: int) -> int:
    """How many of the user's notifications are unread (the header's figure)."""
    stmt = select(func.count(Notification.id)).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    return db.session.scalar(stmt) or 0


def notifications(user_id: int, unread_only: bool = False, limit: int = 50, offset: int = 0) -> Listing:
    """The user's notifications, unread first, newest first within each."""
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    stmt = stmt.order_by(Notification.read_at.is_(None).desc(), Notification.created_at.desc(), Notification.id.desc())
    items = list(db.session.scalars(stmt.limit(limit).offset(offset)))
    return Listing(items, unread_count(user_id), total)


def get_notification(user_id: int, notification_id: int) -> Notification:
    """One of the user's notifications (another's is reported as absent)."""
    note = db.session.get(Notification, notification_id) if 0 < notification_id <= MAX_ID else None
    if note is None or note.user_id != user_id:
        raise NotFoundError(gettext("No notification with id %(id)s", id=notification_id))
    return note


def mark_read(note: Notification, now: dt.datetime | None = None) -> Notification:
    """Mark one notification read (reading it again changes nothing)."""
    if note.read_at is None:
        note.read_at = now or dt.datetime.now(dt.UTC)
        db.session.flush()
    return note


def mark_all_read(user_id: int, now: dt.datetime | None = None) -> int:
    """Mark every unread notification of the user read; how many were."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=now or dt.datetime.now(dt.UTC))
    )
    return result.rowcount or 0
