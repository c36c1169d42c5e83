"""The marketplace: governments' pipeline projects, donors' interest, commitments, saved searches.

Rights (see docs/funding-finder.md): a recipient government posts, edits and withdraws
pipeline projects of its own organisation for its own country; a donor records and
withdraws its organisation's interest and commits money from its own funding sources;
an administrator may do all of it. Services check these rules themselves, so the API,
the pages and the CLI cannot drift apart; they flush and never commit.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from registry import money
from registry.errors import (
    ConflictError,
    MoneyError,
    NotFoundError,
    PermissionDenied,
    ValidationError,
)
from registry.extensions import db
from registry.models import (
    AuditEvent,
    Country,
    FundingSource,
    Organisation,
    PipelineInterest,
    PriorityArea,
    Project,
    ProjectArea,
    ProjectRecipient,
    SavedSearch,
    Transaction,
    User,
)
from registry.models.project import SHARE_WHOLE
from registry.models.types import Instrument, OrganisationKind, ProjectStatus, Role
from registry.services import audit, matching, permissions, projects, rules
from registry.services.actor import Actor
from registry.services.shares import split_evenly

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
)
REQUIRED = ("title", "country", "areas", "need", "instrument_sought", "contact_email")


def _user(actor: Actor) -> User | None:
    return db.session.get(User, actor.user_id) if actor.user_id else None


def _is_admin(actor: Actor) -> bool:
    return actor.role == Role.ADMIN.value


def get_pipeline_project(project_id: int) -> Project:
    """A pipeline (or withdrawn pipeline) project by id, or NotFoundError."""
    project = db.session.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"No project with id {project_id}")
    return project


def project_country(project: Project) -> str | None:
    """The single recipient country of a pipeline project, if it has one."""
    countries = [r.country_iso3 for r in project.recipients if r.country_iso3]
    return countries[0] if len(countries) == 1 else None


def can_edit_pipeline(actor: Actor, project: Project) -> bool:
    """Only the country's government organisation (and an admin) edits a pipeline project."""
    if _is_admin(actor):
        return True
    if actor.role != Role.GOVERNMENT.value:
        return False
    user = _user(actor)
    return user is not None and permissions.can_edit_project(user, project)


def _may_manage(actor: Actor, project: Project) -> bool:
    """The project's government organisation for its own country (whatever the status), or an admin."""
    if _is_admin(actor):
        return True
    countries = {r.country_iso3 for r in project.recipients}
    return (
        actor.role == Role.GOVERNMENT.value
        and actor.org_id is not None
        and project.org_id == actor.org_id
        and countries <= {actor.country_iso3}
    )


