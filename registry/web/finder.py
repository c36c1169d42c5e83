"""Pages of the funding finder and the pipeline marketplace, and the saved-search feeds."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from math import ceil
from typing import Any, NamedTuple

from flask import (
    Blueprint,
    Response,
    abort,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from registry.auth import Unauthorised, current_actor, current_user, roles_required
from registry.errors import RegistryError, ValidationError
from registry.extensions import db
from registry.models import Country, FundingSource, Organisation, PriorityArea, Project, SavedSearch
from registry.models.types import Instrument, OrganisationKind, ProjectStatus, Role, label
from registry.money import convertible_currencies, format_amount
from registry.services import marketplace, matching
from registry.services.actor import Actor
from registry.services.matching.wording import all_of
from registry.web import by_name, country_label, infrastructure_choices, region_label, scope_choices
from registry.web.choices import choices
from registry.web.forms import FormErrors
from registry.web.links import has_endpoint, project_url, source_url
from registry.web.projects import page_url
from registry.web.saving import reloaded, save

bp = Blueprint("finder", __name__, template_folder="templates")


def requires(*roles: Role) -> Callable:
    """roles_required, answering 401 instead of redirecting while no login page exists."""

    def decorator(view: Callable) -> Callable:
        guarded = roles_required(*roles)(view)

        @wraps(view)
        def wrapped(*args, **kwargs):
            if current_user() is None and not has_endpoint("auth.login"):
                raise Unauthorised(_("Log in to do this"))
            return guarded(*args, **kwargs)

        return wrapped

    return decorator


@bp.app_context_processor
def finder_helpers() -> dict[str, Any]:
    return {"project_url": project_url, "source_url": source_url}


def _choices() -> dict[str, Any]:
    """Options of the forms: countries (named in the reader's language, in their alphabetical
    order), areas, instruments, currencies."""
    countries = db.session.scalars(select(Country).where(Country.dac_recipient.is_(True))).all()
    return {
        "countries": by_name([CountryOption(c.iso3, country_label(c)) for c in countries], lambda c: c.name),
        "areas": db.session.scalars(select(PriorityArea).order_by(PriorityArea.code)).all(),
        "instruments": [i.value for i in Instrument],
        "currencies": convertible_currencies(),
        "regions": choices().regions,
    }


class CountryOption(NamedTuple):
    iso3: str
    name: str


def _day(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            _("The date is not valid"), {"date": [_("%(text)s is not a date (YYYY-MM-DD)", text=repr(text))]}
        ) from None


# -- find funding -------------------------------------------------------------------------


@bp.get("/find-funding")
def find_funding():
    """The "Find funding" form and, once a country is chosen, the ranked sources."""
    user = current_user()
    args = request.args
    given = args.getlist("country") if "country" in args else [user.country_iso3 if user and user.country_iso3 else ""]
    form = {
        # several countries (a multiple select, or codes separated by commas): one cross-border project
        "country": [c.upper() for c in matching.codes_of(given)],
        "region": matching.codes_of(args.getlist("region")),
        "priority_area": args.getlist("priority_area"),
        "instrument": args.get("instrument", ""),
        "amount": args.get("amount", ""),
        "currency": args.get("currency", "USD"),
        "date": args.get("date", ""),
    }
    result, errors, status, country_name = None, {}, 200, ""
    if "country" in args or "region" in args:
        try:
            need = matching.build_need(
                form["country"],
                form["priority_area"],
                form["instrument"] or None,
                form["amount"] or None,
                form["currency"] if form["amount"] else None,
                _day(form["date"]),
                region=form["region"],
            )
            result = matching.find_funding(need)
            country_name = all_of(
                [country_label(db.session.get(Country, iso3)) for iso3 in need.countries]
                + [region_label(code) for code in need.regions]
            )
        except ValidationError as exc:
            errors, status = exc.errors, 422
    return (
        render_template(
            "finder/find.html",
            form=form,
            weights=matching.WEIGHTS,
            max_bonus=matching.MAX_BONUS,
            max_score=matching.MAX_SCORE,
            result=result,
            country_name=country_name,
            sought_for=_sought_for(args.get("project"), form),
            errors=errors,
            search_params={
                "country": ",".join(form["country"]),
                "region": ",".join(form["region"]),
                "priority_area": ",".join(form["priority_area"]),
                "instrument": form["instrument"],
                "amount": form["amount"],
                "currency": form["currency"] if form["amount"] else "",
            },
            **_choices(),
        ),
        status,
    )


# -- the marketplace ----------------------------------------------------------------------


PIPELINE_PER_PAGE = 50


@bp.get("/pipeline")
def pipeline():
    """Pipeline projects seeking funding until their need is covered, with filters and each
    one's remaining gap (sortable)."""
    keys = ("region", "scope", "priority_area", "instrument", "q", "has_commitments", "min_gap", "sort")
    args = {k: request.args.get(k, "") for k in keys}
    # several countries: a multiple select, or codes separated by commas
    args["countries"] = [c.upper() for c in matching.codes_of(request.args.getlist("country"))]
    args["country"] = ",".join(args["countries"])
    errors, listing, status = {}, marketplace.Listing([], {}), 200
    page = request.args.get("page", 1, type=int)
    page = page if page is not None and 1 <= page <= 1_000_000 else 1
    try:
        filters = marketplace.pipeline_filters(args)
        listing = marketplace.open_projects(filters, page, PIPELINE_PER_PAGE)
        pages = max(1, ceil(listing.total / PIPELINE_PER_PAGE))
        if page > pages:  # past the end (the list got shorter): the last page
            page = pages
            listing = marketplace.open_projects(filters, page, PIPELINE_PER_PAGE)
    except ValidationError as exc:
        errors, status = exc.errors, 422
    return (
        render_template(
            "finder/pipeline.html",
            projects=listing.projects,
            total=listing.total,
            page=page,
            pages=max(1, ceil(listing.total / PIPELINE_PER_PAGE)),
            page_url=page_url,
            gaps=listing.gaps,
            committed={p.id for p in listing.projects if marketplace.has_commitments(listing.gaps[p.id])},
            form=args,
            errors=errors,
            can_post=_may_post(),
            scopes=scope_choices(),
            **_choices(),
        ),
        status,
    )


