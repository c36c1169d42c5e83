"""Donors' interest in pipeline projects: recorded once per organisation, seen by the government."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from registry.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from registry.extensions import db
from registry.models import PipelineInterest, Project
from registry.models.types import ProjectStatus, Role
from registry.services import audit
from registry.services.actor import Actor
from registry.services.marketplace.common import check_text, is_admin


def interests(project: Project) -> list[PipelineInterest]:
    """Organisations interested in a project, first come first."""
    stmt = (
        select(PipelineInterest)
        .where(PipelineInterest.project_id == project.id)
        .order_by(PipelineInterest.created_at, PipelineInterest.id)
    )
    return list(db.session.scalars(stmt))


def interest_of(project: Project, org_id: int | None) -> PipelineInterest | None:
    """The organisation's interest in the project, if recorded."""
    if org_id is None:
        return None
    return db.session.scalar(
        select(PipelineInterest).where(PipelineInterest.project_id == project.id, PipelineInterest.org_id == org_id)
    )


def can_see_interests(actor: Actor, project: Project) -> bool:
    """The project's government and administrators see every interested organisation."""
    return is_admin(actor) or (actor.role == Role.GOVERNMENT and actor.org_id == project.org_id)


def express_interest(actor: Actor, project: Project, note: str = "") -> PipelineInterest:
    """A donor records its organisation's interest in a pipeline project."""
    if actor.role not in (Role.DONOR, Role.ADMIN) or actor.org_id is None:
        raise PermissionDenied(_("Only donor organisations record interest in pipeline projects"))
    if project.status is not ProjectStatus.PIPELINE:
        raise ConflictError(_("This project is no longer in the pipeline"), {"status": [_("Not pipeline")]})
    if interest_of(project, actor.org_id) is not None:
        raise ConflictError(
            _("Your organisation has already recorded interest"), {"project": [_("Already interested")]}
        )
    note = (note or "").strip()
    check_text({"note": note})
    if len(note) > 2000:
        raise ValidationError(_("The note is too long"), {"note": [_("At most 2,000 characters")]})
    interest = PipelineInterest(project_id=project.id, org_id=actor.org_id, user_id=actor.user_id, note=note)
    db.session.add(interest)
    db.session.flush()
    audit.record(
        actor,
        "create",
        "pipeline_interest",
        interest.id,
        None,
        {"project_id": project.id, "org_id": actor.org_id, "note": note},
        f"Interest in pipeline project {project.id}",
        actor.org_id,
    )
    return interest


def withdraw_interest(actor: Actor, interest: PipelineInterest) -> None:
    """Remove an interest; only its organisation (or an administrator)."""
    if not (is_admin(actor) or (actor.org_id is not None and actor.org_id == interest.org_id)):
        raise PermissionDenied(_("Only the organisation that recorded this interest may withdraw it"))
    audit.record(
        actor,
        "delete",
        "pipeline_interest",
        interest.id,
        {"project_id": interest.project_id, "org_id": interest.org_id, "note": interest.note},
        None,
        f"Withdrew interest in pipeline project {interest.project_id}",
        interest.org_id,
    )
    db.session.delete(interest)
    db.session.flush()


def get_interest(project: Project, interest_id: int) -> PipelineInterest:
    """One interest recorded on this project, or NotFoundError."""
    interest = db.session.get(PipelineInterest, interest_id)
    if interest is None or interest.project_id != project.id:
        raise NotFoundError(
            _("No interest %(interest)s on project %(project)s", interest=interest_id, project=project.id)
        )
    return interest
