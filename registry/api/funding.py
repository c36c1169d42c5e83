"""Funding sources: /api/v1/funding-sources."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE
from sqlalchemy import func, or_, select

from registry.api.common import (
    check_if_match,
    commit,
    paginate,
    require_json_body,
    require_user,
    saved,
    version_etag,
    with_etag,
)
from registry.auth import current_actor, forbid_unless
from registry.models import FundingSource
from registry.schemas.funding import (
    FundingSourceIn,
    FundingSourceOut,
    FundingSourcePage,
    FundingSourcePatch,
    FundingSourceQuery,
)
from registry.schemas.projects import ProjectDelete
from registry.services import funding as service
from registry.services import permissions, rights
from registry.services.lookup import load

blp = Blueprint("funding_api", __name__, url_prefix="/api/v1", description="Funding sources and their rules")
blp.before_request(require_json_body)


def source_query(args: dict):
    """Funding sources matching kind, managing organisation and text, by name."""
    conditions = []
    if args.get("kind"):
        conditions.append(FundingSource.kind == args["kind"])
    if args.get("managing_org_id"):
        conditions.append(FundingSource.managing_org_id == args["managing_org_id"])
    if args.get("q"):
        text = args["q"].strip()
        conditions.append(
            or_(
                FundingSource.name.icontains(text, autoescape=True),
                FundingSource.ref.icontains(text, autoescape=True),
                FundingSource.description.icontains(text, autoescape=True),
            )
        )
    query = select(FundingSource).where(*conditions).order_by(FundingSource.name, FundingSource.id)
    count = select(func.count(FundingSource.id)).where(*conditions)
    return query, count


def load_source_for_change(source_id: int) -> FundingSource:
    return rights.source_to_change(require_user(), source_id)


@blp.route("/funding-sources")
class FundingSources(MethodView):
    @blp.arguments(FundingSourceQuery, location="query", unknown=RAISE)
    @blp.response(200, FundingSourcePage)
    def get(self, args):
        """Funding sources, by name; filter by kind, managing organisation or text."""
        query, count = source_query(args)
        return paginate(query, count, args)

    @blp.arguments(FundingSourceIn)
    @blp.response(201, FundingSourceOut)
    def post(self, data):
        """Add a funding source managed by your organisation (admins: any)."""
        rights.check_new_source(require_user(), data)
        source = service.create_funding_source(current_actor(), data)
        return saved("source", source)


@blp.route("/funding-sources/<int:source_id>")
class FundingSourceDetail(MethodView):
    @blp.response(200, FundingSourceOut)
    def get(self, source_id: int):
        """One funding source; the ETag carries its version."""
        source = load(FundingSource, source_id, "funding source")
        return with_etag("source", source)

    @blp.arguments(FundingSourcePatch(partial=True))
    @blp.response(200, FundingSourceOut)
    def patch(self, data, source_id: int):
        """Change a funding source. Send If-Match (stale: 412) or ``version`` (stale: 409);
        neither: 428."""
        user = require_user()
        source = load_source_for_change(source_id)
        check_if_match(version_etag("source", source), data.get("version"))
        if "managing_org_id" in data:
            forbid_unless(
                permissions.can_create_source(user, data["managing_org_id"]),
                "You may not hand the funding source to another organisation",
            )
        expected = data.pop("version", None)
        service.update_funding_source(current_actor(), source, data, expected)
        return saved("source", source)

    @blp.arguments(ProjectDelete(partial=True), required=False)
    @blp.response(204)
    def delete(self, data, source_id: int):
        """Delete a funding source; its transactions keep their amounts and lose the link. Send
        If-Match (stale: 412) or ``version`` (stale: 409); neither: 428."""
        source = load_source_for_change(source_id)
        expected = (data or {}).get("version")
        check_if_match(version_etag("source", source), expected)
        service.delete_funding_source(current_actor(), source, expected)
        commit()
