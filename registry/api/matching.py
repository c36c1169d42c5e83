"""The funding finder, pipeline projects (the marketplace) and saved searches, under /api/v1."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from registry.api.common import check_if_match, commit, page_headers, version_etag
from registry.auth import current_actor, roles_required
from registry.errors import NotFoundError
from registry.extensions import db
from registry.models import FundingSource, Organisation, PipelineInterest, Project, SavedSearch
from registry.models.types import Role
from registry.schemas.matching import (
    CommitmentIn,
    CommitmentOut,
    DateQuery,
    InterestIn,
    InterestOut,
    MatchingProjectsOut,
    MatchQuery,
    MatchResultOut,
    PipelineProjectIn,
    PipelineProjectOut,
    PipelineProjectPatch,
    PipelineQuery,
    SavedSearchIn,
    SavedSearchOut,
)
from registry.services import marketplace, matching
from registry.services.lookup import not_found
from registry.web.links import project_url

blp = Blueprint(
    "finder_api",
    __name__,
    url_prefix="/api/v1",
    description="Funding finder and pipeline marketplace",
)

RANKING_RULE = (
    "score = 30 eligibility + 30 area + 20 instrument + 20 amount + 10 window (met criteria only) "
    "+ evidence bonus (10 country, else 5 region; + 5 area); several countries: eligible when every one "
    "is, the bonus for any of them; ties: score desc, USD committed in "
    "the country desc, name, id. See docs/funding-finder.md"
)
PROJECT_RULE = (
    "score = 30 eligibility + 30 area + 20 instrument + 20 amount (remaining gap) + 10 window "
    "+ 10 if the source already committed in the country; ties: score desc, gap USD desc, title, id"
)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def need_query(need: matching.Need, amount_usd: Decimal | None) -> dict:
    """The need the finder judged, as the API gives it back (``country``: the first one)."""
    return {
        "country": need.countries[0] if need.countries else None,
        "countries": need.countries,
        "regions": need.regions,
        "priority_areas": need.areas,
        "instrument": need.instrument,
        "amount": _text(need.amount),
        "currency": need.currency,
        "amount_usd": _text(amount_usd),
        "date": need.day,
    }


def criterion_out(c: matching.Criterion) -> dict:
    return {"key": c.key, "label": c.label, "status": c.status, "hard": c.hard, "reason": c.reason}


def source_out(source: FundingSource) -> dict:
    org = source.managing_org
    return {
        "id": source.id,
        "ref": source.ref,
        "name": source.name,
        "kind": source.kind.value,
        "managing_org": {"id": org.id, "ref": org.ref, "name": org.name},
        "instruments": source.instruments,
    }


def _figures(figures: dict[str, matching.Figures]) -> dict:
    return {k: {"usd": str(f.usd), "projects": f.projects} for k, f in figures.items()}


def match_out(m: matching.SourceMatch, rank: int | None) -> dict:
    ev = m.evidence
    return {
        "rank": rank,
        "source": source_out(m.source),
        "eligible": m.eligible,
        "score": m.score,
        "failed": [c.key for c in m.failed],
        "criteria": [criterion_out(c) for c in m.criteria],
        "evidence": {
            "since": ev.since,
            "until": ev.until,
            "region_code": ev.region_code,
            "region_codes": ev.region_codes,
            "region_name": ev.region_name,
            "source": _figures(ev.source),
            "managing_org": _figures(ev.org),
        },
        "similar_projects": [
            {
                "project_id": s.project_id,
                "title": s.title,
                "countries": s.countries,
                "areas": s.areas,
                "committed_usd": str(s.committed_usd),
                "same_country": s.same_country,
                "url": project_url(s.project_id, external=True),
            }
            for s in m.similar
        ],
    }


def gap_out(gap: matching.Gap) -> dict:
    return {
        "need": _text(gap.need),
        "currency": gap.currency,
        "committed": _text(gap.committed),
        "gap": _text(gap.gap),
        "need_usd": _text(gap.need_usd),
        "committed_usd": str(gap.committed_usd),
        "gap_usd": _text(gap.gap_usd),
    }


def _org_ref(org: Organisation | None) -> dict | None:
    return None if org is None else {"id": org.id, "ref": org.ref, "name": org.name}


def commitment_ref_out(tx) -> dict:
    source = tx.funding_source
    return {
        "transaction_id": tx.id,
        "org": _org_ref(marketplace.committer(tx)),
        "funding_source": None if source is None else {"id": source.id, "ref": source.ref, "name": source.name},
        "amount": str(tx.amount),
        "currency": tx.currency,
        "usd": _text(tx.usd_amount),
        "value_date": tx.value_date,
    }


def project_out(
    project: Project,
    gap: matching.Gap | None = None,
    commitments: list | None = None,
    interested: list[PipelineInterest] | None = None,
) -> dict:
    """A pipeline project with its remaining gap, who has committed and who is interested
    (organisations named to logged-in readers; notes stay with the government)."""
    gap = gap or matching.funding_gaps([project])[project.id]
    if commitments is None:
        commitments = marketplace.commitments_to(project)
    if interested is None:
        interested = marketplace.interests(project)
    named = marketplace.can_see_who_is_interested(current_actor())
    org = project.org
    return {
        "id": project.id,
        "reference": project.reference,
        "title": project.title,
        "description": project.description,
        "status": project.status.value,
        "org": {"id": org.id, "ref": org.ref, "name": org.name},
        "countries": [r.country_iso3 for r in project.recipients if r.country_iso3],
        "regions": [r.region_code for r in project.recipients if r.region_code],
        "scope": project.effective_scope,
        "scope_derived": project.scope_derived,
        "infrastructure": project.infrastructure,
        "areas": [a.area_code for a in project.areas],
        "instrument_sought": project.instrument_sought.value if project.instrument_sought else None,
        "planned_start": project.planned_start,
        "planned_end": project.planned_end,
        "contact_name": project.contact_name,
        "contact_email": project.contact_email,
        "gap": gap_out(gap),
        "commitments": [commitment_ref_out(t) for t in commitments],
        "interested": [{"org": _org_ref(i.org), "created_at": i.created_at} for i in interested] if named else [],
        "interest_count": len(interested),
        "version": project.version,
        "created_at": project.created_at,
        "url": url_for("finder.pipeline_project", project_id=project.id, _external=True),
    }


def interest_out(interest: PipelineInterest) -> dict:
    org = interest.org
    return {
        "id": interest.id,
        "project_id": interest.project_id,
        "org": {"id": org.id, "ref": org.ref, "name": org.name},
        "user_email": interest.user.email if interest.user else None,
        "note": interest.note,
        "created_at": interest.created_at,
    }


def search_out(search: SavedSearch) -> dict:
    return {
        "id": search.id,
        "name": search.name,
        "kind": search.kind,
        "params": search.params,
        "created_at": search.created_at,
        "last_seen_at": search.last_seen_at,
        "alert_frequency": search.alert_frequency,
        "atom_url": url_for("finder.search_feed", token=search.token, _external=True),
        "csv_url": url_for("finder.search_csv", token=search.token, _external=True),
    }


# -- finder -------------------------------------------------------------------------------


@blp.route("/funding-sources/match")
class FundingMatch(MethodView):
    @blp.arguments(MatchQuery, location="query", unknown=RAISE)
    @blp.response(200, MatchResultOut)
    def get(self, args):
        """Funding sources ranked by fit to a need, each criterion explained; failing ones apart."""
        need = matching.build_need(
            args["country"],
            args["priority_area"],
            args["instrument"],
            args["amount"],
            args["currency"],
            args["date"],
            region=args["region"],
        )
        result = matching.find_funding(need)
        return {
            "query": need_query(need, result.amount_usd),
            "ranking_rule": RANKING_RULE,
            "matches": [match_out(m, i) for i, m in enumerate(result.matches, start=1)],
            "failing": [match_out(m, None) for m in result.failing],
        }


@blp.route("/funding-sources/<int:source_id>/matching-projects")
class MatchingProjects(MethodView):
    @blp.arguments(DateQuery, location="query", unknown=RAISE)
    @blp.response(200, MatchingProjectsOut)
    def get(self, args, source_id: int):
        """Pipeline projects that fit the source's eligibility, ranked, with their remaining gap."""
        source = matching.get_source(source_id)
        day = args["date"] or dt.date.today()
        found = matching.matching_projects(source, day, include_failing=args["include_failing"])
        ids = [m.project.id for m in found]
        commitments = marketplace.commitments_by_project(ids)
        interested = marketplace.interests_by_project(ids)
        return {
            "source": source_out(source),
            "date": day,
            "ranking_rule": PROJECT_RULE,
            "projects": [
                {
                    "rank": i,
                    "score": m.score,
                    "eligible": m.eligible,
                    "failed": [c.key for c in m.failed],
                    "criteria": [criterion_out(c) for c in m.criteria],
                    "project": project_out(
                        m.project, m.gap, commitments.get(m.project.id, []), interested.get(m.project.id, [])
                    ),
                }
                for i, m in enumerate(found, start=1)
            ],
        }


