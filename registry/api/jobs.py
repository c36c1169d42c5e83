"""Background jobs, read-only: /api/v1/jobs. A job is queued by the endpoint that does the work
(``Prefer: respond-async``); here a client follows it. Every web process answers for every job:
its state is a database row (``registry.queue``)."""

from __future__ import annotations

from pathlib import Path

from flask import current_app, jsonify, request, send_file, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import func, select

from registry import queue
from registry.api.common import paginate, require_json_body, require_user
from registry.errors import NotFoundError
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


def wants_async() -> bool:
    """Whether the client asked for the work to be queued (``Prefer: respond-async``, RFC 7240)."""
    prefer = request.headers.get("Prefer", "")
    return any(p.strip().split("=")[0].lower() == "respond-async" for p in prefer.split(","))


def accepted(job):
    """202 with the queued job and where to follow it."""
    response = jsonify(queue.job_view(job))
    response.status_code = 202
    response.headers["Location"] = url_for("jobs.JobOne", job_id=job.id)
    response.headers["Preference-Applied"] = "respond-async"
    return response


def job_files() -> Path:
    """Where jobs leave the files they make (large exports), for ``GET /api/v1/jobs/<id>/file``.
    Web and worker processes must share it, as they share the uploads."""
    path = Path(current_app.config.get("JOB_FILES") or Path(current_app.instance_path) / "job-files")
    path.mkdir(parents=True, exist_ok=True)
    return path


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


@blp.route("/<int:job_id>/file")
class JobFile(MethodView):
    @blp.response(200, content_type="application/octet-stream")
    def get(self, job_id: int):
        """The file a finished job made (a large export), to download once it is done."""
        job = queue.job_for(require_user(), job_id)
        made = (job.result or {}).get("file") if job.status == "done" else None
        path = job_files() / made if made else None
        if path is None or path.name != made or not path.is_file():
            if job.status == "done":
                raise NotFoundError(_("Job %(job)s has no file to download", job=job_id))
            raise NotFoundError(_("Job %(job)s has no file to download yet", job=job_id))
        return send_file(path, mimetype=job.result.get("mimetype"), as_attachment=True,
                         download_name=job.result.get("filename") or made)  # fmt: skip
