"""Background jobs, read-only: /api/v1/jobs. A job is queued by the endpoint that does the work
(``Prefer: respond-async``); here a client follows it. Every web process answers for every job:
its state is a database row (``registry.queue``)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import func, select

from registry import queue
from registry.api.common import paginate, require_json_body, require_user
from registry.models import Job
from registry.models.jobs import JOB_STATUSES
from registry.models.types import Role
from registry.schemas.projects import Page, PageQuery

blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs", description="Background jobs: state and progress")
blp.before_request(require_json_body)


class JobOut(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "import.file, import.commit, import.undo, facts.rebuild"})
    label = fields.String()
    owner_id = fields.Integer(allow_none=True)
    org_id = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": "queued, running, done or failed"})
    stage = fields.String()
    done = fields.Integer(metadata={"description": "Progress: units done of the current stage"})
    total = fields.Integer(metadata={"description": "Progress: units of the current stage (0: not known yet)"})
    percent = fields.Integer()
    message = fields.String(metadata={"description": "Why it failed (a limit, a refusal), or why it waits"})
    result = fields.Dict(metadata={"description": "The summary when done (an import: batch_id and counts)"})
    attempts = fields.Integer()
    created_at = fields.String(allow_none=True)
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)


class JobPage(Page):
    items = fields.List(fields.Nested(JobOut))


class JobQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(JOB_STATUSES))
    kind = fields.String()


@blp.route("")
class Jobs(MethodView):
    @blp.arguments(JobQuery, location="query", unknown=RAISE)
    @blp.response(200, JobPage)
    def get(self, args):
        """Your jobs (every job, for an administrator), newest first; filter by status or kind."""
        user = require_user()
        conditions = [getattr(Job, key) == args[key] for key in ("status", "kind") if args.get(key)]
        if user.role != Role.ADMIN:
            conditions.append(Job.owner_id == user.id)
        query = select(Job).where(*conditions).order_by(Job.id.desc())
        body, headers = paginate(query, select(func.count(Job.id)).where(*conditions), args)
        body["items"] = [queue.job_view(job) for job in body["items"]]
        return body, headers


@blp.route("/<int:job_id>")
class JobOne(MethodView):
    @blp.response(200, JobOut)
    def get(self, job_id: int):
        """A job's state, progress, message and result (yours, or any for an administrator)."""
        return queue.job_view(queue.job_for(require_user(), job_id))
