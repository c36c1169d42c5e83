"""The import API: upload (or preview), status, commit, undo.

``POST /api/v1/imports`` takes a multipart upload; the kind of file (spreadsheet, and
the IATI / CRS readers once registered) is detected from its content by
``importers.pipeline.detect_kind``, so every reader shares this endpoint. Every write is one
unit of work committed at the end of its view by ``registry.api.common.commit`` (a conflict
is 409, as for every API write); the pipeline never commits.

A client that sends ``Prefer: respond-async`` (RFC 7240) gets the work done by a queue worker
instead (``importers.jobs``): ``202 Accepted`` at once, with the job in the body and its
address in ``Location`` (``GET /api/v1/jobs/<id>``: status, progress, and the batch when done).
Uploads, commits and undos all take it; a large file should always be sent that way.
"""

from __future__ import annotations

import json

from flask import jsonify
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import func, select

from importers import jobs, messages, operations, pipeline
from importers.records import Location
from registry.api.common import check_if_match, commit, paginate
from registry.api.jobs import accepted, wants_async
from registry.auth import Unauthorised, current_actor, current_user
from registry.errors import ConflictError, ValidationError, error_body
from registry.models import ImportBatch, Organisation
from registry.rate_limits import upload_limit
from registry.schemas.common import ID
from registry.schemas.projects import Page, PageQuery

blp = Blueprint("imports", __name__, url_prefix="/api/v1/imports", description="Imports of donor files")

# A batch's life: pending -> running -> previewed -> committed | failed | undone | discarded
STATUSES = ["pending", "running", "previewed", "committed", "failed", "undone", "discarded"]


class ImportForm(Schema):
    class Meta:
        unknown = RAISE

    org = fields.String(metadata={"description": "Reference of the organisation (default: your own)"})
    org_name = fields.String(metadata={"description": "Creates the organisation when it is new (admins)"})
    mapping = fields.String(metadata={"description": 'JSON: {"columns": {"header": "field"}, ...}'})
    dry_run = fields.Boolean(load_default=False)
    skip_invalid = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Leave out the projects that have errors (listed in counts.invalid_records "
            "with the money they carry) and import the others; errors about the whole file still reject it"
        },
    )
    sheet = fields.String()
    dates = fields.String(validate=validate.OneOf(["dmy", "mdy"]))
    decimal = fields.String(validate=validate.OneOf([",", "."]))
    currency = fields.String(validate=validate.Length(equal=3))
    prices = fields.String(
        validate=validate.OneOf(["current", "constant"]),
        metadata={
            "description": "CRS files: constant reads USD_Commitment_Defl/USD_Disbursement_Defl (constant USD), "
            "stored apart from current-price flows (default current)"
        },
    )


class ImportFile(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ProblemOut(Schema):
    severity = fields.String()
    code = fields.String()
    message = fields.String()
    file = fields.String(allow_none=True)
    sheet = fields.String(allow_none=True)
    row = fields.Integer(allow_none=True)
    column = fields.String(allow_none=True)
    value = fields.String(allow_none=True)
    left_out = fields.Boolean(metadata={"description": "The error's project was left out (skip_invalid)"})


class CommitQuery(Schema):
    class Meta:
        unknown = RAISE

    skip_invalid = fields.Boolean(
        load_default=False,
        metadata={"description": "Also commit a failed preview, leaving out the projects that have errors"},
    )


class ImportBatchOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    filename = fields.String()
    file_hash = fields.String()
    org_id = fields.Integer(allow_none=True)
    status = fields.String()
    dry_run = fields.Boolean()
    already_imported = fields.Boolean()
    progress = fields.Integer()
    counts = fields.Dict()
    problems = fields.List(fields.Nested(ProblemOut))
    mapping = fields.Dict(allow_none=True)
    created_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)


class ImportBatchPage(Page):
    items = fields.List(fields.Nested(ImportBatchOut))


class ImportQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(STATUSES))
    kind = fields.String(validate=validate.OneOf(["sheet", "iati", "crs"]))
    org_id = fields.Integer(validate=ID)


def _user():
    user = current_user()
    if user is None:
        raise Unauthorised(_("Send an API token to import files"))
    return user


def _org_for(user, ref: str | None, org_name: str | None) -> Organisation | str:
    """The organisation an upload is for, checked against who is uploading."""
    return operations.import_owner(user, ref=ref, org_name=org_name)


def get_batch_for(user, batch_id: int) -> ImportBatch:
    """A batch the user may see: their organisation's, or any for an admin."""
    return operations.batch_for(user, batch_id)