# -- pipeline projects --------------------------------------------------------------------


def _pipeline_data(args: dict) -> dict:
    data = dict(args)
    data.pop("org_id", None)
    data.pop("version", None)
    return data


def interest_etag(interest: PipelineInterest) -> str:
    """An interest never changes once recorded: its ETag names it."""
    return f'"interest-{interest.id}"'


def saved_search_etag(search: SavedSearch) -> str:
    """A saved search never changes once saved: its ETag names it."""
    return f'"saved-search-{search.id}"'


@blp.route("/pipeline-projects")
class PipelineProjects(MethodView):
    @blp.arguments(PipelineQuery, location="query", unknown=RAISE)
    @blp.response(200, PipelineProjectOut(many=True))
    def get(self, args):
        """Pipeline projects still seeking money (listed until commitments cover the need) with
        their remaining gap, who has committed and who is interested. Filters: ``has_commitments``
        (true: already co-financed), ``min_gap`` (USD); ``sort``: newest (default), gap
        (largest remaining gap in USD first) or gap_asc. Paginated: ``page`` and ``per_page``
        (50 by default, at most 500); the total in X-Total-Count, the other pages in Link."""
        page, per_page = args.pop("page"), args.pop("per_page")
        listing = marketplace.open_projects(marketplace.pipeline_filters(args), page, per_page)
        ids = [p.id for p in listing.projects]
        commitments = marketplace.commitments_by_project(ids)
        interested = marketplace.interests_by_project(ids)
        items = [
            project_out(p, listing.gaps[p.id], commitments.get(p.id, []), interested.get(p.id, []))
            for p in listing.projects
        ]
        return items, page_headers(page, per_page, listing.total)

    @roles_required(Role.GOVERNMENT, Role.ADMIN)
    @blp.arguments(PipelineProjectIn)
    @blp.response(201, PipelineProjectOut)
    def post(self, args):
        """Post a pipeline project for your country (government) or for a government (admin)."""
        org = None
        if args.get("org_id") is not None:
            org = db.session.get(Organisation, args["org_id"])
            if org is None:
                raise NotFoundError(not_found("organisation", args["org_id"]))
        project = marketplace.post_pipeline_project(current_actor(), _pipeline_data(args), org)
        commit()
        return project_out(project), {"ETag": version_etag("project", project)}