def _may_post() -> bool:
    user = current_user()
    return user is not None and user.role in (Role.GOVERNMENT, Role.ADMIN)


def _pipeline_form_data(form) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": form.get("title", "").strip(),
        "description": form.get("description", "").strip(),
        "areas": form.getlist("areas"),
        "instrument_sought": form.get("instrument_sought") or None,
        "contact_name": form.get("contact_name", "").strip() or None,
        "contact_email": form.get("contact_email", "").strip() or None,
        "need": {
            "amount": form.get("need_amount", "").strip(),
            "currency": form.get("need_currency", "USD"),
        },
    }
    for key in ("planned_start", "planned_end"):
        text = form.get(key, "").strip()
        try:
            data[key] = dt.date.fromisoformat(text) if text else None
        except ValueError:
            message = _("%(text)s is not a date", text=repr(text))
            raise ValidationError(_("A date is not valid"), {key: [message]}) from None
    if form.get("country"):
        # a cross-border project: the country, and the other countries it serves
        partners = [c for c in form.getlist("partners") if c and c != form["country"]]
        data["country"] = ",".join([form["country"], *partners])
    for key in ("scope", "infrastructure"):
        if key in form:
            data[key] = form.get(key) or None
    return data


def _governments() -> list[Organisation]:
    governments = db.session.scalars(select(Organisation).where(Organisation.kind == OrganisationKind.GOVERNMENT))
    return by_name(governments, lambda org: org.name)


@bp.route("/pipeline/new", methods=["GET", "POST"])
@requires(Role.GOVERNMENT, Role.ADMIN)
def pipeline_new():
    """A government posts a pipeline project for its country."""
    user = current_user()
    if request.method == "POST":

        def post() -> Project:
            org = None
            if user.role is Role.ADMIN:
                org = db.session.get(Organisation, request.form.get("org_id", type=int) or 0)
            return marketplace.post_pipeline_project(current_actor(), _pipeline_form_data(request.form), org)

        return save(
            post,
            _("Your pipeline project is published: donors can now find it."),
            lambda project: url_for("finder.pipeline_project", project_id=project.id),
            refused=lambda errors: _pipeline_form(None, _posted_values(), errors),
        )
    return _pipeline_form(None, {"country": user.country_iso3 or "", "need_currency": "USD", "areas": []})


def _posted_values() -> dict[str, Any]:
    """The pipeline form as posted, to show again with its errors."""
    values: dict[str, Any] = request.form.to_dict()
    values["areas"] = request.form.getlist("areas")
    values["partners"] = request.form.getlist("partners")
    return values


def _pipeline_form(project: Project | None, values: dict[str, Any], errors: FormErrors | None = None):
    """The pipeline project form (administrators posting a new one choose the government)."""
    admin_posts = project is None and current_user().role is Role.ADMIN
    return render_template(
        "finder/pipeline_form.html",
        project=project,
        scopes=scope_choices(),
        infrastructures=infrastructure_choices(),
        values=values,
        errors=errors.errors if errors else {},
        message=errors.message if errors else None,
        governments=_governments() if admin_posts else [],
        **_choices(),
    ), (422 if errors else 200)


