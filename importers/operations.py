"""What the import API, the import pages and the import commands share, in one place.

- **Who may see a batch** (``batch_for``): their organisation's batches, or any for an admin.
- **Which organisation an import is recorded for** (``import_owner``, ``importable_orgs``):
  a donor imports for their own organisation, an admin for any, and only an admin may name a
  new one (created by the run, undone with its batch).
- **The mapping memory** (``saved_mapping``, ``remember_mapping``, ``with_saved_mapping``): the
  column mapping and conventions an organisation confirmed last time, offered for its next file.

None of these commits: like the pipeline (``importers.pipeline``), they leave their changes in
the session, and the caller commits once as its unit of work: the API view (through
``registry.api.common.commit``, which maps conflicts to 409), the page view, the command, or
the background job runner (``importers.jobs``) for a preview or a commit that runs there.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, false, select, true

from importers.models import SavedMapping
from registry.errors import NotFoundError, PermissionDenied, ValidationError
from registry.extensions import db
from registry.models import ImportBatch, Organisation
from registry.models.types import Role
from registry.services import lookup
from registry.services.organisations import find_organisation
from registry.services.permissions import can_import

# Reader conventions kept with a saved mapping (besides its columns).
CONVENTIONS = ("dates", "decimal", "currency")


def _is_admin(who: Any) -> bool:
    return who is not None and who.role == Role.ADMIN


# -- batches -------------------------------------------------------------------


def batch_for(who: Any, batch_id: int) -> ImportBatch:
    """A batch ``who`` may see and act on: their organisation's, or any for an admin
    (NotFoundError, PermissionDenied otherwise)."""
    batch = lookup.load(ImportBatch, batch_id, "import batch")  # an id beyond the key range is unknown, not a 500
    org = db.session.get(Organisation, batch.org_id) if batch.org_id else None
    if not (_is_admin(who) or (org is not None and can_import(who, org))):
        raise PermissionDenied(_("This import belongs to another organisation"))
    return batch


def visible_batches(who: Any) -> ColumnElement[bool]:
    """The condition on ``ImportBatch`` of the batches ``who`` may list: as for one batch
    (``batch_for``), donors see their organisation's, admins every one, no one else any."""
    if _is_admin(who):
        return true()
    mine = who is not None and who.role == Role.DONOR and who.org_id is not None
    return ImportBatch.org_id == who.org_id if mine else false()


def discard(batch: ImportBatch) -> ImportBatch:
    """Set a preview (or a failed batch) aside: it is no longer offered for commit."""
    batch.status = "discarded"
    db.session.flush()
    return batch


# -- the owner of an import ----------------------------------------------------


def importable_orgs(who: Any) -> list[Organisation]:
    """The organisations ``who`` may import files for (an admin: every one)."""
    if _is_admin(who):
        return list(db.session.scalars(select(Organisation).order_by(Organisation.name)))
    org = db.session.get(Organisation, who.org_id) if who.org_id else None
    return [org] if org else []


def import_owner(
    who: Any, *, ref: str | None = None, org_id: int | None = None, org_name: str | None = None
) -> Organisation | str:
    """The organisation an import is recorded for, checked against who imports.

    By id (the pages' choice) or by reference (the API and the command line); no reference:
    the importer's own organisation. An unknown reference with ``org_name`` is returned as the
    reference, for the run to create (admins only). Only donor editors and administrators
    import (a government or an analyst is refused before anything else is looked at)."""
    if not (_is_admin(who) or (who is not None and who.role == Role.DONOR)):
        raise PermissionDenied(_("Only donor editors and administrators import files"))
    if org_id is not None:
        org = db.session.get(Organisation, org_id)
        if org is None or not (_is_admin(who) or can_import(who, org)):
            raise PermissionDenied(_("You may not import files for this organisation"))
        return org
    if not ref:
        if who is None or who.org_id is None:
            raise ValidationError(_("Say which organisation the file is for"), {"org": [_("Required")]})
        return db.session.get(Organisation, who.org_id)
    org = find_organisation(ref)
    if org is None:
        if not org_name:
            raise NotFoundError(
                _("Organisation %(ref)s is not in the registry; give its name (org_name) to create it", ref=repr(ref)),
                {"org": [_("Unknown organisation %(ref)s", ref=repr(ref))]},
            )
        if not _is_admin(who):
            raise PermissionDenied(_("Only an administrator can create an organisation while importing"))
        return ref
    if not (_is_admin(who) or can_import(who, org)):
        raise PermissionDenied(_("You may not import files for %(name)s", name=org.name))
    return org


# -- the mapping memory --------------------------------------------------------


def saved_mapping(org_id: int | None, kind: str = "sheet") -> SavedMapping | None:
    """The mapping an organisation confirmed last time, if any."""
    if org_id is None:
        return None
    return db.session.scalar(select(SavedMapping).where(SavedMapping.org_id == org_id, SavedMapping.kind == kind))


def remember_mapping(org_id: int, kind: str, options: dict) -> SavedMapping:
    """Remember the confirmed mapping and conventions for the organisation's next file."""
    mapping = dict(options.get("mapping") or {})
    for key in CONVENTIONS:
        if options.get(key):
            mapping[key] = options[key]
    row = saved_mapping(org_id, kind) or SavedMapping(org_id=org_id, kind=kind)
    row.mapping = mapping
    db.session.add(row)
    db.session.flush()
    return row


def with_saved_mapping(options: dict, saved: SavedMapping | None) -> dict:
    """Reader options with the saved mapping's columns, and its conventions where the upload
    chose none."""
    if saved is None:
        return options
    out = dict(options)
    for key, value in saved.mapping.items():
        if key in CONVENTIONS:
            out.setdefault(key, value)
    out["mapping"] = {"columns": saved.mapping.get("columns", {})}
    return out