@blp.route("/pipeline-projects/<int:project_id>")
class PipelineProjectDetail(MethodView):
    @blp.response(200, PipelineProjectOut)
    def get(self, project_id: int):
        """One pipeline project with its remaining gap; the ETag carries its version."""
        project = marketplace.get_pipeline_project(project_id)
        return project_out(project), {"ETag": version_etag("project", project)}

    @roles_required(Role.GOVERNMENT, Role.ADMIN)
    @blp.arguments(PipelineProjectPatch)
    @blp.response(200, PipelineProjectOut)
    def patch(self, args, project_id: int):
        """Change your pipeline project. Send If-Match with the ETag you read (stale: 412) or the
        ``version`` (stale: 409); neither: 428."""
        project = marketplace.get_pipeline_project(project_id)
        read = version_etag("project", project)
        marketplace.update_pipeline_project(current_actor(), project, _pipeline_data(args), args.get("version"))
        # The service checks the rights first (403 tells nothing of the project's state); a
        # refused precondition then rolls its change back before anything is saved.
        check_if_match(read, args.get("version"))
        commit()
        return project_out(project), {"ETag": version_etag("project", project)}


@blp.route("/pipeline-projects/<int:project_id>/withdraw")
class PipelineWithdraw(MethodView):
    @roles_required(Role.GOVERNMENT, Role.ADMIN)
    @blp.response(200, PipelineProjectOut)
    def post(self, project_id: int):
        """Withdraw your pipeline project from the marketplace: cancelled when nobody has
        committed to it, else active with the money committed so far."""
        project = marketplace.get_pipeline_project(project_id)
        marketplace.withdraw_pipeline_project(current_actor(), project)
        commit()
        return project_out(project)