@bp.route("/pipeline/<int:project_id>/edit", methods=["GET", "POST"])
@requires(Role.GOVERNMENT, Role.ADMIN)
def pipeline_edit(project_id: int):
    """The government changes its pipeline project."""
    project = marketplace.get_pipeline_project(project_id)
    actor = current_actor()
    if not marketplace.can_edit_pipeline(actor, project) or project.status is not ProjectStatus.PIPELINE:
        abort(403, _("Only the country's government may change this pipeline project while it is open"))
    if request.method == "POST":
        return save(
            lambda: marketplace.update_pipeline_project(
                actor, project, _pipeline_form_data(request.form), request.form.get("version", type=int)
            ),
            _("Changes saved."),
            url_for("finder.pipeline_project", project_id=project_id),
            refused=lambda errors: _pipeline_form(reloaded(Project, project_id), _posted_values(), errors),
        )
    gap = matching.funding_gaps([project])[project.id]
    countries = [r.country_iso3 for r in project.recipients if r.country_iso3]
    user = current_user()
    own = user.country_iso3 if user.country_iso3 in countries else (countries[0] if countries else "")
    values = {
        "title": project.title,
        "description": project.description,
        "country": own,
        "partners": [c for c in countries if c != own],
        "scope": project.scope or "",
        "infrastructure": project.infrastructure or "",
        "areas": [a.area_code for a in project.areas],
        "instrument_sought": project.instrument_sought.value if project.instrument_sought else "",
        "need_amount": str(gap.need) if gap.need is not None else "",
        "need_currency": gap.currency or "USD",
        "planned_start": project.planned_start.isoformat() if project.planned_start else "",
        "planned_end": project.planned_end.isoformat() if project.planned_end else "",
        "contact_name": project.contact_name or "",
        "contact_email": project.contact_email or "",
    }
    return _pipeline_form(project, values)


@bp.get("/pipeline/<int:project_id>")
def pipeline_project(project_id: int):
    """A project seen from the marketplace: need, gap, contact, interest, and who has
    committed (organisation, funding source, amount, date) so that donors can coordinate."""
    project = marketplace.get_pipeline_project(project_id)
    actor = current_actor()
    gap = matching.funding_gaps([project])[project.id]
    interested = marketplace.interests(project)
    commitments = marketplace.commitments_to(project)
    return render_template(
        "finder/project.html",
        project=project,
        gap=gap,
        can_edit=project.status is ProjectStatus.PIPELINE and marketplace.can_edit_pipeline(actor, project),
        can_see_interests=marketplace.can_see_interests(actor, project),
        can_see_who=marketplace.can_see_who_is_interested(actor),
        withdrawn=marketplace.was_withdrawn(project),
        interested=interested,
        my_interest=marketplace.interest_of(project, actor.org_id),
        may_express=actor.role in (Role.DONOR, Role.ADMIN) and actor.org_id is not None,
        my_sources=by_name(marketplace.sources_for(actor), lambda s: s.name),
        commitments=[(t, marketplace.committer(t)) for t in commitments],
        today=dt.date.today().isoformat(),
        currencies=convertible_currencies(),
        finder_link=_finder_link(project, gap),
    )


def _finder_link(project, gap) -> str | None:
    """The finder's search for this project: its country, areas, instrument and remaining gap."""
    countries = [r.country_iso3 for r in project.recipients if r.country_iso3]
    regions = [r.region_code for r in project.recipients if r.region_code]
    if not countries and not regions:
        return None
    # a cross-border project is sought for as one need over all its countries
    params: dict[str, Any] = {"country": countries, "priority_area": [a.area_code for a in project.areas]}
    if regions:
        params["region"] = regions
    if project.instrument_sought:
        params["instrument"] = project.instrument_sought.value
    if gap.gap is not None and gap.gap > 0 and gap.currency:
        params.update(amount=str(gap.gap), currency=gap.currency, project=project.id)
    return url_for("finder.find_funding", **params)


def _sought_for(project_id: str | None, form: dict[str, Any]) -> dict[str, Any] | None:
    """When the finder runs for a pipeline project with its remaining gap as the amount: the
    project and its need, committed amount and gap, to say where the amount comes from."""
    if not project_id or not project_id.isdigit() or not form["amount"]:
        return None
    project = db.session.get(Project, int(project_id))
    if project is None or project.status is not ProjectStatus.PIPELINE:
        return None
    gap = matching.funding_gaps([project])[project.id]
    if gap.gap is None or gap.currency != form["currency"] or str(gap.gap) != form["amount"]:
        return None  # the reader changed the amount: it is no longer the project's gap
    return {"project": project, "gap": gap}