def options_from(args: dict) -> dict:
    """Reader options from form fields (the mapping JSON parsed and checked)."""
    options = {k: args[k] for k in ("sheet", "dates", "decimal", "currency", "prices") if args.get(k)}
    if args.get("mapping"):
        try:
            mapping = json.loads(args["mapping"])
        except json.JSONDecodeError as exc:
            raise ValidationError(
                _("The mapping is not valid JSON: %(error)s", error=exc), {"mapping": [str(exc)]}
            ) from None
        if not isinstance(mapping, dict):
            raise ValidationError(_("The mapping must be a JSON object"), {"mapping": [_("Expected an object")]})
        options["mapping"] = mapping
    return options


def detect(data: bytes, filename: str) -> str:
    """The reader kind of an upload, from its content (then its extension)."""
    kind = pipeline.detect_kind(data[:4096], filename or "")
    if kind is None:
        formats = ", ".join(["XLSX", "XLS", "ODS", "CSV", *(k.upper() for k in pipeline.READERS if k != "sheet")])
        raise ValidationError(
            _("%(file)s is not a file we can import (%(formats)s)", file=repr(filename), formats=formats),
            {"file": [_("Unsupported file type")]},
        )
    return kind


def _summary(batch: ImportBatch) -> dict:
    """The batch as the API gives it: its problems' messages in the language asked for
    (Accept-Language), their fields as ever (importers.messages)."""
    summary = pipeline.batch_summary(batch)
    summary["problems"] = [messages.api_problem(p) for p in summary["problems"]]
    return summary


def batch_etag(batch: ImportBatch) -> str:
    """A batch changes only by its status (previewed, committed, undone...): its ETag says which."""
    return f'"import-{batch.id}-{batch.status}"'


def respond(batch: ImportBatch, created: bool = False):
    """201/200 with the batch; 422 in the one error shape (plus the batch) when it failed."""
    summary = _summary(batch)
    if batch.status == "failed":
        errors = [p for p in summary["problems"] if p["severity"] == "error"]
        count = summary["counts"].get("errors", len(errors))
        offer = summary["counts"].get("invalid_records")
        if offer and not offer.get("left_out") and offer["valid"]:
            message = _(
                "The file has %(count)s errors; nothing was imported. %(valid)s projects are valid: send "
                "skip_invalid=true to import them and leave out the %(invalid)s that have errors",
                count=count,
                valid=offer["valid"],
                invalid=offer["invalid"] + offer["items_without_record"],
            )
        else:
            message = _("The file has %(count)s errors; nothing was imported", count=count)
        body = error_body(422, message, {"file": [_where(p, messages.shown(p)) for p in errors[:100]]})
        body["batch"] = ImportBatchOut().dump(summary)
        response = jsonify(body)
        response.status_code = 422
        return response
    response = jsonify(ImportBatchOut().dump(summary))
    response.status_code = 201 if created and not summary["already_imported"] else 200
    response.headers["ETag"] = batch_etag(batch)
    return response


def _where(problem: dict, message: str) -> str:
    """Where a problem is and what it is, in one line ("sheet 'Sheet1', row 4, column 'Country': ..."),
    in the reader's language."""
    where = Location(sheet=problem.get("sheet"), row=problem.get("row") or None, column=problem.get("column"))
    place = messages.shown(where.describe()) or problem.get("file") or _("file")
    return _("%(where)s: %(message)s", where=place, message=message)


@blp.route("")
class Imports(MethodView):
    @blp.arguments(ImportForm, location="form")
    @blp.arguments(ImportFile, location="files")
    @blp.response(201, ImportBatchOut)
    @blp.alt_response(422, description="The file was rejected; the body lists every problem")
    @blp.alt_response(413, description="The upload or the unpacked workbook is too large")
    @blp.alt_response(202, description="With Prefer: respond-async, the queued job (follow its Location)")
    @blp.alt_response(429, description="Too many uploads by this user; Retry-After says when to try again")
    @upload_limit
    def post(self, form, files):
        """Upload a file to import it (or, with dry_run, to preview it for a later commit)."""
        user = _user()
        org = _org_for(user, form.get("org"), form.get("org_name"))  # who may import, before reading
        upload = files["file"]
        data = upload.read()
        if not data:
            raise ValidationError(_("The file is empty"), {"file": [_("Empty file")]})
        filename = upload.filename or "upload"
        path, _sha = pipeline.store_file(data, filename)
        pipeline.check_upload(path, filename)  # what it really is, and whole (else 422)
        kind = detect(data, filename)
        actor = current_actor()
        if wants_async():
            job = jobs.start_import(
                kind,
                filename,
                path.name,
                org.ref if isinstance(org, Organisation) else org,
                actor,
                user,
                options=options_from(form),
                dry_run=form["dry_run"],
                org_name=form.get("org_name"),
                skip_invalid=form["skip_invalid"],
                org_id=org.id if isinstance(org, Organisation) else None,
            )
            return accepted(job)
        batch = pipeline.run_import(
            kind,
            filename,
            path,
            org,
            actor,
            options=options_from(form),
            dry_run=form["dry_run"],
            org_name=form.get("org_name"),
            skip_invalid=form["skip_invalid"],
        )
        commit()  # the request's unit of work: a failed file's report is kept too
        return respond(batch, created=True)

    @blp.arguments(ImportQuery, location="query", unknown=RAISE)
    @blp.response(200, ImportBatchPage)
    def get(self, args):
        """Import batches of your organisation (all, for an admin), newest first; filter by
        ``status``, ``kind`` or ``org_id``."""
        user = _user()
        conditions = [getattr(ImportBatch, key) == args[key] for key in ("status", "kind", "org_id") if key in args]
        conditions.append(operations.visible_batches(user))
        query = select(ImportBatch).where(*conditions).order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc())
        body, headers = paginate(query, select(func.count(ImportBatch.id)).where(*conditions), args)
        body["items"] = [_summary(batch) for batch in body["items"]]
        return body, headers


