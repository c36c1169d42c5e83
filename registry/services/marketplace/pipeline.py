"""Pipeline projects: a recipient government posts, changes and withdraws its requests.

Only the country's government organisation (and an administrator) may change a pipeline
project; a withdrawn one leaves the marketplace (docs/funding-finder.md, "Pipeline projects"):
cancelled when nobody has committed to it, else active with the money committed so far.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from registry import money
from registry.errors import ConflictError, MoneyError, PermissionDenied, ValidationError
from registry.extensions import db
from registry.models import AuditEvent, Country, Organisation, PriorityArea, Project, ProjectArea, ProjectRecipient
from registry.models.types import OrganisationKind, ProjectStatus, Role
from registry.services import audit, permissions, projects, rules
from registry.services.actor import Actor
from registry.services.lookup import load
from registry.services.marketplace.cofinancing import commitments_to, settle
from registry.services.marketplace.common import check_text, is_admin, user_of
from registry.services.matching import codes_of, looks_like_code
from registry.services.shares import share_text, split_evenly
from registry.services.versions import check_version

# What a government may set on a pipeline project (the rest belongs to donors' projects).
PIPELINE_FIELDS = (
    "reference",
    "title",
    "description",
    "country",
    "areas",
    "need",
    "instrument_sought",
    "planned_start",
    "planned_end",
    "contact_name",
    "contact_email",
    "scope",
    "infrastructure",
)
REQUIRED = ("title", "country", "areas", "need", "instrument_sought", "contact_email")


def get_pipeline_project(project_id: int) -> Project:
    """A pipeline (or withdrawn pipeline) project by id, or NotFoundError."""
    return load(Project, project_id, "project")


def project_country(project: Project) -> str | None:
    """The single recipient country of a pipeline project, if it has one."""
    countries = [r.country_iso3 for r in project.recipients if r.country_iso3]
    return countries[0] if len(countries) == 1 else None


def can_edit_pipeline(actor: Actor, project: Project) -> bool:
    """Only the country's government organisation (and an admin) edits a pipeline project."""
    if is_admin(actor):
        return True
    if actor.role != Role.GOVERNMENT:
        return False
    user = user_of(actor)
    return user is not None and permissions.can_edit_project(user, project)


def _may_manage(actor: Actor, project: Project) -> bool:
    """The project's government organisation for its own country (whatever the status), or an admin."""
    if is_admin(actor):
        return True
    countries = {r.country_iso3 for r in project.recipients}
    # a cross-border project is its posting government's, which names its own country among the others
    return (
        actor.role == Role.GOVERNMENT
        and actor.org_id is not None
        and project.org_id == actor.org_id
        and permissions.government_serves(actor.country_iso3, countries)
    )


