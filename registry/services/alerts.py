"""Alerts: what a user follows, what is new or changed for them since they were last told,
and which of it is due by e-mail (docs/alerts.md).

An alert is a saved search or a follow (a funding source, a project, a country), each with an
e-mail frequency: immediate, daily, weekly, or off (the app's list only). :func:`collect`
reads what happened since each alert was last checked and writes it as notifications
(``registry.services.notifications``):

- a saved search: the funding sources or pipeline projects that match it now and had not
  matched before (the finder's and the marketplace's own matching, ``marketplace.search_matches``);
- a followed project or funding source: its audit events since the alert's cursor (the last
  audit event read), one notification a collection summing them up: fields changed, status,
  need, deadline, new flows, donors' interest; and a funding source's opening day;
- a followed country: new projects in it and new flows to its projects (an import's are
  counted in one notification a batch).

Each collection moves the alerts' cursors, so running it again adds nothing. The e-mail side
(:func:`due_users`, :func:`pending`, :func:`mark_emailed`) picks what is still to be e-mailed
at a frequency; sending is the queue's work (``registry.alerts_jobs``), never a request's.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, func, or_, select, update

from registry.errors import NotFoundError, PermissionDenied, RegistryError, ValidationError
from registry.extensions import db
from registry.models import (
    AuditEvent,
    Country,
    Follow,
    FundingSource,
    Notification,
    Project,
    ProjectRecipient,
    SavedSearch,
    User,
)
from registry.models.alerts import FOLLOW_KINDS, FREQUENCIES
from registry.models.soft_delete import INCLUDE_DELETED
from registry.models.types import N_
from registry.services.actor import Actor
from registry.services.history import changes
from registry.services.lookup import MAX_ID, load
from registry.services.marketplace import search_matches
from registry.services.notifications import notify, phrase

log = logging.getLogger("registry.alerts")

# How each frequency is offered, in the reader's language where shown.
FREQUENCY_WORDS: dict[str, str] = {
    "immediate": N_("E-mail at once"),
    "daily": N_("Daily e-mail digest"),
    "weekly": N_("Weekly e-mail digest"),
    "off": N_("In the app only"),
}
DEFAULT_FREQUENCY = "daily"
UNSUBSCRIBE_SALT = "registry.alerts.unsubscribe"


def check_frequency(value: str | None) -> str:
    """A frequency as given, or ValidationError naming the choices."""
    text = (value or "").strip().lower()
    if text not in FREQUENCIES:
        raise ValidationError(
            _("Unknown frequency %(value)s", value=repr(value)),
            {"frequency": [_("One of %(choices)s", choices=", ".join(FREQUENCIES))]},
        )
    return text


def _user_id(actor: Actor) -> int:
    if actor.user_id is None:
        raise PermissionDenied(_("Log in to follow and receive alerts"))
    return actor.user_id


def _last_event_id() -> int:
    return db.session.scalar(select(func.max(AuditEvent.id))) or 0


# --------------------------------------------------------------------------- follows


def follow_target(kind: str, target: int | str) -> FundingSource | Project | Country:
    """The object a follow names, or NotFoundError / ValidationError."""
    if kind not in FOLLOW_KINDS:
        raise ValidationError(
            _("Unknown kind %(kind)s", kind=repr(kind)),
            {"kind": [_("One of %(choices)s", choices=", ".join(FOLLOW_KINDS))]},
        )
    if kind == "country":
        code = str(target or "").strip().upper()
        country = db.session.get(Country, code) if len(code) == 3 and code.isalpha() else None
        if country is None:
            raise NotFoundError(_("Unknown country %(code)s (expected an ISO 3166 alpha-3 code)", code=repr(code)))
        return country
    try:
        object_id = int(target)
    except (TypeError, ValueError):
        raise ValidationError(_("Not a number"), {"id": [_("Not a number")]}) from None
    if kind == "project":
        return load(Project, object_id, "project")
    return load(FundingSource, object_id, "funding source")


def _target_column(kind: str):
    return {"funding_source": Follow.funding_source_id, "project": Follow.project_id, "country": Follow.country_iso3}[
        kind
    ]


def follow_of(user_id: int | None, kind: str, target: int | str) -> Follow | None:
    """The user's follow of this object, if any."""
    if user_id is None or kind not in FOLLOW_KINDS:
        return None
    key = str(target).upper() if kind == "country" else int(target)
    return db.session.scalar(select(Follow).where(Follow.user_id == user_id, _target_column(kind) == key))


