"""Funding source pages (list, detail, forms) and organisation pages (list, detail)."""

from __future__ import annotations

from math import ceil

from flask import render_template, request
from flask_babel import gettext as _
from marshmallow import EXCLUDE
from marshmallow import ValidationError as SchemaError
from sqlalchemy import func, select

from registry import money
from registry.api.funding import source_query
from registry.api.organisations import org_query
from registry.auth import current_actor, current_user, login_required
from registry.errors import PermissionDenied
from registry.extensions import db
from registry.models import FundingSource, Organisation, Project, Transaction
from registry.models.types import Role
from registry.schemas.common import flatten
from registry.schemas.funding import FundingSourceIn, FundingSourceQuery
from registry.schemas.organisations import OrganisationQuery
from registry.services import funding as service
from registry.services import permissions, rights
from registry.services.projects import awaiting_confirmation
from registry.services.search import ProjectFilters, project_count_query, project_query, with_details
from registry.web import by_name, forms
from registry.web.choices import choices
from registry.web.deleted import load_or_deleted
from registry.web.projects import page_url, usd_totals
from registry.web.saving import ObjectPages
from registry.web.views import bp

PER_PAGE = 25


def _query_args(schema_cls) -> tuple[dict, dict]:
    raw = {k: v for k, v in request.args.items() if v != ""}
    try:
        return schema_cls(unknown=EXCLUDE).load(raw), {}
    except SchemaError as exc:
        errors = flatten(exc.messages)
        return schema_cls(unknown=EXCLUDE).load({}), errors


def _list_page(template: str, schema_cls, query_for, extra=lambda items: {}):
    """A filtered, paginated list read through the API's query schema and query; bad filters
    are reported on the page, not fatal. ``extra`` adds what the template needs of the items."""
    args, errors = _query_args(schema_cls)
    query, count = query_for(args)
    total = db.session.scalar(count) or 0
    pages = max(1, ceil(total / args["per_page"]))
    page = min(args["page"], pages)
    items = list(db.session.scalars(query.limit(args["per_page"]).offset((page - 1) * args["per_page"])))
    return render_template(
        template,
        items=items,
        total=total,
        page=page,
        pages=pages,
        page_url=page_url,
        args=args,
        filter_errors=errors,
        choices=choices(),
        **extra(items),
    )


# -- funding sources -----------------------------------------------------------


@bp.get("/funding-sources")
def funding_sources():
    """Funding sources with their kind, instruments and amounts."""
    user = current_user()
    can_create = user is not None and user.role in (Role.ADMIN, Role.DONOR)
    return _list_page("sources/list.html", FundingSourceQuery, source_query, lambda items: {"can_create": can_create})


@bp.get("/funding-sources/<int:source_id>")
def funding_source(source_id: int):
    """One funding source: its rules and the projects drawing on it."""
    source = load_or_deleted(FundingSource, source_id, "funding source")
    usd = dict(
        db.session.execute(
            select(Transaction.type, func.sum(Transaction.usd_minor))
            .where(Transaction.funding_source_id == source.id)
            .group_by(Transaction.type)
        ).all()
    )
    filters = ProjectFilters(funding_source_id=source.id, sort="-start")
    projects = list(db.session.scalars(with_details(project_query(filters)).limit(50)))
    can_edit = permissions.can_edit_source(current_user(), source)
    return render_template(
        "sources/detail.html",
        source=source,
        # Flows other organisations recorded against this source, for its organisation to confirm.
        awaiting=awaiting_confirmation(source.managing_org_id, source.id) if can_edit else [],
        usd={k.value: money.from_minor(v or 0, "USD") for k, v in usd.items()},
        projects=projects,
        project_count=db.session.scalar(project_count_query(filters)),
        totals=usd_totals([p.id for p in projects]),
        can_edit=can_edit,
    )


def state_from_source(source: FundingSource) -> dict:
    values = {key: "" if getattr(source, key) is None else str(getattr(source, key)) for key in service.SCALAR_FIELDS}
    values["kind"] = source.kind.value
    values["amount_currency"] = source.amount_currency
    for key in ("min", "max"):
        minor = getattr(source, f"{key}_amount_minor")
        values[f"{key}_amount"] = "" if minor is None else str(money.from_minor(minor, source.amount_currency))
    values["countries"] = ", ".join(c.iso3 for c in source.countries)
    values["regions"] = ", ".join(r.code for r in source.regions)
    values["version"] = str(source.version)
    return {
        "fields": values,
        "instruments": source.instruments,
        "areas": [a.code for a in source.areas],
        "categories": [c.code for c in source.categories],
    }