def _pipeline_data(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = set(data) - set(PIPELINE_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown fields"), {k: [_("Unknown field")] for k in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    for key in REQUIRED:
        if partial and key not in data:
            continue
        value = data.get(key)
        empty = value in (None, "", [], {}) or (key == "need" and (value or {}).get("amount") in (None, ""))
        if empty:
            errors[key] = [_("Required for a pipeline project")]
    if errors:
        raise ValidationError(_("The pipeline project is not complete"), errors)
    check_text(data)
    for country in codes_of(data.get("country")):
        if not looks_like_code(country):
            raise ValidationError(
                _("Unknown country %(code)s", code=repr(country)), {"country": [_("Not an ISO 3166 alpha-3 code")]}
            )
    for item in data.get("areas") or []:
        code = item.get("code") if isinstance(item, dict) else item
        if not looks_like_code(str(code)):
            raise ValidationError(
                _("Unknown priority area %(code)s", code=repr(code)),
                {"areas": [_("Unknown area %(code)s", code=repr(code))]},
            )
    need = data.get("need")
    if need and need.get("amount") not in (None, ""):
        currency = rules.currency(need.get("currency"), "need")
        try:
            amount = money.parse_amount(need["amount"], currency)
        except MoneyError as exc:
            raise ValidationError(exc.message, {"need": [exc.message]}) from None
        if amount <= 0:
            raise ValidationError(_("The need must be above zero"), {"need": [_("Must be above zero")]})
        data = dict(data, need={"amount": amount, "currency": currency})
    out = {k: v for k, v in data.items() if k != "country"}
    if "areas" in out:
        out["areas"] = [a if isinstance(a, dict) else {"code": a} for a in out["areas"]]
    if "country" in data:
        out["recipients"] = [{"country": code.upper()} for code in codes_of(data["country"])]
    return out


def _countries(value: Any) -> list[str]:
    """The ISO3 codes of a pipeline project's ``country``: one, or several separated by commas."""
    return [code.upper() for code in codes_of(value)]


def _next_reference(org: Organisation, country: str) -> str:
    """PIPE-<country>-<year>-<n>: readable, unique within the organisation."""
    year = dt.date.today().year
    prefix = f"PIPE-{country}-{year}-"
    taken = set(db.session.scalars(select(Project.reference).where(Project.org_id == org.id)))
    n = 1
    while f"{prefix}{n:03d}" in taken:
        n += 1
    return f"{prefix}{n:03d}"


def post_pipeline_project(actor: Actor, data: dict[str, Any], org: Organisation | None = None) -> Project:
    """A government posts a pipeline project for its own country (an admin for any government)."""
    data = dict(data)
    if is_admin(actor):
        if org is None:
            raise ValidationError(
                _("Choose the government organisation"), {"org_id": [_("Required for administrators")]}
            )
    elif actor.role == Role.GOVERNMENT:
        user = user_of(actor)
        if user is None or user.org is None:
            raise PermissionDenied(_("Your account belongs to no government organisation; ask an administrator"))
        org = user.org
        data.setdefault("country", user.country_iso3)
        if user.country_iso3 not in _countries(data.get("country")):
            raise PermissionDenied(
                _("A government posts pipeline projects for its own country (%(country)s)", country=user.country_iso3)
            )
    else:
        raise PermissionDenied(_("Only recipient governments post pipeline projects"))
    if org.kind is not OrganisationKind.GOVERNMENT and not is_admin(actor):
        raise PermissionDenied(_("Pipeline projects are posted by government organisations"))
    values = _pipeline_data(data, partial=False)
    values["status"] = ProjectStatus.PIPELINE
    if not values.get("reference"):
        values["reference"] = _next_reference(org, values["recipients"][0]["country"])
    if len(values["recipients"]) > 1:
        shares = split_evenly(len(values["recipients"]))
        values["recipients"] = [dict(r, share=share_text(s)) for r, s in zip(values["recipients"], shares, strict=True)]
    return projects.create_project(actor, org, values)


def update_pipeline_project(
    actor: Actor, project: Project, data: dict[str, Any], expected_version: int | None = None
) -> Project:
    """Change a pipeline project; only its country's government (or an admin)."""
    # Rights first: someone who may not edit learns nothing about the project's state.
    if not _may_manage(actor, project):
        raise PermissionDenied(_("Only the country's government may change this pipeline project"))
    if project.status is not ProjectStatus.PIPELINE:
        raise ConflictError(_("Only open pipeline projects can be changed here"), {"status": [_("Not pipeline")]})
    data = dict(data)
    if "country" in data and not is_admin(actor) and actor.country_iso3 not in _countries(data["country"]):
        raise PermissionDenied(
            _("A government posts pipeline projects for its own country (%(country)s)", country=actor.country_iso3)
        )
    values = _pipeline_data(data, partial=True)
    check_version(project.version, expected_version)
    _change_places(actor, project, values)
    projects.update_project(actor, project, values, expected_version)
    if "need" in values:  # a need lowered to what is already committed is covered
        settle(actor, project)
    return project


def _change_places(actor: Actor, project: Project, values: dict[str, Any]) -> None:
    """Change the country and areas row by row, taking them out of ``values``.

    Replacing the rows wholesale would insert a row with the same (project, code) before
    the old one is deleted, which the unique constraints refuse; so rows are kept,
    re-shared, added and removed in place, and the change is audited here.
    """
    before = projects.snapshot(project)
    if "recipients" in values:
        countries = []
        for item in values.pop("recipients"):
            country = item["country"]
            if db.session.get(Country, country) is None:
                raise ValidationError(
                    _("Unknown country %(code)s", code=repr(country)), {"country": [_("Unknown ISO3 code")]}
                )
            if country not in countries:
                countries.append(country)
        if not countries:
            raise ValidationError(_("Give at least one country"), {"country": [_("Required")]})
        # a cross-border project's countries share it evenly, as its areas do
        shares = dict(zip(countries, split_evenly(len(countries)), strict=True))
        for row in list(project.recipients):
            if row.country_iso3 not in shares:
                project.recipients.remove(row)
        db.session.flush()
        existing = {row.country_iso3: row for row in project.recipients}
        for country, share in shares.items():
            if country in existing:
                existing[country].share_ppm = share
            else:
                project.recipients.append(ProjectRecipient(country_iso3=country, share_ppm=share))
    if "areas" in values:
        codes = []
        for item in values.pop("areas"):
            code = str(item.get("code", "")).strip().lower()
            if db.session.get(PriorityArea, code) is None:
                raise ValidationError(
                    _("Unknown priority area %(code)s", code=repr(code)),
                    {"areas": [_("Unknown area %(code)s", code=repr(code))]},
                )
            if code not in codes:
                codes.append(code)
        if not codes:
            raise ValidationError(_("Give at least one priority area"), {"areas": [_("Required")]})
        shares = dict(zip(sorted(codes), split_evenly(len(codes)), strict=True))
        for row in list(project.areas):
            if row.area_code not in shares:
                project.areas.remove(row)
        db.session.flush()
        existing = {row.area_code: row for row in project.areas}
        for code, share in shares.items():
            if code in existing:
                existing[code].share_ppm = share
            else:
                project.areas.append(ProjectArea(area_code=code, share_ppm=share))
    db.session.flush()
    after = projects.snapshot(project)
    if before != after:
        changed = audit.changed_fields(before, after)
        audit.record(
            actor, "update", "project", project.id, before, after, f"Changed {', '.join(changed)}", project.org_id
        )


def withdraw_pipeline_project(actor: Actor, project: Project, expected_version: int | None = None) -> Project:
    """Withdraw a pipeline project from the marketplace: cancelled when nobody has committed to
    it, else active (it goes ahead with the money committed, and seeks no more here)."""
    if not _may_manage(actor, project):
        raise PermissionDenied(_("Only the country's government may withdraw this pipeline project"))
    if project.status is not ProjectStatus.PIPELINE:
        raise ConflictError(_("Only open pipeline projects can be withdrawn"), {"status": [_("Not pipeline")]})
    status = ProjectStatus.ACTIVE if commitments_to(project) else ProjectStatus.CANCELLED
    projects.update_project(actor, project, {"status": status}, expected_version)
    audit.record(
        actor,
        "update",
        "project",
        project.id,
        None,
        {"withdrawn": True},
        f"Withdrew pipeline project {project.title}",
        project.org_id,
    )
    return project


def was_withdrawn(project: Project) -> bool:
    """True when the project left the marketplace by withdrawal (its audit trail says so)."""
    if project.status is not ProjectStatus.CANCELLED:
        return False
    stmt = select(AuditEvent.id).where(
        AuditEvent.entity_type == "project",
        AuditEvent.entity_id == project.id,
        AuditEvent.summary.like("Withdrew pipeline project%"),
    )
    return db.session.scalar(stmt.limit(1)) is not None
