"""Checks shared by the API and the pages before a change: 403 unless allowed.

They take the user explicitly and raise PermissionDenied, so a form and an API
call on the same object are refused for the same reason.
"""

from __future__ import annotations

from flask_babel import gettext as _

from registry.errors import NotFoundError, PermissionDenied, ValidationError
from registry.models import FundingSource, Organisation, Project, Transaction, User
from registry.models.types import N_, ProjectStatus, Role
from registry.services import permissions
from registry.services.lookup import load
from registry.services.versions import check_version


def forbid_unless(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def reporting_org(user: User, org_id: int | None) -> Organisation:
    """The organisation a new project belongs to: the user's own, or any for admins (403 for a
    role that does not register projects: governments post pipeline projects instead)."""
    check_may_register(user)
    if user.role is Role.ADMIN:
        if org_id is None:
            raise ValidationError(_("Say which organisation reports the project"), {"org_id": [_("Required")]})
        return load(Organisation, org_id, "organisation")
    forbid_unless(
        user.org_id is not None and org_id in (None, user.org_id),
        _("You may only register projects of your own organisation"),
    )
    return load(Organisation, user.org_id, "organisation")


GOVERNMENT_POSTS_PIPELINE = N_(
    "Governments post pipeline projects for their own country: Pipeline → Post a pipeline project,"
    " or POST /api/v1/pipeline-projects"
)


def check_may_register(user: User | None) -> None:
    """403 unless the user may register a project through the project form or the projects API."""
    if user is not None and user.role is Role.GOVERNMENT:
        forbid_unless(permissions.can_register_project(user), _(GOVERNMENT_POSTS_PIPELINE))
    forbid_unless(permissions.can_register_project(user), _("Your role does not allow registering projects"))


def check_may_save(user: User, org: Organisation, project: Project | None, data: dict) -> None:
    """403 unless the project, as it would be after the change, is the user's to save."""
    status = data.get("status") or (project.status.value if project and project.status else None)
    if data.get("recipients") is not None:
        countries = {(r.get("country") or "").upper() or None for r in data["recipients"]}
    else:
        countries = {r.country_iso3 for r in project.recipients} if project else set()
    allowed = permissions.can_save_project(user, org, status or ProjectStatus.ACTIVE.value, countries)
    if user.role is Role.GOVERNMENT:
        forbid_unless(
            allowed, _("You may not save this project (governments post pipeline projects for their own country only)")
        )
    forbid_unless(allowed, _("You may not save this project"))


def project_to_change(user: User | None, project_id: int) -> Project:
    """The project, if the user may change it (404 unknown, 403 not theirs)."""
    project = load(Project, project_id, "project")
    forbid_unless(permissions.can_edit_project(user, project), _("You may not change this project"))
    return project


def transaction_of(project: Project, tx_id: int) -> Transaction:
    """A transaction of this project (404 when it belongs to another one)."""
    tx = load(Transaction, tx_id, "transaction")
    if tx.project_id != project.id:
        raise NotFoundError(
            _("Project %(project)s has no transaction %(transaction)s", project=project.id, transaction=tx_id)
        )
    return tx


def source_to_change(user: User | None, source_id: int) -> FundingSource:
    """The funding source, if the user may change it."""
    source = load(FundingSource, source_id, "funding source")
    forbid_unless(permissions.can_edit_source(user, source), _("You may not change this funding source"))
    return source


def check_new_source(user: User, data: dict) -> None:
    """Donors add sources their organisation manages; admins any. Fills the default."""
    if data.get("managing_org_id") is None and user.role is not Role.ADMIN:
        data["managing_org_id"] = user.org_id
    forbid_unless(
        permissions.can_create_source(user, data.get("managing_org_id")),
        _("You may only add funding sources your organisation manages"),
    )


def guard_project(project: Project, expected_version: int | None = None) -> None:
    """Serialise changes to a project's transactions through the project's version.

    A stale ``expected_version`` is refused (409); otherwise the project row is touched
    so that its version moves, and a concurrent writer of the same project fails its
    own versioned UPDATE (409) instead of silently overwriting this change.
    """
    import datetime as dt

    check_version(project.version, expected_version)
    project.updated_at = dt.datetime.now(dt.UTC)