def follow(actor: Actor, kind: str, target: int | str, frequency: str | None = None) -> Follow:
    """Follow a funding source, a project or a country (following it again changes only the
    frequency when one is given). What happened before is not news: the alert starts now."""
    user_id = _user_id(actor)
    obj = follow_target(kind, target)
    key = obj.iso3 if kind == "country" else obj.id
    existing = follow_of(user_id, kind, key)
    if existing is not None:
        if frequency is not None:
            set_follow_frequency(actor, existing, frequency)
        return existing
    item = Follow(
        user_id=user_id,
        kind=kind,
        frequency=check_frequency(frequency or DEFAULT_FREQUENCY),
        last_event_id=_last_event_id(),
        checked_at=dt.datetime.now(dt.UTC),
    )
    setattr(item, _target_column(kind).key, key)
    db.session.add(item)
    db.session.flush()
    return item


def follows(actor: Actor) -> list[Follow]:
    """The actor's follows, newest first."""
    if actor.user_id is None:
        return []
    stmt = select(Follow).where(Follow.user_id == actor.user_id).order_by(Follow.created_at.desc(), Follow.id.desc())
    return list(db.session.scalars(stmt))


def get_follow(actor: Actor, follow_id: int) -> Follow:
    """One of the actor's follows (another's is reported as absent)."""
    item = db.session.get(Follow, follow_id) if 0 < follow_id <= MAX_ID else None
    if item is None or item.user_id != actor.user_id:
        raise NotFoundError(_("No follow with id %(id)s", id=follow_id))
    return item


def unfollow(actor: Actor, item: Follow) -> None:
    """Stop following; its notifications stay in the list, and those not yet e-mailed never will be."""
    if item.user_id != actor.user_id:
        raise PermissionDenied(_("This follow is not yours"))
    _retune(Notification.follow_id == item.id, "off")
    db.session.delete(item)
    db.session.flush()


def set_follow_frequency(actor: Actor, item: Follow, frequency: str) -> Follow:
    """Change how often a follow is e-mailed; what is waiting to be e-mailed waits for the new one."""
    if item.user_id != actor.user_id:
        raise PermissionDenied(_("This follow is not yours"))
    item.frequency = check_frequency(frequency)
    _retune(Notification.follow_id == item.id, item.frequency)
    db.session.flush()
    return item


def set_search_frequency(actor: Actor, search: SavedSearch, frequency: str) -> SavedSearch:
    """Change how often a saved search's new matches are e-mailed."""
    if search.user_id != actor.user_id:
        raise PermissionDenied(_("This saved search is not yours"))
    search.alert_frequency = check_frequency(frequency)
    _retune(Notification.saved_search_id == search.id, search.alert_frequency)
    db.session.flush()
    return search


def _retune(which, frequency: str) -> None:
    """Notifications of an alert not yet e-mailed go out at its new frequency (never, for off)."""
    db.session.execute(
        update(Notification).where(which, Notification.emailed_at.is_(None)).values(frequency=frequency),
        execution_options={"synchronize_session": False},
    )


def follow_name(item: Follow) -> str:
    """What the follow names: a project's title, a source's name, a country's name."""
    from registry.reference_names import country_name

    if item.kind == "country":
        country = db.session.get(Country, item.country_iso3)
        return country_name(country) if country else str(item.country_iso3)
    if item.kind == "project":
        project = db.session.get(Project, item.project_id, execution_options=INCLUDE_DELETED)
        return project.title if project else str(item.project_id)
    source = db.session.get(FundingSource, item.funding_source_id, execution_options=INCLUDE_DELETED)
    return source.name if source else str(item.funding_source_id)


# --------------------------------------------------------------------------- collecting


@dataclass
class Collected:
    """What a collection found: notifications written, by user."""

    notifications: int = 0
    alerts: int = 0
    by_user: dict[int, int] = field(default_factory=dict)

    def add(self, user_id: int) -> None:
        self.notifications += 1
        self.by_user[user_id] = self.by_user.get(user_id, 0) + 1