def _pipeline_data(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = set(data) - set(PIPELINE_FIELDS)
    if unknown:
        raise ValidationError("Unknown fields", {k: ["Unknown field"] for k in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    for key in REQUIRED:
        if partial and key not in data:
            continue
        value = data.get(key)
        empty = value in (None, "", [], {}) or (key == "need" and (value or {}).get("amount") in (None, ""))
        if empty:
            errors[key] = ["Required for a pipeline project"]
    if errors:
        raise ValidationError("The pipeline project is not complete", errors)
    _check_text(data)
    country = data.get("country")
    if country is not None and not matching.looks_like_code(str(country)):
        raise ValidationError(f"Unknown country {country!r}", {"country": ["Not an ISO 3166 alpha-3 code"]})
    for item in data.get("areas") or []:
        code = item.get("code") if isinstance(item, dict) else item
        if not matching.looks_like_code(str(code)):
            raise ValidationError(f"Unknown priority area {code!r}", {"areas": [f"Unknown area {code!r}"]})
    need = data.get("need")
    if need and need.get("amount") not in (None, ""):
        currency = rules.currency(need.get("currency"), "need")
        try:
            amount = money.parse_amount(need["amount"], currency)
        except MoneyError as exc:
            raise ValidationError(exc.message, {"need": [exc.message]}) from None
        if amount <= 0:
            raise ValidationError("The need must be above zero", {"need": ["Must be above zero"]})
        data = dict(data, need={"amount": amount, "currency": currency})
    out = {k: v for k, v in data.items() if k != "country"}
    if "areas" in out:
        out["areas"] = [a if isinstance(a, dict) else {"code": a} for a in out["areas"]]
    if "country" in data:
        out["recipients"] = [{"country": str(data["country"]).upper()}]
    return out


def _check_text(values: dict[str, Any]) -> None:
    """Refuse text with NUL characters: no database column can hold them."""
    bad = sorted(k for k, v in values.items() if isinstance(v, str) and "\x00" in v)
    if bad:
        raise ValidationError("Text contains a NUL character", {k: ["Contains a NUL character"] for k in bad})


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
    if _is_admin(actor):
        if org is None:
            raise ValidationError("Choose the government organisation", {"org_id": ["Required for administrators"]})
    elif actor.role == Role.GOVERNMENT.value:
        user = _user(actor)
        if user is None or user.org is None:
            raise PermissionDenied("Your account belongs to no government organisation; ask an administrator")
        org = user.org
        data.setdefault("country", user.country_iso3)
        if str(data.get("country") or "").upper() != user.country_iso3:
            raise PermissionDenied(f"A government posts pipeline projects for its own country ({user.country_iso3})")
    else:
        raise PermissionDenied("Only recipient governments post pipeline projects")
    if org.kind is not OrganisationKind.GOVERNMENT and not _is_admin(actor):
        raise PermissionDenied("Pipeline projects are posted by government organisations")
    values = _pipeline_data(data, partial=False)
    values["status"] = ProjectStatus.PIPELINE
    if not values.get("reference"):
        values["reference"] = _next_reference(org, values["recipients"][0]["country"])
    return projects.create_project(actor, org, values)


def update_pipeline_project(
    actor: Actor, project: Project, data: dict[str, Any], expected_version: int | None = None
) -> Project:
    """Change a pipeline project; only its country's government (or an admin)."""
    # Rights first: someone who may not edit learns nothing about the project's state.
    if not _may_manage(actor, project):
        raise PermissionDenied("Only the country's government may change this pipeline project")
    if project.status is not ProjectStatus.PIPELINE:
        raise ConflictError("Only open pipeline projects can be changed here", {"status": ["Not pipeline"]})
    data = dict(data)
    if "country" in data and not _is_admin(actor) and str(data["country"]).upper() != actor.country_iso3:
        raise PermissionDenied(f"A government posts pipeline projects for its own country ({actor.country_iso3})")
    values = _pipeline_data(data, partial=True)
    projects.check_version(project.version, expected_version)
    _change_places(actor, project, values)
    return projects.update_project(actor, project, values, expected_version)


def _change_places(actor: Actor, project: Project, values: dict[str, Any]) -> None:
    """Change the country and areas row by row, taking them out of ``values``.

    Replacing the rows wholesale would insert a row with the same (project, code) before
    the old one is deleted, which the unique constraints refuse; so rows are kept,
    re-shared, added and removed in place, and the change is audited here.
    """
    before = projects.snapshot(project)
    if "recipients" in values:
        country = values.pop("recipients")[0]["country"]
        if db.session.get(Country, country) is None:
            raise ValidationError(f"Unknown country {country!r}", {"country": ["Unknown ISO3 code"]})
        if project_country(project) != country:
            for extra in project.recipients[1:]:
                project.recipients.remove(extra)
            if project.recipients:
                row = project.recipients[0]
                row.country_iso3, row.region_code, row.share_ppm = country, None, SHARE_WHOLE
            else:
                project.recipients.append(ProjectRecipient(country_iso3=country, share_ppm=SHARE_WHOLE))
    if "areas" in values:
        codes = []
        for item in values.pop("areas"):
            code = str(item.get("code", "")).strip().lower()
            if db.session.get(PriorityArea, code) is None:
                raise ValidationError(f"Unknown priority area {code!r}", {"areas": [f"Unknown area {code!r}"]})
            if code not in codes:
                codes.append(code)
        if not codes:
            raise ValidationError("Give at least one priority area", {"areas": ["Required"]})
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
    """Withdraw a pipeline project: its status becomes cancelled and it leaves the marketplace."""
    if not _may_manage(actor, project):
        raise PermissionDenied("Only the country's government may withdraw this pipeline project")
    if project.status is not ProjectStatus.PIPELINE:
        raise ConflictError("Only open pipeline projects can be withdrawn", {"status": ["Not pipeline"]})
    projects.update_project(actor, project, {"status": ProjectStatus.CANCELLED}, expected_version)
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


# -- interest -----------------------------------------------------------------------------


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
    return _is_admin(actor) or (actor.role == Role.GOVERNMENT.value and actor.org_id == project.org_id)


def express_interest(actor: Actor, project: Project, note: str = "") -> PipelineInterest:
    """A donor records its organisation's interest in a pipeline project."""
    if actor.role not in (Role.DONOR.value, Role.ADMIN.value) or actor.org_id is None:
        raise PermissionDenied("Only donor organisations record interest in pipeline projects")
    if project.status is not ProjectStatus.PIPELINE:
        raise ConflictError("This project is no longer in the pipeline", {"status": ["Not pipeline"]})
    if interest_of(project, actor.org_id) is not None:
        raise ConflictError("Your organisation has already recorded interest", {"project": ["Already interested"]})
    note = (note or "").strip()
    _check_text({"note": note})
    if len(note) > 2000:
        raise ValidationError("The note is too long", {"note": ["At most 2,000 characters"]})
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
    if not (_is_admin(actor) or (actor.org_id is not None and actor.org_id == interest.org_id)):
        raise PermissionDenied("Only the organisation that recorded this interest may withdraw it")
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
    interest = db.session.get(PipelineInterest, interest_id)
    if interest is None or interest.project_id != project.id:
        raise NotFoundError(f"No interest {interest_id} on project {project.id}")
    return interest


# -- commitment ---------------------------------------------------------------------------


def sources_for(actor: Actor) -> list[FundingSource]:
    """Funding sources the actor may commit from: their organisation's (every one for an admin)."""
    stmt = select(FundingSource).order_by(FundingSource.name, FundingSource.id)
    if not _is_admin(actor):
        if actor.role != Role.DONOR.value or actor.org_id is None:
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
    """Commit money from a donor's funding source: the project is linked to the source and,
    if it was in the pipeline, becomes active."""
    if not (_is_admin(actor) or (actor.role == Role.DONOR.value and actor.org_id == source.managing_org_id)):
        raise PermissionDenied("Commit only from a funding source your organisation manages")
    if project.status not in (ProjectStatus.PIPELINE, ProjectStatus.ACTIVE):
        raise ConflictError("This project is withdrawn or closed", {"status": [f"Status is {project.status.value}"]})
    currency = rules.currency(currency)
    _check_text({"description": description})
    value = money.parse_amount(amount, currency) if not isinstance(amount, Decimal) else amount
    if value <= 0:
        raise ValidationError("A commitment is above zero", {"amount": ["Must be above zero"]})
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
    if project.status is ProjectStatus.PIPELINE:
        projects.update_project(actor, project, {"status": ProjectStatus.ACTIVE})
    return tx


# -- saved searches -----------------------------------------------------------------------

SEARCH_KINDS = {"funding": "Funding sources for a need", "pipeline": "Pipeline projects"}
FUNDING_KEYS = ("country", "priority_area", "instrument", "amount", "currency")
PIPELINE_KEYS = ("source_id", "country", "priority_area", "instrument", "q")


def clean_search_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate a saved search's parameters the same way the live search does."""
    if kind not in SEARCH_KINDS:
        raise ValidationError(f"Unknown kind {kind!r}", {"kind": [f"One of {', '.join(SEARCH_KINDS)}"]})
    keys = FUNDING_KEYS if kind == "funding" else PIPELINE_KEYS
    unknown = set(params) - set(keys)
    if unknown:
        raise ValidationError("Unknown search parameters", {k: ["Unknown parameter"] for k in sorted(unknown)})
    clean = {k: str(v).strip() for k, v in params.items() if v not in (None, "")}
    for code in ("country", "currency"):  # stored as the codes are written everywhere else
        if code in clean:
            clean[code] = clean[code].upper()
    if kind == "funding":
        matching.build_need(
            clean.get("country"),
            clean.get("priority_area"),
            clean.get("instrument"),
            clean.get("amount"),
            clean.get("currency"),
        )
    else:
        pipeline_filters(clean)
        if "source_id" in clean:
            try:
                matching.get_source(int(clean["source_id"]))
            except ValueError:
                raise ValidationError("Not a funding source id", {"source_id": ["Not a number"]}) from None
    return clean


def pipeline_filters(params: dict[str, Any]) -> dict[str, Any]:
    """Check the marketplace filters (country, priority area, instrument, text)."""
    errors: dict[str, list[str]] = {}
    country = str(params.get("country") or "").strip().upper() or None
    if country and (not matching.looks_like_code(country) or db.session.get(Country, country) is None):
        errors["country"] = [f"Unknown country {country!r} (expected an ISO 3166 alpha-3 code)"]
    area = str(params.get("priority_area") or "").strip().lower() or None
    if area and (not matching.looks_like_code(area) or db.session.get(PriorityArea, area) is None):
        errors["priority_area"] = [f"Unknown priority area {area!r} (expected 23a-23l)"]
    instrument = str(params.get("instrument") or "").strip().lower() or None
    if instrument and instrument not in {i.value for i in Instrument}:
        errors["instrument"] = [f"Unknown instrument {instrument!r}"]
    text = str(params.get("q") or "")
    if "\x00" in text:
        errors["q"] = ["The text contains a NUL character"]
    if errors:
        raise ValidationError("The filters are not valid; see errors for each field", errors)
    return {
        "country": country,
        "priority_area": area,
        "instrument": instrument,
        "q": str(params.get("q") or "").strip() or None,
    }


def create_saved_search(actor: Actor, name: str, kind: str, params: dict[str, Any]) -> SavedSearch:
    """Save a search for the logged-in user, with a fresh secret feed token."""
    if actor.user_id is None:
        raise PermissionDenied("Log in to save searches")
    name = (name or "").strip()
    _check_text({"name": name})
    if not name:
        raise ValidationError("Give the search a name", {"name": ["Required"]})
    search = SavedSearch(
        user_id=actor.user_id,
        name=name[:200],
        kind=kind,
        params=clean_search_params(kind, dict(params)),
        token=secrets.token_urlsafe(32),
    )
    db.session.add(search)
    db.session.flush()
    audit.record(
        actor,
        "create",
        "saved_search",
        search.id,
        None,
        {"name": search.name, "kind": kind, "params": search.params},
        f"Saved search {search.name}",
    )
    return search


def saved_searches(actor: Actor) -> list[SavedSearch]:
    """The actor's own saved searches."""
    if actor.user_id is None:
        return []
    stmt = (
        select(SavedSearch)
        .where(SavedSearch.user_id == actor.user_id)
        .order_by(SavedSearch.created_at.desc(), SavedSearch.id.desc())
    )
    return list(db.session.scalars(stmt))


def get_saved_search(actor: Actor, search_id: int) -> SavedSearch:
    """One of the actor's saved searches (others' are reported as absent)."""
    search = db.session.get(SavedSearch, search_id)
    if search is None or (search.user_id != actor.user_id and not _is_admin(actor)):
        raise NotFoundError(f"No saved search with id {search_id}")
    return search


def search_by_token(token: str) -> SavedSearch:
    """The saved search a feed token opens, or NotFoundError."""
    search = db.session.scalar(select(SavedSearch).where(SavedSearch.token == token)) if token else None
    if search is None:
        raise NotFoundError("No saved search has this feed address (it may have been deleted)")
    return search


def delete_saved_search(actor: Actor, search: SavedSearch) -> None:
    audit.record(
        actor,
        "delete",
        "saved_search",
        search.id,
        {"name": search.name},
        None,
        f"Deleted saved search {search.name}",
    )
    db.session.delete(search)
    db.session.flush()


def mark_seen(actor: Actor, search: SavedSearch) -> None:
    """Remember that the user has seen the current matches (the CSV then lists only newer ones)."""
    search.last_seen_at = dt.datetime.now(dt.UTC)
    db.session.flush()


@dataclass
class FeedItem:
    """One match of a saved search, ready for a feed or a CSV row."""

    kind: str  # "source" or "project"
    id: int
    title: str
    created_at: dt.datetime
    updated_at: dt.datetime
    summary: str
    row: dict[str, Any]


def search_matches(search: SavedSearch, day: dt.date | None = None) -> list[FeedItem]:
    """The current matches of a saved search, in the search's own ranking."""
    day = day or dt.date.today()
    params = search.params or {}
    items = []
    if search.kind == "funding":
        need = matching.build_need(
            params.get("country"),
            params.get("priority_area"),
            params.get("instrument"),
            params.get("amount"),
            params.get("currency"),
            day,
        )
        for rank, m in enumerate(matching.find_funding(need).matches, start=1):
            met = [c.label for c in m.criteria if c.status == matching.MET]
            items.append(
                FeedItem(
                    "source",
                    m.source.id,
                    m.source.name,
                    m.source.created_at,
                    m.source.updated_at,
                    f"Score {m.score}; met: {', '.join(met)}",
                    {
                        "rank": rank,
                        "score": m.score,
                        "source_id": m.source.id,
                        "source_ref": m.source.ref,
                        "name": m.source.name,
                        "managing_organisation": m.source.managing_org.name,
                        **{c.key: c.status for c in m.criteria},
                        "committed_in_country_usd": str(m.committed_in_country),
                    },
                )
            )
        return items
    if params.get("source_id"):
        source = matching.get_source(int(params["source_id"]))
        found = matching.matching_projects(source, day)
        filters = pipeline_filters(params)
        keep = {p.id for p in matching.pipeline_projects(filters)}
        found = [m for m in found if m.project.id in keep]
    else:
        listed = matching.pipeline_projects(pipeline_filters(params))
        gaps = matching.funding_gaps(listed)
        found = [matching.ProjectMatch(p, [], gaps[p.id]) for p in listed]
    for rank, m in enumerate(found, start=1):
        p, gap = m.project, m.gap
        countries = [r.country_iso3 for r in p.recipients if r.country_iso3]
        items.append(
            FeedItem(
                "project",
                p.id,
                p.title,
                p.created_at,
                p.updated_at,
                f"{', '.join(countries)} · areas {', '.join(a.area_code for a in p.areas)} · "
                f"gap {money.format_amount(gap.gap_usd, 'USD')}",
                {
                    "rank": rank,
                    "score": m.score if m.criteria else "",
                    "project_id": p.id,
                    "title": p.title,
                    "countries": " ".join(countries),
                    "areas": " ".join(a.area_code for a in p.areas),
                    "instrument_sought": p.instrument_sought.value if p.instrument_sought else "",
                    "need": str(gap.need) if gap.need is not None else "",
                    "need_currency": gap.currency or "",
                    "gap": str(gap.gap) if gap.gap is not None else "",
                    "gap_usd": str(gap.gap_usd) if gap.gap_usd is not None else "",
                    "contact_email": p.contact_email or "",
                    "posted_at": p.created_at.isoformat(),
                },
            )
        )
    return items


def new_matches(search: SavedSearch, since: dt.datetime | None = None) -> list[FeedItem]:
    """Matches that appeared after ``since`` (default: when the search was last marked seen;
    for a search never marked seen, every current match is new to its owner)."""
    since = since or search.last_seen_at
    items = search_matches(search)
    return items if since is None else [item for item in items if item.created_at > since]