def _back(project_id: int) -> str:
    return url_for("finder.pipeline_project", project_id=project_id)


@bp.post("/pipeline/<int:project_id>/withdraw")
@requires(Role.GOVERNMENT, Role.ADMIN)
def pipeline_withdraw(project_id: int):
    project = marketplace.get_pipeline_project(project_id)
    return save(
        lambda: marketplace.withdraw_pipeline_project(current_actor(), project),
        _("The project is withdrawn from the marketplace."),
        _back(project_id),
    )


@bp.post("/pipeline/<int:project_id>/interest")
@requires(Role.DONOR, Role.ADMIN)
def interest_add(project_id: int):
    project = marketplace.get_pipeline_project(project_id)
    return save(
        lambda: marketplace.express_interest(current_actor(), project, request.form.get("note", "")),
        _("Your interest is recorded; the government can see it and contact you."),
        _back(project_id),
    )


@bp.post("/pipeline/<int:project_id>/interest/<int:interest_id>/withdraw")
@requires()
def interest_withdraw(project_id: int, interest_id: int):
    project = marketplace.get_pipeline_project(project_id)
    interest = marketplace.get_interest(project, interest_id)
    return save(
        lambda: marketplace.withdraw_interest(current_actor(), interest),
        _("Interest withdrawn."),
        _back(project_id),
    )


@bp.post("/pipeline/<int:project_id>/commit")
@requires(Role.DONOR, Role.ADMIN)
def commit(project_id: int):
    """A donor commits money from one of its funding sources; the project stays listed with
    its remaining gap until its need is covered, then becomes active."""
    project = marketplace.get_pipeline_project(project_id)
    form = request.form
    source = matching.get_source(form.get("funding_source_id", type=int) or 0)
    return save(
        lambda: marketplace.commit_to_pipeline_project(
            current_actor(),
            project,
            source,
            form.get("amount", "").strip(),
            form.get("currency", ""),
            _day(form.get("value_date", "").strip()),
        ),
        lambda _tx: _committed_message(project, source),
        _back(project_id),
    )


def _committed_message(project: Project, source: FundingSource) -> str:
    if project.status is ProjectStatus.PIPELINE:
        return _(
            "Commitment recorded from %(source)s; the project stays listed for co-financing until its need is covered.",
            source=source.name,
        )
    return _("Commitment recorded from %(source)s; the project is now active.", source=source.name)


# -- the donor side -----------------------------------------------------------------------


@bp.get("/my-funds")
@requires(Role.DONOR, Role.ADMIN)
def my_funds():
    """The donor's funding sources, each with its count of matching pipeline projects."""
    sources = by_name(marketplace.sources_for(current_actor()), lambda s: s.name)
    found = matching.matching_projects_by_source(sources)
    counts = {s.id: len(found[s]) for s in sources}
    return render_template("finder/my_funds.html", sources=sources, counts=counts)


@bp.get("/pipeline/for-source/<int:source_id>")
def source_matches(source_id: int):
    """Pipeline projects matching a funding source, ranked, criterion by criterion."""
    source = matching.get_source(source_id)
    include = request.args.get("all") == "1"
    found = matching.matching_projects(source, include_failing=include)
    return render_template(
        "finder/source_matches.html",
        source=source,
        found=found,
        include=include,
        rule=_(
            "Score: eligibility 30, priority area 30, instrument 20, amount 20 (the remaining gap within "
            "the source's range), window 10, plus 10 when the fund already committed money in the "
            "country. Ties: larger remaining gap first, then title."
        ),
    )


# -- saved searches and feeds -------------------------------------------------------------


@bp.get("/saved-searches")
@requires()
def saved_searches():
    """The user's saved searches with their Atom and CSV addresses."""
    searches = marketplace.saved_searches(current_actor())
    return render_template(
        "finder/saved_searches.html",
        searches=searches,
        # the kinds of marketplace.SEARCH_KINDS, in the reader's language
        kinds={"funding": _("Funding sources for a need"), "pipeline": _("Pipeline projects")},
        search_link=lambda search: _search_link(search, external=False),
        criteria=_criteria_words,
    )


