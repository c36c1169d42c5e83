"""Soft delete and restore of projects, money flows, funding sources and organisations.

A delete marks the row (``deleted_at``, ``deleted_by``; see ``registry.models.soft_delete``)
and writes a ``delete`` audit event whose ``after`` holds ``deleted_at`` (a permanent removal,
by import undo, has none); a restore clears the mark and writes a ``restore`` event.
Deleting a project marks its live flows with the same instant, so that restoring the project
brings back exactly those flows, and not a flow that was deleted on its own before.
An organisation with live projects or funding sources is not deleted (409, naming how many).

Who may restore: the object's owner (the editors of the organisation it belongs to) or an
administrator, the same people who may delete it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from registry import money
from registry.errors import ConflictError, NotFoundError
from registry.extensions import db
from registry.models import FundingSource, Organisation, Project, Transaction
from registry.models.soft_delete import INCLUDE_DELETED
from registry.models.types import utcnow
from registry.services import audit, permissions
from registry.services.actor import Actor
from registry.services.lookup import MAX_ID
from registry.services.versions import check_version

# The kinds as the URLs, the audit trail and the command line name them.
KINDS: dict[str, type] = {
    "project": Project,
    "transaction": Transaction,
    "funding_source": FundingSource,
    "organisation": Organisation,
}
LABELS = {
    "project": "project",
    "transaction": "money flow",
    "funding_source": "funding source",
    "organisation": "organisation",
}


def owner_org_id(kind: str, obj: Any) -> int | None:
    """The organisation whose editors own the object."""
    if kind == "project":
        return obj.org_id
    if kind == "transaction":
        return project_of(obj).org_id
    if kind == "funding_source":
        return obj.managing_org_id
    return obj.id


def may_restore(user: Any, kind: str, obj: Any) -> bool:
    """The people who may delete the object may restore it: its owner (the organisation's
    donor editors; a government, its own pipeline projects) or an administrator;
    organisations: administrators only, as creating and deleting them is."""
    if user is None:
        return False
    if kind == "organisation":
        return permissions.can_manage_orgs(user)
    if kind == "funding_source":
        return permissions.can_edit_source(user, obj)
    project = obj if kind == "project" else project_of(obj)
    return permissions.can_edit_project(user, project)


def project_of(tx: Transaction) -> Project:
    """A flow's project, deleted or not (the relationship would hide a deleted one)."""
    return db.session.get(Project, tx.project_id, execution_options=INCLUDE_DELETED)


def kind_of(model: type) -> str:
    """The kind of a model (the keys of KINDS)."""
    return next(k for k, m in KINDS.items() if m is model)


def _mark(obj: Any, actor: Actor, when: dt.datetime) -> None:
    obj.deleted_at = when
    obj.deleted_by = actor.label


def _stamp(obj: Any) -> dict[str, Any]:
    return {"deleted_at": obj.deleted_at.isoformat() if obj.deleted_at else None, "deleted_by": obj.deleted_by}


# -- delete -------------------------------------------------------------------


def delete_project(actor: Actor, project: Project, expected_version: int | None = None) -> None:
    """Mark a project and its live money flows deleted (one instant), with one audit event."""
    from registry.services.projects import snapshot, transaction_snapshot

    check_version(project.version, expected_version)
    when = utcnow()
    flows = list(project.transactions)
    before = snapshot(project)
    before["transactions"] = [transaction_snapshot(t) for t in flows]
    for tx in flows:
        _mark(tx, actor, when)
    _mark(project, actor, when)
    db.session.flush()
    after = {**_stamp(project), "transactions": len(flows)}
    audit.record(
        actor,
        "delete",
        "project",
        project.id,
        before,
        after,
        f"Deleted {project.title} and its {len(flows)} money flows",
        project.org_id,
    )


def delete_transaction(actor: Actor, tx: Transaction) -> None:
    """Mark one money flow deleted."""
    from registry.services.projects import transaction_snapshot

    before = transaction_snapshot(tx)
    _mark(tx, actor, utcnow())
    db.session.flush()
    audit.record(
        actor,
        "delete",
        "transaction",
        tx.id,
        before,
        {**before, **_stamp(tx)},
        f"Deleted {tx.type.value} of {money.format_amount(tx.amount, tx.currency)} on project {tx.project_id}",
        tx.project.org_id,
    )