@blp.route("/pipeline-projects/<int:project_id>/interests")
class Interests(MethodView):
    @roles_required()
    @blp.response(200, InterestOut(many=True))
    def get(self, project_id: int):
        """Who is interested: every organisation for the project's government and admins,
        your own organisation's interest otherwise."""
        project = marketplace.get_pipeline_project(project_id)
        actor = current_actor()
        rows = marketplace.interests(project)
        if not marketplace.can_see_interests(actor, project):
            rows = [r for r in rows if actor.org_id is not None and r.org_id == actor.org_id]
        return [interest_out(r) for r in rows]

    @roles_required(Role.DONOR, Role.ADMIN)
    @blp.arguments(InterestIn)
    @blp.response(201, InterestOut)
    def post(self, args, project_id: int):
        """Record your organisation's interest in the project."""
        project = marketplace.get_pipeline_project(project_id)
        interest = marketplace.express_interest(current_actor(), project, args["note"])
        commit()
        return interest_out(interest), {"ETag": interest_etag(interest)}


@blp.route("/pipeline-projects/<int:project_id>/interests/<int:interest_id>")
class InterestDetail(MethodView):
    @roles_required()
    @blp.response(204)
    def delete(self, project_id: int, interest_id: int):
        """Withdraw an interest (only the organisation that recorded it, or an admin). Send
        If-Match with the ETag given when it was recorded, or ``*``; neither: 428."""
        project = marketplace.get_pipeline_project(project_id)
        interest = marketplace.get_interest(project, interest_id)
        read = interest_etag(interest)
        marketplace.withdraw_interest(current_actor(), interest)
        # After the service's rights check (403 first); a refused precondition rolls it back.
        check_if_match(read)
        commit()


@blp.route("/pipeline-projects/<int:project_id>/commitments")
class Commitments(MethodView):
    @roles_required(Role.DONOR, Role.ADMIN)
    @blp.arguments(CommitmentIn)
    @blp.response(201, CommitmentOut)
    def post(self, args, project_id: int):
        """Commit money from your funding source: links the project to it; the project stays in
        the pipeline (listed with its remaining gap) until commitments cover its need, then is active."""
        project = marketplace.get_pipeline_project(project_id)
        source = matching.get_source(args["funding_source_id"])
        tx = marketplace.commit_to_pipeline_project(
            current_actor(),
            project,
            source,
            args["amount"],
            args["currency"],
            args["value_date"],
            args["description"],
        )
        commit()
        return {
            "transaction_id": tx.id,
            "project_id": project.id,
            "project_status": project.status.value,
            "funding_source_id": source.id,
            "amount": str(tx.amount),
            "currency": tx.currency,
            "value_date": tx.value_date,
            "usd": str(tx.usd_amount) if tx.usd_minor is not None else None,
            "gap": gap_out(matching.funding_gaps([project])[project.id]),
        }


# -- saved searches -----------------------------------------------------------------------


@blp.route("/saved-searches")
class SavedSearches(MethodView):
    @roles_required()
    @blp.response(200, SavedSearchOut(many=True))
    def get(self):
        """Your saved searches with their feed addresses."""
        return [search_out(s) for s in marketplace.saved_searches(current_actor())]

    @roles_required()
    @blp.arguments(SavedSearchIn)
    @blp.response(201, SavedSearchOut)
    def post(self, args):
        """Save a finder ("funding") or marketplace ("pipeline") search."""
        search = marketplace.create_saved_search(
            current_actor(), args["name"], args["kind"], args["params"], args["alert_frequency"]
        )
        commit()
        return search_out(search), {"ETag": saved_search_etag(search)}


@blp.route("/saved-searches/<int:search_id>")
class SavedSearchDetail(MethodView):
    @roles_required()
    @blp.response(204)
    def delete(self, search_id: int):
        """Delete a saved search; its feed address stops working. Send If-Match with the ETag
        given when it was saved, or ``*``; neither: 428."""
        actor = current_actor()
        search = marketplace.get_saved_search(actor, search_id)
        check_if_match(saved_search_etag(search))
        marketplace.delete_saved_search(actor, search)
        commit()
