"""Commitments to pipeline projects: money from a donor's own funding source. The project stays
in the pipeline, open to co-financing, until commitments cover its need; then it is active."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from registry import money
from registry.errors import ConflictError, PermissionDenied, ValidationError
from registry.extensions import db
from registry.models import FundingSource, Project, Transaction
from registry.models.types import ProjectStatus, Role
from registry.services import projects, rules
from registry.services.actor import Actor
from registry.services.marketplace.cofinancing import settle
from registry.services.marketplace.common import check_text, is_admin


def sources_for(actor: Actor) -> list[FundingSource]:
    """Funding sources the actor may commit from: their organisation's (every one for an admin)."""
    stmt = select(FundingSource).order_by(FundingSource.name, FundingSource.id)
    if not is_admin(actor):
        if actor.role != Role.DONOR or actor.org_id is None:
            return []
        stmt = stmt.where(FundingSource.managing_org_id == actor.org_id)
    return list(db.session.scalars(stmt))


def commit_to_pipeline_project(
    actor: Actor,
    project: Project,
    source: FundingSource,
    amount: Decimal | str,
    currency: str,
    day: dt.date | None = None,
    description: str = "",
) -> Transaction:
    """Commit money from a donor's funding source: the project is linked to the source; a
    pipeline project becomes active once its commitments cover its need, and stays listed
    with its remaining gap until then."""
    if not (is_admin(actor) or (actor.role == Role.DONOR and actor.org_id == source.managing_org_id)):
        raise PermissionDenied(_("Commit only from a funding source your organisation manages"))
    if project.status not in (ProjectStatus.PIPELINE, ProjectStatus.ACTIVE):
        raise ConflictError(
            _("This project is withdrawn or closed"),
            {"status": [_("Status is %(status)s", status=project.status.value)]},
        )
    currency = rules.currency(currency)
    check_text({"description": description})
    value = money.parse_amount(amount, currency) if not isinstance(amount, Decimal) else amount
    if value <= 0:
        raise ValidationError(_("A commitment is above zero"), {"amount": [_("Must be above zero")]})
    tx = projects.add_transaction(
        actor,
        project,
        {
            "type": "commitment",
            "amount": value,
            "currency": currency,
            "value_date": day or dt.date.today(),
            "funding_source_id": source.id,
            "provider_org_id": source.managing_org_id,
            "description": description or f"Commitment from {source.name}",
        },
    )
    settle(actor, project)
    return tx