def delete_funding_source(actor: Actor, source: FundingSource, expected_version: int | None = None) -> None:
    """Mark a funding source deleted. Its flows keep their amounts and their link: restoring
    the source shows them under it again."""
    from registry.services.funding import snapshot

    check_version(source.version, expected_version)
    linked = db.session.scalar(
        select(func.count()).select_from(Transaction).where(Transaction.funding_source_id == source.id)
    )
    before = snapshot(source)
    _mark(source, actor, utcnow())
    db.session.flush()
    audit.record(
        actor,
        "delete",
        "funding_source",
        source.id,
        before,
        {**_stamp(source), "transactions": linked},
        f"Deleted {source.name} ({linked} money flows name it)",
        source.managing_org_id,
    )


def delete_organisation(actor: Actor, org: Organisation) -> None:
    """Mark an organisation deleted; refused (409) while it has live projects or funding
    sources, with how many: delete or move them first."""
    from registry.services.organisations import snapshot

    projects = db.session.scalar(select(func.count()).select_from(Project).where(Project.org_id == org.id))
    sources = db.session.scalar(
        select(func.count()).select_from(FundingSource).where(FundingSource.managing_org_id == org.id)
    )
    if projects or sources:
        if projects and sources:
            message = _(
                "%(org)s still has %(projects)s live project(s) and %(sources)s live funding source(s); "
                "delete or move them first",
                org=org.name,
                projects=projects,
                sources=sources,
            )
        elif projects:
            message = _(
                "%(org)s still has %(projects)s live project(s); delete or move them first",
                org=org.name,
                projects=projects,
            )
        else:
            message = _(
                "%(org)s still has %(sources)s live funding source(s); delete or move them first",
                org=org.name,
                sources=sources,
            )
        raise ConflictError(
            message,
            {
                "organisation": [
                    _("%(projects)s projects, %(sources)s funding sources", projects=projects, sources=sources)
                ]
            },
        )
    before = snapshot(org)
    _mark(org, actor, utcnow())
    db.session.flush()
    audit.record(actor, "delete", "organisation", org.id, before, _stamp(org), f"Deleted {org.name}", org.id)


def delete(actor: Actor, kind: str, obj: Any) -> None:
    """Soft-delete an object of a kind (the command line's entry)."""
    {
        "project": delete_project,
        "transaction": delete_transaction,
        "funding_source": delete_funding_source,
        "organisation": delete_organisation,
    }[kind](actor, obj)


# -- deleted objects ------------------------------------------------------------


def load_deleted(kind: str, object_id: int) -> Any:
    """A deleted object of a kind by id, or NotFoundError (a live one is not 'deleted')."""
    model = KINDS[kind]
    obj = db.session.get(model, object_id, execution_options=INCLUDE_DELETED) if 0 < object_id <= MAX_ID else None
    if obj is None or obj.deleted_at is None:
        raise NotFoundError(_not_found_deleted(kind, object_id))
    return obj


def _not_found_deleted(kind: str, object_id: int) -> str:
    messages = {
        "project": _("No deleted project with id %(id)s", id=object_id),
        "transaction": _("No deleted money flow with id %(id)s", id=object_id),
        "funding_source": _("No deleted funding source with id %(id)s", id=object_id),
        "organisation": _("No deleted organisation with id %(id)s", id=object_id),
    }
    return messages[kind]


def find_deleted(kind: str, object_id: int) -> Any | None:
    """The deleted object of a kind with this id, or None (live or unknown)."""
    try:
        return load_deleted(kind, object_id)
    except NotFoundError:
        return None


def deleted_query(kind: str, org_id: int | None = None) -> Select:
    """The deleted objects of a kind, newest deletion first, of one organisation if given.

    Execute it with ``execution_options=INCLUDE_DELETED``."""
    model = KINDS[kind]
    stmt = select(model).where(model.deleted_at.is_not(None))
    if org_id is not None:
        if kind == "project":
            stmt = stmt.where(Project.org_id == org_id)
        elif kind == "transaction":
            stmt = stmt.join(Project, Project.id == Transaction.project_id).where(Project.org_id == org_id)
        elif kind == "funding_source":
            stmt = stmt.where(FundingSource.managing_org_id == org_id)
        else:
            stmt = stmt.where(Organisation.id == org_id)
    if kind == "transaction":
        # A flow deleted with its project is restored with it: list only those deleted alone.
        stmt = stmt.join(Project, Project.id == Transaction.project_id) if org_id is None else stmt
        stmt = stmt.where(Project.deleted_at.is_(None))
    return stmt.order_by(model.deleted_at.desc(), model.id.desc())