def collect(now: dt.datetime | None = None) -> Collected:
    """Turn what is new since each alert of an active user was last checked into notifications,
    and move the alerts' cursors (the caller's unit of work saves both together)."""
    now = now or dt.datetime.now(dt.UTC)
    top = _last_event_id()
    found = Collected()
    active = select(User.id).where(User.active.is_(True))
    for item in db.session.scalars(select(Follow).where(Follow.user_id.in_(active)).order_by(Follow.id)):
        found.alerts += 1
        if item.kind == "project":
            _collect_project(item, top, now, found)
        elif item.kind == "funding_source":
            _collect_source(item, top, now, found)
        else:
            _collect_country(item, top, now, found)
        item.last_event_id, item.checked_at = max(top, item.last_event_id), now
    for search in db.session.scalars(
        select(SavedSearch).where(SavedSearch.user_id.in_(active)).order_by(SavedSearch.id)
    ):
        found.alerts += 1
        _collect_search(search, now, found)
    db.session.flush()
    return found


def _events(condition, after_id: int, upto: int) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(condition, AuditEvent.id > after_id, AuditEvent.id <= upto)
    return list(db.session.scalars(stmt.order_by(AuditEvent.id)))


def _about(entity_type: str, key: str, object_id: int):
    """Audit events of another kind of object that name this one in their snapshot."""
    return and_(
        AuditEvent.entity_type == entity_type,
        or_(AuditEvent.after[key].as_integer() == object_id, AuditEvent.before[key].as_integer() == object_id),
    )


def _money(snapshot: dict | None) -> dict[str, Any]:
    snapshot = snapshot or {}
    return {"amount": snapshot.get("amount"), "currency": snapshot.get("currency")}


def _flow_phrase(event: AuditEvent) -> dict[str, Any] | None:
    shown = event.after or event.before or {}
    flow, amount = {"label": shown.get("type")}, _money(shown)
    if event.action == "create":
        return phrase(N_("new %(flow)s of %(amount)s"), flow=flow, amount=amount)
    if event.action == "delete":
        return phrase(N_("a %(flow)s of %(amount)s was removed"), flow=flow, amount=amount)
    if event.action == "confirm":
        return phrase(N_("a %(flow)s of %(amount)s was confirmed"), flow=flow, amount=amount)
    if event.action in ("update", "restore"):
        return phrase(N_("a %(flow)s of %(amount)s was changed"), flow=flow, amount=amount)
    return None


def _object_phrases(event: AuditEvent, fields: list[str]) -> list[dict[str, Any]]:
    """What an event of the followed project or funding source itself says; other changed
    fields are gathered in ``fields``."""
    if event.action == "delete":
        return [phrase(N_("it was deleted"))]
    if event.action == "restore":
        return [phrase(N_("it was restored"))]
    if event.action != "update":
        return []
    if (event.after or {}).get("withdrawn") and not event.before:
        return [phrase(N_("it was withdrawn from the pipeline"))]
    out = []
    for change in changes(event):
        if change.field == "status":
            out.append(phrase(N_("its status is now %(status)s"), status={"label": change.after}))
        elif change.field == "need" and change.after:
            out.append(phrase(N_("its need is now %(amount)s"), amount=_money(change.after)))
        elif change.field == "window_until" and change.after:
            out.append(phrase(N_("its deadline is now %(date)s"), date={"date": change.after}))
        elif change.field == "window_from" and change.after:
            out.append(phrase(N_("it opens for applications on %(date)s"), date={"date": change.after}))
        elif change.field not in ("version", "updated_at") and change.field not in fields:
            fields.append(change.field)
    return out


def _summed_up(parts: list[dict[str, Any]], fields: list[str]) -> list[dict[str, Any]]:
    if fields:
        parts.append(phrase(N_("changed: %(fields)s"), fields=[{"field": f} for f in fields]))
    return parts


def _collect_project(item: Follow, top: int, now: dt.datetime, found: Collected) -> None:
    pid = item.project_id
    condition = or_(
        and_(AuditEvent.entity_type == "project", AuditEvent.entity_id == pid),
        _about("transaction", "project_id", pid),
        _about("pipeline_interest", "project_id", pid),
    )
    parts: list[dict[str, Any]] = []
    fields: list[str] = []
    for event in _events(condition, item.last_event_id, top):
        if event.entity_type == "project":
            parts += _object_phrases(event, fields)
        elif event.entity_type == "transaction":
            flow = _flow_phrase(event)
            if flow is not None:
                parts.append(flow)
        elif event.action == "create":  # a donor's interest: who is interested is not everyone's to see
            parts.append(phrase(N_("a donor recorded interest")))
        elif event.action == "delete":
            parts.append(phrase(N_("a donor withdrew its interest")))
    parts = _summed_up(parts, fields)
    if not parts:
        return
    project = db.session.get(Project, pid, execution_options=INCLUDE_DELETED)
    notify(
        item.user_id,
        N_("Project %(title)s: %(changes)s."),
        {"title": project.title if project else str(pid), "changes": parts},
        "project",
        pid,
        item.frequency,
        follow_id=item.id,
        now=now,
    )
    found.add(item.user_id)


