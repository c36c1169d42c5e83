"""Creating, changing and deleting organisations."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from registry.errors import ConflictError, ValidationError
from registry.extensions import db
from registry.models import Country, FundingSource, Organisation, Project
from registry.models.soft_delete import INCLUDE_DELETED
from registry.models.types import OrganisationKind
from registry.services import audit, deletion
from registry.services.actor import Actor
from registry.services.lookup import load

FIELDS = ("ref", "name", "kind", "iati_ref", "country_iso3", "website", "description")


def snapshot(org: Organisation) -> dict[str, Any]:
    """The organisation's fields as plain values (for the audit trail)."""
    return {f: getattr(org, f) for f in FIELDS}


def get_organisation(org_id: int) -> Organisation:
    return load(Organisation, org_id, "organisation")


def find_organisation(ref_or_name: str) -> Organisation | None:
    """Find by reference, IATI identifier or exact (case-insensitive) name."""
    text = ref_or_name.strip()
    for column in (Organisation.ref, Organisation.iati_ref):
        org = db.session.scalar(select(Organisation).where(column == text))
        if org:
            return org
    return db.session.scalar(select(Organisation).where(func.lower(Organisation.name) == text.lower()).limit(1))


def _apply(org: Organisation, data: dict[str, Any]) -> None:
    if "kind" in data:
        try:
            data["kind"] = OrganisationKind(data["kind"])
        except ValueError:
            raise ValidationError(
                _("Unknown organisation kind %(kind)s", kind=repr(data["kind"])), {"kind": [_("Unknown kind")]}
            ) from None
    if data.get("country_iso3") and db.session.get(Country, data["country_iso3"]) is None:
        raise ValidationError(
            _("Unknown country %(code)s", code=repr(data["country_iso3"])),
            {"country_iso3": [_("Unknown ISO 3166 alpha-3 code")]},
        )
    for key, value in data.items():
        if key not in FIELDS:
            raise ValidationError(_("Unknown field %(field)s", field=repr(key)), {key: [_("Unknown field")]})
        setattr(org, key, value)


def _check_unique(org: Organisation) -> None:
    for column, value, field in ((Organisation.ref, org.ref, "ref"), (Organisation.iati_ref, org.iati_ref, "iati_ref")):
        if value is None:
            continue
        clash = db.session.scalar(
            select(Organisation.id).where(column == value, Organisation.id != org.id), execution_options=INCLUDE_DELETED
        )
        if clash:
            deleted = deletion.deleted_holder("organisation", clash)
            if deleted is None:
                message = _("Another organisation already uses %(field)s %(value)s", field=field, value=repr(value))
            else:
                message = _(
                    "Another organisation already uses %(field)s %(value)s (deleted %(date)s by %(by)s; restore it "
                    "rather than adding it again)",
                    field=field,
                    value=repr(value),
                    **deleted,
                )
            raise ConflictError(message, {field: [_("Already used")]})


def create_organisation(actor: Actor, data: dict[str, Any], *, demo: bool = False) -> Organisation:
    """Add an organisation; ``ref``, ``name`` and ``kind`` are required."""
    missing = [f for f in ("ref", "name", "kind") if not data.get(f)]
    if missing:
        raise ValidationError(_("Missing required fields"), {f: [_("Required")] for f in missing})
    org = Organisation(demo=demo, import_batch_id=actor.import_batch_id)
    _apply(org, dict(data))
    _check_unique(org)
    db.session.add(org)
    db.session.flush()
    audit.record(actor, "create", "organisation", org.id, None, snapshot(org), f"Created {org.name}", org.id)
    return org


def update_organisation(actor: Actor, org: Organisation, data: dict[str, Any]) -> Organisation:
    before = snapshot(org)
    _apply(org, dict(data))
    _check_unique(org)
    after = snapshot(org)
    if before != after:
        db.session.flush()
        changed = audit.changed_fields(before, after)
        audit.record(actor, "update", "organisation", org.id, before, after, f"Changed {', '.join(changed)}", org.id)
    return org


def delete_organisation(actor: Actor, org: Organisation) -> None:
    """Delete an organisation: marked deleted, restorable; refused while it has live projects
    or funding sources (registry.services.deletion)."""
    deletion.delete_organisation(actor, org)


def remove_organisation(actor: Actor, org: Organisation) -> None:
    """Remove an organisation for good (import undo: the organisation an import created),
    when nothing, live or deleted, refers to it."""
    used = db.session.scalar(
        select(func.count()).select_from(Project).where(Project.org_id == org.id), execution_options=INCLUDE_DELETED
    )
    used += db.session.scalar(
        select(func.count()).select_from(FundingSource).where(FundingSource.managing_org_id == org.id),
        execution_options=INCLUDE_DELETED,
    )
    if used:
        raise ConflictError(_("%(org)s still has projects or funding sources; delete or move them first", org=org.name))
    audit.record(actor, "delete", "organisation", org.id, snapshot(org), None, f"Removed {org.name}", org.id)
    db.session.delete(org)
    db.session.flush()
