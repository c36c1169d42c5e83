"""Deleted objects and their restore: /api/v1/deleted/<kind> and POST .../restore.

A DELETE on the API marks the object deleted (``registry.services.deletion``); these routes
list what is deleted and bring it back, for the object's owner (its organisation's donor
editors) or an administrator.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields
from sqlalchemy import func, select

from registry.api.common import commit, content_etag, require_json_body, require_user, version_etag
from registry.auth import current_actor, forbid_unless
from registry.errors import NotFoundError
from registry.extensions import db
from registry.models.soft_delete import INCLUDE_DELETED
from registry.models.types import Role
from registry.schemas.funding import FundingSourceOut
from registry.schemas.organisations import OrganisationOut
from registry.schemas.projects import PageQuery, ProjectOut, TransactionOut
from registry.services import deletion
from registry.services.projects import transaction_snapshot

blp = Blueprint(
    "restore_api",
    __name__,
    url_prefix="/api/v1",
    description="Deleted projects, flows, funding sources and organisations, and their restore",
)
blp.before_request(require_json_body)

# URL segment -> kind of registry.services.deletion
KIND_OF_URL = {
    "projects": "project",
    "transactions": "transaction",
    "funding-sources": "funding_source",
    "organisations": "organisation",
}


class DeletedOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    name = fields.String()
    org_id = fields.Integer(allow_none=True)
    project_id = fields.Integer(allow_none=True)
    deleted_at = fields.DateTime()
    deleted_by = fields.String(allow_none=True)
    restore = fields.String(metadata={"description": "POST here to restore it"})


class DeletedList(Schema):
    items = fields.List(fields.Nested(DeletedOut))
    page = fields.Integer()
    total = fields.Integer(metadata={"description": "How many are deleted in all"})


def restore_url(kind: str, obj) -> str:
    """The API address that restores a deleted object."""
    if kind == "transaction":
        return f"/api/v1/projects/{obj.project_id}/transactions/{obj.id}/restore"
    segment = {v: k for k, v in KIND_OF_URL.items()}[kind]
    return f"/api/v1/{segment}/{obj.id}/restore"


def describe(kind: str, obj) -> dict:
    """A deleted object as the lists show it."""
    if kind == "transaction":
        name = f"{obj.type.value} of {obj.amount} {obj.currency} on {obj.value_date}"
    else:
        name = getattr(obj, "title", None) or obj.name
    return {
        "id": obj.id,
        "kind": kind,
        "name": name,
        "org_id": deletion.owner_org_id(kind, obj),
        "project_id": getattr(obj, "project_id", None),
        "deleted_at": obj.deleted_at,
        "deleted_by": obj.deleted_by,
        "restore": restore_url(kind, obj),
    }


def _restore_refused(kind: str) -> str:
    if kind == "project":
        return _("Only the project's organisation or an administrator may restore it")
    if kind == "transaction":
        return _("Only the money flow's organisation or an administrator may restore it")
    if kind == "funding_source":
        return _("Only the funding source's organisation or an administrator may restore it")
    return _("Only the organisation's organisation or an administrator may restore it")


def _restore(kind: str, object_id: int, project_id: int | None = None):
    user = require_user()
    obj = deletion.load_deleted(kind, object_id)
    if project_id is not None and obj.project_id != project_id:
        raise NotFoundError(
            _(
                "Project %(project)s has no deleted transaction %(transaction)s",
                project=project_id,
                transaction=object_id,
            )
        )
    forbid_unless(deletion.may_restore(user, kind, obj), _restore_refused(kind))
    deletion.restore(current_actor(), kind, obj)
    commit()
    return obj


@blp.route("/deleted/<any(projects, transactions, 'funding-sources', organisations):what>")
class Deleted(MethodView):
    @blp.arguments(PageQuery, location="query", unknown=RAISE)
    @blp.response(200, DeletedList)
    def get(self, args, what: str):
        """Deleted objects of a kind, newest deletion first: an administrator sees all, a donor
        editor those of their organisation (a flow deleted with its project comes back with it,
        so only flows deleted on their own are listed). Signed in."""
        user = require_user()
        kind = KIND_OF_URL[what]
        if user.role is Role.ADMIN:
            org_id = None
        else:
            owners = user.role is Role.DONOR or (user.role is Role.GOVERNMENT and kind in ("project", "transaction"))
            forbid_unless(owners and kind != "organisation", "Only owners and administrators")
            org_id = user.org_id
        query = deletion.deleted_query(kind, org_id)
        total = db.session.scalar(
            select(func.count()).select_from(query.order_by(None).subquery()), execution_options=INCLUDE_DELETED
        )
        page = db.session.scalars(
            query.limit(args["per_page"]).offset((args["page"] - 1) * args["per_page"]),
            execution_options=INCLUDE_DELETED,
        )
        return {"items": [describe(kind, o) for o in page], "total": total, "page": args["page"]}


@blp.route("/projects/<int:project_id>/restore")
class ProjectRestore(MethodView):
    @blp.response(200, ProjectOut)
    @blp.alt_response(404, description="No deleted project with this id")
    @blp.alt_response(409, description="Its organisation is deleted")
    def post(self, project_id: int):
        """Restore a deleted project with exactly the money flows deleted with it."""
        project = _restore("project", project_id)
        return project, {"ETag": version_etag("project", project)}


@blp.route("/projects/<int:project_id>/transactions/<int:tx_id>/restore")
class TransactionRestore(MethodView):
    @blp.response(200, TransactionOut)
    @blp.alt_response(404, description="No deleted money flow with this id on this project")
    @blp.alt_response(409, description="Its project is deleted: restore the project")
    def post(self, project_id: int, tx_id: int):
        """Restore a money flow deleted on its own."""
        tx = _restore("transaction", tx_id, project_id)
        return tx, {"ETag": content_etag("transaction", tx.id, transaction_snapshot(tx))}


@blp.route("/funding-sources/<int:source_id>/restore")
class FundingSourceRestore(MethodView):
    @blp.response(200, FundingSourceOut)
    @blp.alt_response(404, description="No deleted funding source with this id")
    @blp.alt_response(409, description="Its organisation is deleted")
    def post(self, source_id: int):
        """Restore a deleted funding source."""
        source = _restore("funding_source", source_id)
        return source, {"ETag": version_etag("source", source)}


@blp.route("/organisations/<int:org_id>/restore")
class OrganisationRestore(MethodView):
    @blp.response(200, OrganisationOut)
    @blp.alt_response(404, description="No deleted organisation with this id")
    def post(self, org_id: int):
        """Restore a deleted organisation (administrators)."""
        org = _restore("organisation", org_id)
        return org, {"ETag": version_etag("organisation", org)}