def _collect_source(item: Follow, top: int, now: dt.datetime, found: Collected) -> None:
    sid = item.funding_source_id
    condition = or_(
        and_(AuditEvent.entity_type == "funding_source", AuditEvent.entity_id == sid),
        and_(
            AuditEvent.entity_type == "transaction",
            AuditEvent.action == "create",
            AuditEvent.after["funding_source_id"].as_integer() == sid,
        ),
    )
    parts: list[dict[str, Any]] = []
    fields: list[str] = []
    for event in _events(condition, item.last_event_id, top):
        if event.entity_type == "funding_source":
            parts += _object_phrases(event, fields)
        else:
            project = db.session.get(Project, (event.after or {}).get("project_id"), execution_options=INCLUDE_DELETED)
            parts.append(
                phrase(
                    N_("new %(flow)s of %(amount)s to project %(title)s"),
                    flow={"label": event.after.get("type")},
                    amount=_money(event.after),
                    title=project.title if project else "",
                )
            )
    source = db.session.get(FundingSource, sid, execution_options=INCLUDE_DELETED)
    opens = source.window_from if source is not None else None
    last = (item.checked_at or item.created_at).date()
    if opens is not None and last < opens <= now.date():
        parts.append(phrase(N_("it is open for applications from %(date)s"), date={"date": opens.isoformat()}))
    parts = _summed_up(parts, fields)
    if not parts:
        return
    notify(
        item.user_id,
        N_("Funding source %(name)s: %(changes)s."),
        {"name": source.name if source else str(sid), "changes": parts},
        "funding_source",
        sid,
        item.frequency,
        follow_id=item.id,
        now=now,
    )
    found.add(item.user_id)


def _collect_country(item: Follow, top: int, now: dt.datetime, found: Collected) -> None:
    code = item.country_iso3
    in_country = select(ProjectRecipient.project_id).where(ProjectRecipient.country_iso3 == code)
    condition = or_(
        and_(AuditEvent.entity_type == "project", AuditEvent.action == "create", AuditEvent.entity_id.in_(in_country)),
        and_(
            AuditEvent.entity_type == "transaction",
            AuditEvent.action == "create",
            AuditEvent.after["project_id"].as_integer().in_(in_country),
        ),
    )
    created: list[int] = []
    flows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    batches: dict[int, dict[str, set[int]]] = defaultdict(lambda: {"projects": set(), "flows": set()})
    for event in _events(condition, item.last_event_id, top):
        if event.import_batch_id is not None:  # an import is told as one notification
            batches[event.import_batch_id]["projects" if event.entity_type == "project" else "flows"].add(
                event.entity_id
            )
        elif event.entity_type == "project":
            created.append(event.entity_id)
        else:
            flows[int(event.after["project_id"])].append(_flow_phrase(event))
    country = {"country": code}
    for pid in created:
        project = db.session.get(Project, pid)
        if project is None:  # deleted since
            continue
        notify(
            item.user_id,
            N_("New project %(title)s in %(country)s."),
            {"title": project.title, "country": country},
            "project",
            pid,
            item.frequency,
            follow_id=item.id,
            now=now,
        )
        found.add(item.user_id)
    for pid, told in flows.items():
        project = db.session.get(Project, pid)
        if project is None or pid in created:  # a new project's flows come with it
            continue
        notify(
            item.user_id,
            N_("Project %(title)s in %(country)s: %(changes)s."),
            {"title": project.title, "country": country, "changes": told},
            "project",
            pid,
            item.frequency,
            follow_id=item.id,
            now=now,
        )
        found.add(item.user_id)
    for _batch, counts in sorted(batches.items()):
        notify(
            item.user_id,
            N_("An import added %(projects)s projects and %(flows)s money flows in %(country)s."),
            {"projects": len(counts["projects"]), "flows": len(counts["flows"]), "country": country},
            "country",
            code,
            item.frequency,
            follow_id=item.id,
            now=now,
        )
        found.add(item.user_id)


