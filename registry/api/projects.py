"""Projects and their transactions: /api/v1/projects."""

from __future__ import annotations

from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import RAISE

from registry.api.common import (
    check_if_match,
    commit,
    content_etag,
    paginate,
    require_json_body,
    require_user,
    saved,
    version_etag,
    with_etag,
)
from registry.auth import current_actor, current_user
from registry.errors import ValidationError
from registry.models import Project, Transaction, User
from registry.models.types import ProjectStatus, Role
from registry.schemas.audit import AuditEventPage
from registry.schemas.plans import PlansIn, PlansOut
from registry.schemas.projects import (
    PageQuery,
    ProjectDelete,
    ProjectDetailOut,
    ProjectIn,
    ProjectPage,
    ProjectPatch,
    ProjectQuery,
    TransactionDelete,
    TransactionIn,
    TransactionOut,
    TransactionPatch,
)
from registry.services import plans as plan_service
from registry.services import projects as service
from registry.services import rights
from registry.services.history import changes, project_history
from registry.services.lookup import load
from registry.services.search import ProjectFilters, project_count_query, project_query, with_details

blp = Blueprint(
    "projects_api",
    __name__,
    url_prefix="/api/v1",
    description="Projects, with recipients and priority areas, and their money flows",
)
blp.before_request(require_json_body)


def project_etag(project: Project) -> str:
    return version_etag("project", project)


def transaction_etag(tx: Transaction) -> str:
    return content_etag("transaction", tx.id, service.transaction_snapshot(tx))


def load_project_for_change(project_id: int) -> tuple[User, Project]:
    user = require_user()
    return user, rights.project_to_change(user, project_id)


@blp.route("/projects")
class Projects(MethodView):
    @blp.arguments(ProjectQuery, location="query", unknown=RAISE)
    @blp.response(200, ProjectPage)
    def get(self, args):
        """Projects matching the filters, sorted and paginated (total in X-Total-Count and Link)."""
        filters = ProjectFilters.from_mapping(args)
        return paginate(with_details(project_query(filters)), project_count_query(filters), args)

    @blp.arguments(ProjectIn)
    @blp.response(201, ProjectDetailOut)
    def post(self, data):
        """Register a project of your organisation (governments: pipeline, own country)."""
        user = require_user()
        org = rights.reporting_org(user, data.pop("org_id", None))
        if user.role is Role.GOVERNMENT:
            data.setdefault("status", ProjectStatus.PIPELINE.value)
        rights.check_may_save(user, org, None, data)
        project = service.create_project(current_actor(), org, data)
        return saved("project", project, Location=f"/api/v1/projects/{project.id}")


@blp.route("/projects/<int:project_id>")
class ProjectDetail(MethodView):
    @blp.response(200, ProjectDetailOut)
    def get(self, project_id: int):
        """One project, with its derived direction; the ETag carries its version."""
        project = load(Project, project_id, "project")
        return with_etag("project", project)

    @blp.arguments(ProjectPatch(partial=True))
    @blp.response(200, ProjectDetailOut)
    def patch(self, data, project_id: int):
        """Change a project. Send If-Match (stale: 412) or ``version`` (stale: 409); neither: 428."""
        user, project = load_project_for_change(project_id)
        expected = data.pop("version", None)
        check_if_match(project_etag(project), expected)
        if "org_id" in data:
            raise ValidationError(_("A project cannot move to another organisation"), {"org_id": [_("Read-only")]})
        rights.check_may_save(user, project.org, project, data)
        service.update_project(current_actor(), project, data, expected)
        return saved("project", project)

    @blp.arguments(ProjectDelete(partial=True), required=False)
    @blp.response(204)
    def delete(self, data, project_id: int):
        """Delete a project and its transactions. Send If-Match (stale: 412) or ``version``
        (stale: 409); neither: 428."""
        _user, project = load_project_for_change(project_id)
        expected = (data or {}).get("version")
        check_if_match(project_etag(project), expected)
        service.delete_project(current_actor(), project, expected)
        commit()