def state_from_form() -> dict:
    form = request.form
    return {
        "fields": form.to_dict(),
        "instruments": form.getlist("instruments"),
        "areas": form.getlist("areas"),
        "categories": form.getlist("categories"),
    }


def render_source_form(state: dict, errors, source: FundingSource | None):
    return render_template(
        "sources/form.html",
        source=source,
        state=state,
        errors=errors.errors if errors else {},
        message=errors.message if errors else None,
        choices=choices(),
        is_admin=current_user().role is Role.ADMIN,
    ), (422 if errors else 200)


def _save_source(source: FundingSource | None) -> FundingSource:
    """Validate the posted form and add or change the source (not committed); FormErrors on bad input."""
    user = current_user()
    data = forms.validate(
        FundingSourceIn(),
        forms.source_data(request.form),
        lists=("countries", "regions", "areas", "categories", "instruments"),
    )
    if source is None:
        rights.check_new_source(user, data)
        return service.create_funding_source(current_actor(), data)
    if data.get("managing_org_id") is None:
        data.pop("managing_org_id", None)
    else:
        rights.forbid_unless(
            permissions.can_create_source(user, data["managing_org_id"]),
            _("You may not hand the funding source to another organisation"),
        )
    return service.update_funding_source(current_actor(), source, data, forms.version_of(request.form))


SOURCE_PAGES = ObjectPages(
    model=FundingSource,
    id_arg="source_id",
    to_change=rights.source_to_change,
    save=_save_source,
    remove=service.delete_funding_source,
    render=render_source_form,
    state_of=state_from_source,
    posted_state=state_from_form,
    detail="web.funding_source",
    listing="web.funding_sources",
    name=lambda source: source.name,
)


@bp.route("/funding-sources/new", methods=["GET", "POST"])
@login_required
def funding_source_new():
    """Add a funding source your organisation manages."""
    user = current_user()
    if user.role not in (Role.ADMIN, Role.DONOR):
        raise PermissionDenied(_("Your role does not allow adding funding sources"))
    values = {"amount_currency": "USD", "managing_org_id": str(user.org_id or "")}
    return SOURCE_PAGES.new({"fields": values, "instruments": [], "areas": [], "categories": []})


@bp.route("/funding-sources/<int:source_id>/edit", methods=["GET", "POST"])
@login_required
def funding_source_edit(source_id: int):
    """Change a funding source's rules."""
    return SOURCE_PAGES.edit(source_id)


@bp.post("/funding-sources/<int:source_id>/delete")
@login_required
def funding_source_delete(source_id: int):
    """Delete a funding source; transactions keep their amounts and lose the link."""
    return SOURCE_PAGES.delete(source_id)


# -- organisations -----------------------------------------------------------


@bp.get("/organisations")
def organisations():
    """Donors, funds, governments and implementers, with their number of projects."""

    def project_counts(items: list[Organisation]) -> dict:
        query = (
            select(Project.org_id, func.count(Project.id))
            .where(Project.org_id.in_([o.id for o in items]))
            .group_by(Project.org_id)
        )
        return {"counts": dict(db.session.execute(query).all())}

    return _list_page("orgs/list.html", OrganisationQuery, org_query, project_counts)


@bp.get("/organisations/<int:org_id>")
def organisation(org_id: int):
    """One organisation: its projects, the funding sources it manages and its money flows."""
    org = load_or_deleted(Organisation, org_id, "organisation")
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 100_000))
    filters = ProjectFilters(org_id=org.id, sort="-start")
    total = db.session.scalar(project_count_query(filters)) or 0
    pages = max(1, ceil(total / PER_PAGE))
    page = min(page, pages)
    projects = list(
        db.session.scalars(with_details(project_query(filters)).limit(PER_PAGE).offset((page - 1) * PER_PAGE))
    )
    sources = by_name(
        db.session.scalars(select(FundingSource).where(FundingSource.managing_org_id == org.id)), lambda s: s.name
    )
    usd = dict(
        db.session.execute(
            select(Transaction.type, func.sum(Transaction.usd_minor))
            .join(Project, Project.id == Transaction.project_id)
            .where(Project.org_id == org.id)
            .group_by(Transaction.type)
        ).all()
    )
    return render_template(
        "orgs/detail.html",
        org=org,
        projects=projects,
        totals=usd_totals([p.id for p in projects]),
        sources=sources,
        usd={k.value: money.from_minor(v or 0, "USD") for k, v in usd.items()},
        total=total,
        page=page,
        pages=pages,
        page_url=page_url,
        can_create_source=permissions.can_create_source(current_user(), org.id),
    )
