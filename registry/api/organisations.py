"""Organisations: /api/v1/organisations."""

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
from registry.models import Organisation
from registry.schemas.organisations import (
    OrganisationIn,
    OrganisationOut,
    OrganisationPage,
    OrganisationPatch,
    OrganisationQuery,
)
from registry.schemas.projects import ProjectDelete
from registry.services import organisations as service
from registry.services import permissions
from registry.services.lookup import load
from registry.services.versions import check_version

blp = Blueprint(
    "organisations_api",
    __name__,
    url_prefix="/api/v1",
    description="Donors, funds, governments and implementers",
)
blp.before_request(require_json_body)


def org_query(args: dict):
    """Organisations matching kind, country and text, by name."""
    conditions = []
    if args.get("kind"):
        conditions.append(Organisation.kind == args["kind"])
    if args.get("country"):
        conditions.append(Organisation.country_iso3 == args["country"].upper())
    if args.get("q"):
        text = args["q"].strip()
        conditions.append(
            or_(
                Organisation.name.icontains(text, autoescape=True),
                Organisation.ref.icontains(text, autoescape=True),
                Organisation.iati_ref.icontains(text, autoescape=True),
            )
        )
    query = select(Organisation).where(*conditions).order_by(Organisation.name, Organisation.id)
    return query, select(func.count(Organisation.id)).where(*conditions)


@blp.route("/organisations")
class Organisations(MethodView):
    @blp.arguments(OrganisationQuery, location="query", unknown=RAISE)
    @blp.response(200, OrganisationPage)
    def get(self, args):
        """Organisations by name; filter by kind, country or text."""
        query, count = org_query(args)
        return paginate(query, count, args)

    @blp.arguments(OrganisationIn)
    @blp.response(201, OrganisationOut)
    def post(self, data):
        """Add an organisation (administrators)."""
        forbid_unless(permissions.can_manage_orgs(require_user()), "Only administrators add organisations")
        org = service.create_organisation(current_actor(), data)
        return saved("organisation", org)


@blp.route("/organisations/<int:org_id>")
class OrganisationDetail(MethodView):
    @blp.response(200, OrganisationOut)
    def get(self, org_id: int):
        """One organisation; the ETag carries its version."""
        org = load(Organisation, org_id, "organisation")
        return with_etag("organisation", org)

    @blp.arguments(OrganisationPatch(partial=True))
    @blp.response(200, OrganisationOut)
    def patch(self, data, org_id: int):
        """Change an organisation (administrators, or its own donor editors). Send If-Match
        (stale: 412) or ``version`` (stale: 409); neither: 428."""
        user = require_user()
        org = load(Organisation, org_id, "organisation")
        forbid_unless(permissions.can_edit_org(user, org), "You may not change this organisation")
        expected = data.pop("version", None)
        check_if_match(version_etag("organisation", org), expected)
        check_version(org.version, expected)
        service.update_organisation(current_actor(), org, data)
        return saved("organisation", org)

    @blp.arguments(ProjectDelete(partial=True), required=False)
    @blp.response(204)
    def delete(self, data, org_id: int):
        """Delete an organisation with no projects or funding sources (administrators). Send
        If-Match (stale: 412) or ``version`` (stale: 409); neither: 428."""
        user = require_user()
        org = load(Organisation, org_id, "organisation")
        forbid_unless(permissions.can_manage_orgs(user), "Only administrators delete organisations")
        expected = (data or {}).get("version")
        check_if_match(version_etag("organisation", org), expected)
        check_version(org.version, expected)
        service.delete_organisation(current_actor(), org)
        commit()
