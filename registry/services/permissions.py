"""Who may change what. Reading published data is open to everyone.

- admin: everything;
- donor editor: the projects, transactions and funding sources of their organisation,
  and their organisation's record;
- recipient government: pipeline projects of their own organisation for their own country,
  posted through the marketplace (``marketplace.post_pipeline_project``, which asks for what a
  pipeline project needs), then edited and withdrawn there or on the project's own page;
- analyst: reads and exports only.
"""

from __future__ import annotations

from registry.models import FundingSource, Organisation, Project, User
from registry.models.types import ProjectStatus, Role


def can_create_project(user: User | None, org: Organisation) -> bool:
    if user is None:
        return False
    if user.role is Role.ADMIN:
        return True
    if user.role in (Role.DONOR, Role.GOVERNMENT):
        return user.org_id == org.id
    return False


def can_register_project(user: User | None) -> bool:
    """Registering a project through the project form or ``POST /api/v1/projects`` is for donor
    editors (of an organisation) and administrators. A government posts its pipeline projects
    through the marketplace instead, whose service requires the need, the instrument sought
    and a contact that donors read; the general form would let it skip them."""
    if user is None:
        return False
    return user.role is Role.ADMIN or (user.role is Role.DONOR and user.org_id is not None)


def can_edit_project(user: User | None, project: Project) -> bool:
    """Donors edit their organisation's projects; governments their own country's pipeline."""
    if user is None:
        return False
    if user.role is Role.ADMIN:
        return True
    if user.role is Role.DONOR:
        return project.org_id == user.org_id
    if user.role is Role.GOVERNMENT:
        countries = {r.country_iso3 for r in project.recipients}
        return (
            project.org_id == user.org_id
            and project.status is ProjectStatus.PIPELINE
            and government_serves(user.country_iso3, countries)
        )
    return False


def government_serves(own: str | None, countries: set[str | None]) -> bool:
    """Whether a government's pipeline project is for its own country: that country alone, or
    with the neighbours a cross-border project serves (the government's own among them)."""
    return countries <= {own} or (own is not None and own in countries)


def government_project_ok(user: User, status: str | ProjectStatus, country_codes: set[str | None]) -> bool:
    """A government may only post pipeline projects for its own country."""
    return ProjectStatus(status) is ProjectStatus.PIPELINE and government_serves(user.country_iso3, country_codes)


def speaks_for(role: Role | None, own_org_id: int | None, org_id: int | None) -> bool:
    """Whether someone of ``role`` in organisation ``own_org_id`` acts for organisation ``org_id``:
    an administrator acts for any organisation, a donor editor for their own."""
    if role == Role.ADMIN:
        return True
    return role == Role.DONOR and org_id is not None and org_id == own_org_id


def _speaks_for(user: User | None, org_id: int | None) -> bool:
    return user is not None and speaks_for(user.role, user.org_id, org_id)


def can_edit_source(user: User | None, source: FundingSource) -> bool:
    return _speaks_for(user, source.managing_org_id)


def can_create_source(user: User | None, managing_org_id: int | None) -> bool:
    return _speaks_for(user, managing_org_id)


def can_edit_org(user: User | None, org: Organisation) -> bool:
    return _speaks_for(user, org.id)


def can_import(user: User | None, org: Organisation | None) -> bool:
    """Donors import for their organisation; admins for any."""
    return _speaks_for(user, org.id if org is not None else None)


def can_save_project(
    user: User | None, org: Organisation, status: str | ProjectStatus, country_codes: set[str | None]
) -> bool:
    """May the user save a project of ``org`` with this status and these recipient countries?

    Checked on create and again on the result of every change, so that a government
    cannot turn its pipeline project into an active one or add another country.
    """
    if not can_create_project(user, org):
        return False
    if user.role is Role.GOVERNMENT:
        return government_project_ok(user, status, country_codes)
    return True


def can_manage_orgs(user: User | None) -> bool:
    """Creating and deleting organisations is for administrators."""
    return user is not None and user.role is Role.ADMIN