@blp.route("/projects/<int:project_id>/history")
class ProjectHistory(MethodView):
    @blp.arguments(PageQuery, location="query", unknown=RAISE)
    @blp.response(200, AuditEventPage)
    def get(self, args, project_id: int):
        """Changes to the project and its transactions: who, when (UTC), how, before, after."""
        load(Project, project_id, "project")
        events = project_history(project_id)
        start = (args["page"] - 1) * args["per_page"]
        page = events[start : start + args["per_page"]]
        signed_in = current_user() is not None
        items = [
            {
                **{c: getattr(e, c) for c in ("id", "occurred_at", "user_id", "org_id", "channel")},
                **{c: getattr(e, c) for c in ("action", "entity_type", "entity_id", "summary")},
                # Who exactly is for signed-in users; the public sees the organisation.
                "actor": e.actor if signed_in else None,
                "before": e.before,
                "after": e.after,
                "changed": [c.field for c in changes(e)],
            }
            for e in page
        ]
        total = len(events)
        pages = max(1, -(-total // args["per_page"]))
        body = {
            "items": items,
            "page": args["page"],
            "per_page": args["per_page"],
            "total": total,
            "pages": pages,
        }
        return body, {"X-Total-Count": str(total)}


# -- forward plans -----------------------------------------------------------


def plans_etag(project: Project) -> str:
    return content_etag("plans", project.id, plan_service.snapshot(project))


def plans_body(project: Project) -> dict:
    return {
        "project_id": project.id,
        "budgets": project.budgets,
        "planned_disbursements": project.planned_disbursements,
    }


@blp.route("/projects/<int:project_id>/plans")
class ProjectPlans(MethodView):
    @blp.response(200, PlansOut)
    def get(self, project_id: int):
        """The project's forward plans: budgets (IATI budget) and planned disbursements (IATI
        planned-disbursement) by period, each in its currency at its value date, with its USD
        value at that date's rate (null while no rate is published for it)."""
        project = load(Project, project_id, "project")
        return plans_body(project), {"ETag": plans_etag(project)}

    @blp.arguments(PlansIn)
    @blp.response(200, PlansOut)
    def put(self, data, project_id: int):
        """Replace the project's budgets and/or planned disbursements (a list left out stays).
        Send If-Match with the plans' ETag (stale: 412) or the project's ``project_version``
        (stale: 409); neither: 428."""
        _user, project = load_project_for_change(project_id)
        expected = data.pop("project_version", None)
        check_if_match(plans_etag(project), expected, version_field="project_version")
        rights.guard_project(project, expected)
        plan_service.set_plans(
            current_actor(), project, budgets=data.get("budgets"), planned=data.get("planned_disbursements")
        )
        commit()
        return plans_body(project), {"ETag": plans_etag(project)}


# -- transactions ------------------------------------------------------------


def load_transaction(project: Project, tx_id: int) -> Transaction:
    return rights.transaction_of(project, tx_id)


@blp.route("/projects/<int:project_id>/transactions")
class Transactions(MethodView):
    @blp.response(200, TransactionOut(many=True))
    def get(self, project_id: int):
        """Money flows by value date: original amount and currency, USD at that date's rate."""
        project = load(Project, project_id, "project")
        return project.transactions, {"X-Total-Count": str(len(project.transactions))}

    @blp.arguments(TransactionIn)
    @blp.response(201, TransactionOut)
    def post(self, data, project_id: int):
        """Record a pledge, commitment, disbursement or expenditure of the project."""
        _user, project = load_project_for_change(project_id)
        rights.guard_project(project)
        tx = service.add_transaction(current_actor(), project, data)
        commit()
        return tx, {
            "ETag": transaction_etag(tx),
            "Location": f"/api/v1/projects/{project.id}/transactions/{tx.id}",
        }


@blp.route("/projects/<int:project_id>/transactions/<int:tx_id>")
class TransactionDetail(MethodView):
    @blp.response(200, TransactionOut)
    def get(self, project_id: int, tx_id: int):
        """One money flow; the ETag follows its content."""
        tx = load_transaction(load(Project, project_id, "project"), tx_id)
        return tx, {"ETag": transaction_etag(tx)}

    @blp.arguments(TransactionPatch(partial=True))
    @blp.response(200, TransactionOut)
    def patch(self, data, project_id: int, tx_id: int):
        """Change a money flow. Send If-Match with the flow's ETag (stale: 412) or the project's
        ``project_version`` (stale: 409); neither: 428."""
        _user, project = load_project_for_change(project_id)
        tx = load_transaction(project, tx_id)
        expected = data.pop("project_version", None)
        check_if_match(transaction_etag(tx), expected, version_field="project_version")
        rights.guard_project(project, expected)
        service.update_transaction(current_actor(), tx, data)
        commit()
        return tx, {"ETag": transaction_etag(tx)}

    @blp.arguments(TransactionDelete, required=False)
    @blp.response(204)
    def delete(self, data, project_id: int, tx_id: int):
        """Delete a money flow. Send If-Match with the flow's ETag (stale: 412) or the project's
        ``project_version`` (stale: 409); neither: 428."""
        _user, project = load_project_for_change(project_id)
        tx = load_transaction(project, tx_id)
        expected = (data or {}).get("project_version")
        check_if_match(transaction_etag(tx), expected, version_field="project_version")
        rights.guard_project(project, expected)
        service.delete_transaction(current_actor(), tx)
        commit()


@blp.route("/projects/<int:project_id>/transactions/<int:tx_id>/confirm")
class TransactionConfirm(MethodView):
    @blp.response(200, TransactionOut)
    @blp.alt_response(403, description="You do not speak for the organisation that manages the flow's source")
    @blp.alt_response(409, description="The flow is confirmed already")
    def post(self, project_id: int, tx_id: int):
        """Confirm a flow another organisation recorded against your funding source: it then
        counts as your organisation's (its provider, when none was named) in the reports."""
        require_user()
        tx = load_transaction(load(Project, project_id, "project"), tx_id)
        service.confirm_transaction(current_actor(), tx)
        commit()
        return tx, {"ETag": transaction_etag(tx)}