def _criteria_words(params: dict) -> list[str]:
    """A saved search's criteria as a reader says them: 'Nepal', '23b Remote access &
    connectivity', 'Grant', '2,500,000.00 EUR', 'Fund: Digital Solidarity Fund'."""
    params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
    shown = []
    for code in matching.codes_of(params.get("country")):
        country = db.session.get(Country, code)
        shown.append(country_label(country) if country else code)
    for code in matching.codes_of(params.get("region")):
        shown.append(region_label(code))
    if params.get("priority_area"):
        codes = str(params["priority_area"]).split(",")
        names = dict(db.session.execute(select(PriorityArea.code, PriorityArea.short_name)).all())
        shown.append(", ".join(f"{c} {names.get(c, '')}".strip() for c in codes))
    if params.get("instrument"):
        shown.append(label(params["instrument"]))
    if params.get("amount"):
        currency = str(params.get("currency") or "").upper()
        try:
            shown.append(format_amount(Decimal(str(params["amount"])), currency))
        except (ArithmeticError, RegistryError):  # a search stored before its values were checked
            shown.append(f"{params['amount']} {currency}".strip())
    if params.get("source_id"):
        source_id = str(params["source_id"])
        source = db.session.get(FundingSource, int(source_id)) if source_id.isdigit() else None
        shown.append(_("Fund: %(name)s", name=source.name) if source else _("Fund %(id)s", id=source_id))
    if params.get("q"):
        shown.append(_("Words: %(words)s", words=params["q"]))
    return shown


@bp.post("/saved-searches")
@requires()
def saved_search_create():
    form = request.form
    kind = form.get("kind", "")
    keys = marketplace.FUNDING_KEYS if kind == "funding" else marketplace.PIPELINE_KEYS
    params = {k: form.get(k, "") for k in keys if form.get(k)}
    return save(
        lambda: marketplace.create_saved_search(current_actor(), form.get("name", ""), kind, params),
        lambda search: _("Saved “%(name)s”. Subscribe to its feed to hear of new matches.", name=search.name),
        url_for("finder.saved_searches"),
    )


@bp.post("/saved-searches/<int:search_id>/delete")
@requires()
def saved_search_delete(search_id: int):
    return _on_saved_search(
        search_id, marketplace.delete_saved_search, _("Saved search deleted; its feed address no longer works.")
    )


@bp.post("/saved-searches/<int:search_id>/seen")
@requires()
def saved_search_seen(search_id: int):
    return _on_saved_search(
        search_id, marketplace.mark_seen, _("Marked as seen: the CSV now lists only matches newer than this.")
    )


def _on_saved_search(search_id: int, change: Callable[[Actor, SavedSearch], Any], done: str):
    """Apply ``change`` to one of the user's own saved searches, and go back to the list."""
    actor = current_actor()
    search = marketplace.get_saved_search(actor, search_id)
    return save(lambda: change(actor, search), done, url_for("finder.saved_searches"))


def _search_link(search, external: bool = True) -> str:
    """The page that runs the saved search again."""
    params = {k: v for k, v in (search.params or {}).items() if v}
    if search.kind == "funding":
        areas = params.pop("priority_area", "")
        return url_for(
            "finder.find_funding",
            _external=external,
            **params,
            **({"priority_area": areas.split(",")} if areas else {}),
        )
    if str(params.get("source_id") or "").isdigit():
        return url_for("finder.source_matches", source_id=int(params["source_id"]), _external=external)
    return url_for("finder.pipeline", _external=external, **params)


def _item_link(item: marketplace.FeedItem) -> str:
    if item.kind == "project":
        return url_for("finder.pipeline_project", project_id=item.id, _external=True)
    return source_url(item.id, external=True) or url_for("finder.find_funding", _external=True) + f"#source-{item.id}"


@bp.get("/feeds/saved-searches/<token>.atom")
def search_feed(token: str):
    """Atom feed of a saved search's matches (no login: the token in the address is the key)."""
    search = marketplace.search_by_token(token)
    items = marketplace.search_matches(search)
    updated = max([i.updated_at for i in items] + [search.created_at])
    body = render_template(
        "finder/feed.atom.xml",
        search=search,
        items=items,
        updated=updated,
        self_url=url_for("finder.search_feed", token=token, _external=True),
        link=_search_link(search),
        item_link=_item_link,
    )
    return Response(body, mimetype="application/atom+xml")


@bp.get("/feeds/saved-searches/<token>.csv")
def search_csv(token: str):
    """CSV of the matches that are new since the search was last marked seen (or ``since``)."""
    search = marketplace.search_by_token(token)
    since = None
    if request.args.get("since"):
        day = _day(request.args["since"])
        since = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    items = marketplace.new_matches(search, since)
    out = io.StringIO()
    rows = [dict(i.row, link=_item_link(i), first_seen=i.created_at.isoformat()) for i in items]
    header = list(rows[0]) if rows else ["rank", "title", "link", "first_seen"]
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    filename = f"saved-search-{search.id}-new.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