def list_deleted(kind: str, org_id: int | None = None, limit: int = 500) -> list[Any]:
    """The deleted objects of a kind (see ``deleted_query``)."""
    return list(db.session.scalars(deleted_query(kind, org_id).limit(limit), execution_options=INCLUDE_DELETED))


# -- restore -------------------------------------------------------------------


def _clear(obj: Any) -> None:
    obj.deleted_at = None
    obj.deleted_by = None


def restore_project(actor: Actor, project: Project) -> Project:
    """Bring back a deleted project with exactly the flows deleted with it."""
    from registry.services.projects import snapshot

    org = db.session.get(Organisation, project.org_id, execution_options=INCLUDE_DELETED)
    if org is not None and org.deleted_at is not None:
        raise ConflictError(_("The project's organisation %(org)s is deleted; restore it first", org=org.name))
    when = project.deleted_at
    flows = list(
        db.session.scalars(
            select(Transaction).where(Transaction.project_id == project.id, Transaction.deleted_at == when),
            execution_options=INCLUDE_DELETED,
        )
    )
    before = _stamp(project)
    for tx in flows:
        _clear(tx)
    _clear(project)
    db.session.flush()
    db.session.expire(project, ["transactions"])
    after = snapshot(project)
    after["transactions"] = len(flows)
    audit.record(
        actor,
        "restore",
        "project",
        project.id,
        before,
        after,
        f"Restored {project.title} and its {len(flows)} money flows",
        project.org_id,
    )
    return project


def restore_transaction(actor: Actor, tx: Transaction) -> Transaction:
    """Bring back a money flow deleted on its own (one deleted with its project comes back
    with the project)."""
    from registry.services.projects import transaction_snapshot

    project = project_of(tx)
    if project.deleted_at is not None:
        raise ConflictError(_("The flow's project %(project)s is deleted; restore the project", project=project.id))
    before = _stamp(tx)
    _clear(tx)
    db.session.flush()
    db.session.expire(project, ["transactions"])
    audit.record(
        actor,
        "restore",
        "transaction",
        tx.id,
        before,
        transaction_snapshot(tx),
        f"Restored {tx.type.value} of {money.format_amount(tx.amount, tx.currency)} on project {tx.project_id}",
        project.org_id,
    )
    return tx


def restore_funding_source(actor: Actor, source: FundingSource) -> FundingSource:
    """Bring back a deleted funding source."""
    from registry.services.funding import snapshot

    org = db.session.get(Organisation, source.managing_org_id, execution_options=INCLUDE_DELETED)
    if org is not None and org.deleted_at is not None:
        raise ConflictError(_("The source's organisation %(org)s is deleted; restore it first", org=org.name))
    before = _stamp(source)
    _clear(source)
    db.session.flush()
    audit.record(
        actor,
        "restore",
        "funding_source",
        source.id,
        before,
        snapshot(source),
        f"Restored {source.name}",
        source.managing_org_id,
    )
    return source


def restore_organisation(actor: Actor, org: Organisation) -> Organisation:
    """Bring back a deleted organisation."""
    from registry.services.organisations import snapshot

    before = _stamp(org)
    _clear(org)
    db.session.flush()
    audit.record(actor, "restore", "organisation", org.id, before, snapshot(org), f"Restored {org.name}", org.id)
    return org


def restore(actor: Actor, kind: str, obj: Any) -> Any:
    """Restore a deleted object of a kind."""
    return {
        "project": restore_project,
        "transaction": restore_transaction,
        "funding_source": restore_funding_source,
        "organisation": restore_organisation,
    }[kind](actor, obj)


def deleted_holder(kind: str, object_id: int) -> dict[str, str] | None:
    """When the row holding a key another object wants is a deleted one (its key stays taken so
    that restoring it can never clash): when and by whom it was deleted, for the message that
    says to restore it rather than add it again; None when the holder is live."""
    obj = find_deleted(kind, object_id)
    if obj is None:
        return None
    return {"date": f"{obj.deleted_at:%Y-%m-%d}", "by": str(obj.deleted_by)}