@blp.route("/<int:batch_id>")
class ImportOne(MethodView):
    @blp.response(200, ImportBatchOut)
    def get(self, batch_id: int):
        """Status, counts and every problem of a batch; the ETag follows its status."""
        batch = get_batch_for(_user(), batch_id)
        return _summary(batch), {"ETag": batch_etag(batch)}

    @blp.response(200, ImportBatchOut)
    def delete(self, batch_id: int):
        """Undo a committed batch (or discard a preview). Send If-Match with the ETag of your last
        GET of the batch (stale: 412), or ``*``; neither: 428."""
        user = _user()
        batch = get_batch_for(user, batch_id)
        check_if_match(batch_etag(batch))
        if batch.status in ("previewed", "failed"):
            operations.discard(batch)
        elif wants_async():
            pipeline.check_undo(batch)
            return accepted(jobs.start_undo(batch, current_actor(), user))
        else:
            batch = pipeline.undo_batch(batch.id, current_actor())
        commit()
        return _summary(batch)


@blp.route("/<int:batch_id>/commit")
class ImportCommit(MethodView):
    @blp.arguments(CommitQuery, location="query")
    @blp.response(200, ImportBatchOut)
    @blp.alt_response(422, description="The file was rejected on commit")
    def post(self, args, batch_id: int):
        """Commit a previewed batch (with ``skip_invalid=true``, also a failed preview whose
        errors concern some projects only: those are left out and listed)."""
        user = _user()
        batch = get_batch_for(user, batch_id)
        if wants_async():
            return accepted(jobs.start_commit(batch, current_actor(), user, skip_invalid=args["skip_invalid"]))
        batch = pipeline.commit_batch(batch.id, current_actor(), skip_invalid=args["skip_invalid"])
        commit()
        differs = (batch.options or {}).get("differs") if batch.status == "previewed" else None
        if differs:
            raise ConflictError(
                _(
                    "The registry changed since the preview: committing now would do otherwise than it said "
                    "(preview: %(preview)s; now: %(now)s). Nothing was imported: preview the file again.",
                    preview=_counts_text(differs["preview"]),
                    now=_counts_text(differs["now"]),
                ),
                {"counts": [json.dumps(differs, sort_keys=True)]},
            )
        return respond(batch)


def _counts_text(counts: dict) -> str:
    return _(
        "%(created)s projects to create, %(updated)s to update, %(flows)s flows",
        created=counts.get("projects_created", 0),
        updated=counts.get("projects_updated", 0),
        flows=counts.get("transactions", 0),
    )


class TemplateQuery(Schema):
    class Meta:
        unknown = RAISE

    org = fields.String(
        metadata={
            "description": "Reference of the organisation whose projects fill the template (a donor: its own "
            "only); without it, the blank template"
        }
    )


@blp.route("/template.xlsx")
class Template(MethodView):
    @blp.arguments(TemplateQuery, location="query")
    @blp.response(200, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    @blp.alt_response(403, description="The organisation is not yours")
    def get(self, args):
        """The import template: blank, or with ``org`` filled with that organisation's projects and
        flows (one row per flow, each with its flow id), to edit and import again."""
        from flask import Response

        from importers.template import template_workbook
        from importers.web import filled_download

        if not args.get("org"):
            return Response(
                template_workbook(),
                mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                headers={"Content-Disposition": 'attachment; filename="ict4d-donor-template.xlsx"'},
            )
        org = _org_for(_user(), args["org"], None)
        return filled_download(org)


def init_api(api) -> None:
    """Register the blueprint (the API is for token clients: no CSRF)."""
    from registry.extensions import csrf

    csrf.exempt(blp)
    api.register_blueprint(blp)