def _collect_search(search: SavedSearch, now: dt.datetime, found: Collected) -> None:
    """New matches of a saved search: those not matching when it was last checked (on its first
    check, those added since it was saved)."""
    try:
        items = search_matches(search, now.date())
    except RegistryError as exc:  # its fund was deleted, or a code it names was withdrawn
        log.warning("Saved search %s could not run for its alerts: %s", search.id, exc.message)
        search.alert_checked_at = now
        return
    if search.alert_known is None:
        known = {i.id for i in items if i.created_at <= search.created_at}
    else:
        known = set(search.alert_known)
    for i in items:
        if i.id in known:
            continue
        if i.kind == "source":
            template = N_("Funding source %(name)s now matches your saved search %(search)s.")
            params = {"name": i.title, "search": search.name}
        else:
            template = N_("Pipeline project %(name)s now matches your saved search %(search)s.")
            params = {"name": i.title, "search": search.name}
        notify(
            search.user_id,
            template,
            params,
            "funding_source" if i.kind == "source" else "pipeline_project",
            i.id,
            search.alert_frequency,
            saved_search_id=search.id,
            now=now,
        )
        found.add(search.user_id)
    search.alert_known = sorted(known | {i.id for i in items})
    search.alert_checked_at = now


# --------------------------------------------------------------------------- e-mail


def due_users(frequency: str) -> list[int]:
    """Active users with notifications waiting to be e-mailed at this frequency."""
    stmt = (
        select(Notification.user_id)
        .join(User, User.id == Notification.user_id)
        .where(Notification.frequency == frequency, Notification.emailed_at.is_(None), User.active.is_(True))
        .distinct()
        .order_by(Notification.user_id)
    )
    return list(db.session.scalars(stmt))


def pending(user_id: int, frequency: str) -> list[Notification]:
    """The user's notifications still to be e-mailed at this frequency, oldest first."""
    stmt = (
        select(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.frequency == frequency,
            Notification.emailed_at.is_(None),
        )
        .order_by(Notification.created_at, Notification.id)
    )
    return list(db.session.scalars(stmt))


def mark_emailed(notes: list[Notification], now: dt.datetime | None = None) -> None:
    """Record that these notifications went out by e-mail (only once the mail server took them)."""
    now = now or dt.datetime.now(dt.UTC)
    for note in notes:
        note.emailed_at = now
    db.session.flush()


def alert_of(note: Notification) -> tuple[str, int] | None:
    """The alert a notification came from: ("follow", id) or ("search", id)."""
    if note.follow_id is not None:
        return ("follow", note.follow_id)
    if note.saved_search_id is not None:
        return ("search", note.saved_search_id)
    return None


def alert_name(alert: tuple[str, int]) -> str:
    """An alert as its e-mail's heading names it."""
    if alert[0] == "follow":
        item = db.session.get(Follow, alert[1])
        return _("Following %(name)s", name=follow_name(item)) if item else ""
    search = db.session.get(SavedSearch, alert[1])
    return _("Saved search %(name)s", name=search.name) if search else ""


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(user_id: int, alerts: list[tuple[str, int]]) -> str:
    """A signed token that turns these alerts of the user off: the link works without login."""
    return _serializer().dumps({"u": user_id, "a": [[kind[0], i] for kind, i in alerts]})


def read_unsubscribe_token(token: str) -> tuple[int, list[tuple[str, int]]]:
    """The user and alerts a token names, or NotFoundError for a token this registry did not sign."""
    try:
        data = _serializer().loads(token)
        alerts = [("follow" if kind == "f" else "search", int(i)) for kind, i in data["a"]]
        return int(data["u"]), alerts
    except (BadSignature, KeyError, TypeError, ValueError):
        raise NotFoundError(_("This unsubscribe link is not valid; open your alerts to change them")) from None


def unsubscribe(token: str) -> int:
    """Turn off the e-mail of the alerts a token names (they stay in the app's list); how many
    were still on. Alerts deleted since are passed over."""
    user_id, alerts = read_unsubscribe_token(token)
    actor = Actor(label=f"user {user_id}", channel="web", user_id=user_id)
    turned = 0
    for kind, object_id in alerts:
        if kind == "follow":
            item = db.session.get(Follow, object_id)
            if item is not None and item.user_id == user_id and item.frequency != "off":
                set_follow_frequency(actor, item, "off")
                turned += 1
        else:
            search = db.session.get(SavedSearch, object_id)
            if search is not None and search.user_id == user_id and search.alert_frequency != "off":
                set_search_frequency(actor, search, "off")
                turned += 1
    return turned
