"""Import pages: upload -> preview (rows as read, editable mapping, every problem) -> commit.

Checks, commits and undos of files run as jobs on the queue (``importers.jobs``, run by a
queue worker, each one unit of work); the page polls a small JSON status endpoint, which reads
the job's row, and shows a progress bar. A page that changes something itself commits once, at its end, through
``registry.web.saving.save`` (a refusal or a clash with another writer is a flash and a
redirect, never a 500). Who may see a batch, the
organisation an import is for and the mapping memory are ``importers.operations``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext, pgettext
from sqlalchemy import select

from importers import jobs, messages, operations, pipeline
from importers.owner import propose
from importers.sheets import FIELDS
from importers.template import filled_workbook, template_workbook
from registry import queue
from registry.auth import current_actor, current_user, roles_required
from registry.extensions import db
from registry.models import ImportBatch, Organisation
from registry.models.types import Role
from registry.rate_limits import upload_limit
from registry.services.actor import Actor
from registry.web.choices import choices
from registry.web.saving import save

bp = Blueprint("imports_web", __name__, url_prefix="/imports", template_folder="templates", static_folder="static")


# -- words shown on the pages, in the reader's language ---------------------------------------


def status_label(status: str | None) -> str:
    """A batch's status as its badge says it."""
    labels = {
        "pending": pgettext("import status", "pending"),
        "running": pgettext("import status", "running"),
        "previewed": pgettext("import status", "previewed"),
        "committed": pgettext("import status", "committed"),
        "failed": pgettext("import status", "failed"),
        "undone": pgettext("import status", "undone"),
        "discarded": pgettext("import status", "discarded"),
    }
    return labels.get(status or "", status or "")


def status_sentence(status: str | None) -> str:
    """What a batch that is neither a preview nor committed is, in a sentence."""
    sentences = {
        "pending": _("Waiting to be checked."),
        "running": _("Being checked."),
        "undone": _("Undone."),
        "discarded": _("Discarded."),
    }
    return sentences.get(status or "", status_label(status))


def severity_label(severity: str | None) -> str:
    return pgettext("problem severity", "error") if severity == "error" else pgettext("problem severity", "warning")


def skipped_text(reason: str, n: int) -> str:
    """One reason rows were skipped, with how many ("3 total rows")."""
    texts = {
        "total_row": ngettext("%(num)d total row", "%(num)d total rows", n),
        "note_row": ngettext("%(num)d note row", "%(num)d note rows", n),
        "outside the sector filter": ngettext(
            "%(num)d outside the sector filter", "%(num)d outside the sector filter", n
        ),
        "outside the year or purpose filter": ngettext(
            "%(num)d outside the year or purpose filter", "%(num)d outside the year or purpose filter", n
        ),
    }
    return texts.get(reason) or f"{n} {reason.replace('_', ' ')}"


def stage_label(stage: str | None) -> str:
    """A job's stage as its progress line says it ("Reading")."""
    labels = {
        "queued": _("Queued"),
        "starting": _("Starting"),
        "reading": _("Reading"),
        "validating": _("Validating"),
        "writing": _("Writing"),
        "undoing": _("Undoing"),
        "done": _("Done"),
    }
    return labels.get(stage or "", (stage or _("Working")).capitalize())


def job_label(kind: str, params: dict, stored: str) -> str:
    """A job's name in the reader's language, from what it does (its row keeps it in English)."""
    filename = params.get("filename") or ""
    if kind == jobs.IMPORT_FILE and filename:
        if params.get("again"):
            return _("Checking %(file)s again", file=filename)
        if params.get("dry_run"):
            return _("Checking %(file)s", file=filename)
        return _("Importing %(file)s", file=filename)
    batch = db.session.get(ImportBatch, params["batch_id"]) if params.get("batch_id") else None
    if batch is not None and kind == jobs.IMPORT_COMMIT:
        return _("Importing %(file)s", file=batch.filename)
    if batch is not None and kind == jobs.IMPORT_UNDO:
        return _("Undoing the import of %(file)s", file=batch.filename)
    return stored


def change_label(name: str, flow: int | None) -> str:
    """What a line of the list of changes is about ("Title", "Amount of flow 12", "New flow")."""
    project_fields = {
        "project": _("New project"),
        "flow": _("New flow"),
        "flows": _("Flows (replaced)"),
        "title": _("Title"),
        "description": _("Description"),
        "status": _("Status"),
        "planned_start": _("Planned start"),
        "planned_end": _("Planned end"),
        "actual_start": _("Actual start"),
        "actual_end": _("Actual end"),
        "need": _("Need (total cost)"),
        "recipients": _("Recipients and shares"),
        "areas": _("Priority areas and shares"),
        "sectors": _("DAC purpose codes"),
        "wsis_action_lines": _("WSIS action lines"),
        "iati_identifier": _("IATI identifier"),
    }
    if flow is None:
        return project_fields.get(name, name)
    flow_fields = {
        "type": _("Type of flow %(id)s", id=flow),
        "amount": _("Amount of flow %(id)s", id=flow),
        "value_date": _("Value date of flow %(id)s", id=flow),
        "funding_source": _("Funding source of flow %(id)s", id=flow),
        "flow_type": _("Flow type of flow %(id)s", id=flow),
        "finance_type": _("Finance type of flow %(id)s", id=flow),
        "aid_type": _("Aid type of flow %(id)s", id=flow),
        "description": _("Description of flow %(id)s", id=flow),
        "tied_status": _("Tied status of flow %(id)s", id=flow),
    }
    return flow_fields.get(name, f"{name} ({flow})")


def either(keys: list[str]) -> str:
    """Fields a column could be, as a list of alternatives in the reader's language ("A or B")."""
    from babel.lists import format_list
    from flask_babel import get_locale

    fields = _fields()
    return format_list([fields.get(k, k) for k in keys], style="or", locale=get_locale() or "en")


def _fields() -> dict[str, str]:
    """The fields a column can be mapped to, labelled in the reader's language."""
    return {key: _(text) for key, text in FIELDS.items()}


@bp.context_processor
def words() -> dict:
    return {
        "status_label": status_label,
        "status_sentence": status_sentence,
        "severity_label": severity_label,
        "skipped_text": skipped_text,
        "shown": messages.shown,
        "code_name": messages.code_name,
        "either": either,
        "change_label": change_label,
    }


def _batch_for(batch_id: int) -> ImportBatch:
    return operations.batch_for(current_user(), batch_id)


# -- pages ---------------------------------------------------------------------


@bp.get("/")
@roles_required(Role.ADMIN, Role.DONOR)
def index():
    """The upload form, the organisation's saved mapping and its recent imports."""
    user = current_user()
    orgs = operations.importable_orgs(user)
    # Previews replaced by a corrected upload or mapping ("Check again") are left out.
    stmt = (
        select(ImportBatch)
        .where(ImportBatch.status != "discarded", operations.visible_batches(user))
        .order_by(ImportBatch.id.desc())
        .limit(20)
    )
    saved = operations.saved_mapping(orgs[0].id) if len(orgs) == 1 else None
    return render_template(
        "imports/index.html",
        is_admin=user.role == Role.ADMIN,
        orgs=orgs,
        batches=list(db.session.scalars(stmt)),
        saved=saved,
        orgs_by_id={o.id: o for o in orgs},
        currencies=choices().currencies,
    )


@bp.post("/")
@roles_required(Role.ADMIN, Role.DONOR)
@upload_limit
def upload():
    """Store the upload and start its preview (a dry run)."""
    from importers.api import detect

    user = current_user()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a file to upload."), "error")
        return redirect(url_for(".index"))
    data = upload.read()
    if not data:
        flash(_("The file is empty."), "error")
        return redirect(url_for(".index"))
    is_admin = user.role == Role.ADMIN
    # An administrator's import has no default owner: chosen, or proposed from the file.
    org_id = request.form.get("org_id", type=int) or (None if is_admin else user.org_id)
    if not org_id and not is_admin:
        flash(_("Choose the organisation whose projects the file holds."), "error")
        return redirect(url_for(".index"))
    org = operations.import_owner(user, org_id=org_id) if org_id else None
    path, _sha = pipeline.store_file(data, upload.filename)
    pipeline.check_upload(path, upload.filename)  # what it really is, and whole (else a 422 page)
    kind = detect(data, upload.filename)
    options = {k: request.form[k] for k in ("sheet", "dates", "decimal", "currency") if request.form.get(k)}
    if kind == "crs" and request.form.get("prices") == "constant":
        options["prices"] = "constant"  # the CRS deflated columns, stored apart (docs/iati-crs.md)
    if org is None:
        proposal = propose(kind, path, upload.filename)
        if proposal.org is None:
            # Nothing to propose: the administrator chooses before anything is checked.
            return render_template(
                "imports/owner.html",
                orgs=operations.importable_orgs(user),
                named=proposal.named,
                filename=upload.filename,
                stored=path.name,
                kind=kind,
                options=json.dumps(options),
                use_saved=request.form.get("use_saved", ""),
            )
        org = operations.import_owner(user, org_id=proposal.org.id)
        options["owner"] = {"proposed_from": proposal.named, "confirmed": False}
    return _start_check(user, org, kind, upload.filename, path.name, options, bool(request.form.get("use_saved")))


def _start_check(user, org: Organisation, kind: str, filename: str, stored: str, options: dict, use_saved: bool):
    if use_saved:
        options = operations.with_saved_mapping(options, operations.saved_mapping(org.id, kind))
    job = jobs.start_import(
        kind, filename, stored, org.ref, current_actor(), user, options=options, dry_run=True, org_id=org.id
    )
    return redirect(url_for(".job", job_id=job.id))


@bp.post("/owner")
@roles_required(Role.ADMIN)
def choose_owner():
    """Check an uploaded file for the organisation the administrator chose (the file proposed
    none that the registry knows)."""
    user = current_user()
    stored, filename, kind = (request.form.get(k, "") for k in ("stored", "filename", "kind"))
    path = pipeline.storage_dir() / stored
    if not stored or Path(stored).name != stored or not path.is_file() or kind not in pipeline.READERS:
        flash(_("The uploaded file is no longer available; upload it again."), "error")
        return redirect(url_for(".index"))
    org_id = request.form.get("org_id", type=int)
    try:
        options = json.loads(request.form.get("options") or "{}")
    except json.JSONDecodeError:
        options = None
    if not isinstance(options, dict):
        abort(400)
    options = {k: v for k, v in options.items() if k in ("sheet", "dates", "decimal", "currency", "prices")}
    if not org_id:
        flash(_("Choose the organisation whose projects the file holds."), "error")
        return render_template(
            "imports/owner.html",
            orgs=operations.importable_orgs(user),
            named=request.form.get("named") or None,
            filename=filename,
            stored=stored,
            kind=kind,
            options=json.dumps(options),
            use_saved=request.form.get("use_saved", ""),
        )
    org = operations.import_owner(user, org_id=org_id)
    return _start_check(user, org, kind, filename, stored, options, bool(request.form.get("use_saved")))


def _job_state(job_id: int) -> dict:
    """The job as the progress page shows it (404/403 when it is not the user's to see)."""
    row = queue.job_for(current_user(), job_id)
    view = queue.job_view(row)
    state = {"done": "done", "failed": "error"}.get(view["status"], "running")
    body = {**view, "state": state, "done": view["done"], "total": view["total"]}
    # What people read, in their language: the job's name, its stage, why it failed.
    body["label"] = job_label(row.kind, row.params or {}, view["label"])
    body["stage"] = stage_label(view["stage"])
    body["message"] = messages.shown(view["message"] or "")
    result = view["result"]
    if state == "done" and result.get("batch_id"):
        if view["kind"] == jobs.IMPORT_UNDO:
            body["url"] = url_for(".show", batch_id=result["batch_id"], undone=1)
        elif view["kind"] == jobs.IMPORT_COMMIT and result.get("status") == "previewed":
            body["url"] = url_for(".show", batch_id=result["batch_id"], differs=1)
        else:
            body["url"] = url_for(".show", batch_id=result["batch_id"], already=1 if result.get("already") else None)
    return body


@bp.get("/jobs/<int:job_id>")
@roles_required(Role.ADMIN, Role.DONOR)
def job(job_id: int):
    """Progress of a queued or running check, commit or undo; moves on to the batch when done."""
    state = _job_state(job_id)
    if state.get("url"):
        return redirect(state["url"])
    return render_template("imports/job.html", job_id=job_id, job=state)


@bp.get("/jobs/<int:job_id>.json")
@roles_required(Role.ADMIN, Role.DONOR)
def job_status(job_id: int):
    """The job's state for the polling page (read from the database: any web process answers)."""
    return jsonify(_job_state(job_id))


@bp.get("/<int:batch_id>")
@roles_required(Role.ADMIN, Role.DONOR)
def show(batch_id: int):
    """The preview: rows as read, the mapping (editable), counts and every problem."""
    batch = _batch_for(batch_id)
    summary = pipeline.batch_summary(batch)
    options = batch.options or {}
    preview = options.get("preview") or {}
    mapping = (summary.get("mapping") or {}).get("columns", {})
    if getattr(batch, "already_imported", False) or request.args.get("already"):
        flash(_("This file was already imported; nothing changed."), "success")
    if request.args.get("undone") and batch.status == "undone":
        flash(_("The import was undone: what it created is removed, what it changed is restored."), "success")
    return render_template(
        "imports/show.html",
        batch=batch,
        summary=summary,
        preview=preview,
        mapping=mapping,
        fields=_fields(),
        questions=options.get("questions") or {},
        options=options,
        org=db.session.get(Organisation, batch.org_id) if batch.org_id else None,
        problems=summary["problems"][:1000],
        currencies=choices().currencies,
        row_problems=_row_problems(preview, summary["problems"]),
        by_message={p["message"]: p for p in summary["problems"]},
        editable=batch.status in ("previewed", "failed"),
        money_text=messages.money_shown,
        undone_at=_when((batch.counts or {}).get("undone_at")),
        missing=_missing_columns(preview, summary["problems"]),
        differs=options.get("differs"),
        owner=options.get("owner") or {},
        owner_choices=operations.importable_orgs(current_user())
        if (options.get("owner") or {}).get("confirmed") is False
        else [],
    )


def _missing_columns(preview: dict, problems: list[dict]) -> list[dict]:
    """The sheets that were not read because a column every project needs is missing: which
    column, in which sheet, and the headers the sheet has instead (said before anything else,
    rather than "0 rows read" above rows that are listed)."""
    from importers.sheets.reader import NO_COLUMN

    field_of = {message: field for field, message in NO_COLUMN.items()}
    single = next(iter(preview)) if len(preview) == 1 else None
    found = []
    for problem in problems:
        field = field_of.get(problem.get("message", ""))
        if problem.get("code") != "missing_column" or field is None:
            continue
        key = problem.get("sheet") or single
        sheet = preview.get(key) or {}
        found.append(
            {
                "field": field,
                "sheet": problem.get("sheet"),  # None: a CSV file, which has no sheets
                "preview": key,
                "row": problem.get("row") or sheet.get("header_row"),
                "headers": ", ".join(repr(h) for h in sheet.get("headers", []) if h),
            }
        )
    return found


def _when(text: str | None):
    """A moment kept as ISO text in a batch's counts (when it was undone), or None."""
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _row_problems(preview: dict, problems: list[dict], most: int = 3) -> dict[str, dict[int, list[str]]]:
    """Sheet -> previewed row -> what went wrong on it, in a few words ("Commitment 2023: No
    currency"), for the "Read as" column of a row that gave nothing or less than it holds."""
    single = len(preview) == 1
    wanted = {(sheet, r["row"]) for sheet, p in preview.items() for r in p.get("rows", [])}
    found: dict[str, dict[int, list[str]]] = {}
    for problem in problems:
        if problem.get("severity") != "error" or not problem.get("row"):
            continue
        for sheet in preview:
            same_sheet = problem.get("sheet") == sheet or (single and not problem.get("sheet"))
            if same_sheet and (sheet, problem["row"]) in wanted:
                said = found.setdefault(sheet, {}).setdefault(problem["row"], [])
                short = messages.shown(problem).split(": ", 1)[0]
                said.append(
                    _("%(column)s: %(problem)s", column=problem["column"], problem=short)
                    if problem.get("column")
                    else short
                )
    for rows in found.values():
        for row, said in rows.items():
            if len(said) > most:
                more = len(said) - most
                rows[row] = [*said[:most], ngettext("and %(num)d more", "and %(num)d more", more)]
    return found


def _mapping_from_form() -> dict:
    columns = {}
    for key, value in request.form.items():
        if key.startswith("map:") and value:
            columns[key[4:]] = value
    return {"columns": columns}


@bp.post("/<int:batch_id>/remap")
@roles_required(Role.ADMIN, Role.DONOR)
def remap(batch_id: int):
    """Check the same file again with the mapping and conventions chosen on the page."""
    batch = _batch_for(batch_id)
    if batch.status not in ("previewed", "failed"):
        flash(_("Only a preview can be checked again."), "error")
        return redirect(url_for(".show", batch_id=batch.id))
    if request.form.get("keep"):
        # The same reading again (the registry changed since the preview): the same choices.
        kept = ("sheet", "org", "org_name", "mapping", "dates", "decimal", "currency", "prices", "owner")
        options = {k: v for k, v in (batch.options or {}).items() if k in kept}
    else:
        options = {k: v for k, v in (batch.options or {}).items() if k in ("sheet", "org", "org_name", "owner")}
        options.update({k: request.form[k] for k in ("dates", "decimal", "currency", "sheet") if request.form.get(k)})
        options["mapping"] = _mapping_from_form()
    user, actor, kind, filename, org_ref = (
        current_user(),
        current_actor(),
        batch.kind,
        batch.filename,
        options.get("org", ""),
    )
    stored, org_id = (batch.options or {}).get("stored_file", ""), batch.org_id

    def checked_again(_: None) -> str:
        job = jobs.start_import(
            kind,
            filename,
            stored,
            org_ref,
            actor,
            user,
            options=options,
            dry_run=True,
            org_id=org_id,
            again=True,
        )
        return url_for(".job", job_id=job.id)

    # The old preview is discarded in this request's unit of work; the new check is a job of its own.
    return save(lambda: operations.discard(batch), None, checked_again, refused=url_for(".show", batch_id=batch_id))


@bp.post("/<int:batch_id>/commit")
@roles_required(Role.ADMIN, Role.DONOR)
def commit(batch_id: int):
    """Commit a clean preview; the mapping is saved for the organisation's next file.

    With ``skip_invalid`` (the "Import the N valid projects" button) a preview whose errors all
    concern some projects is committed without them; the report lists what was left out."""
    batch = _batch_for(batch_id)
    skip_invalid = bool(request.form.get("skip_invalid"))
    offer = (batch.counts or {}).get("invalid_records") or {}
    grouped = (batch.counts or {}).get("batches_in_file", 1) > 1  # a file of several organisations: whole
    skippable = skip_invalid and batch.status == "failed" and offer.get("valid") and not grouped
    if grouped:
        flash(
            _(
                "This batch is one organisation's part of a file of several, which is all-or-nothing: "
                "import the whole file again from the command line."
            ),
            "error",
        )
        return redirect(url_for(".show", batch_id=batch.id))
    if not (batch.status == "previewed" or skippable):
        flash(_("Only a preview without errors can be committed."), "error")
        return redirect(url_for(".show", batch_id=batch.id))
    if (batch.options or {}).get("differs"):
        flash(_("The registry changed since this preview: check the file again before committing it."), "error")
        return redirect(url_for(".show", batch_id=batch.id))
    owner = (batch.options or {}).get("owner") or {}
    confirming = bool(owner) and not owner.get("confirmed")
    if confirming:
        chosen = request.form.get("owner_id", type=int)
        if not chosen:
            flash(_("Choose the organisation the file is imported for before committing it."), "error")
            return redirect(url_for(".show", batch_id=batch.id))
        if chosen != batch.org_id:
            return _check_for_another_owner(batch, chosen)
    actor: Actor = current_actor()
    bid, org_id, kind, options = batch.id, batch.org_id, batch.kind, batch.options

    def remember() -> None:
        if confirming:  # the administrator confirmed the organisation the file proposed
            confirmed = db.session.get(ImportBatch, bid)
            confirmed.options = {**(confirmed.options or {}), "owner": {**owner, "confirmed": True}}
        if org_id:
            operations.remember_mapping(org_id, kind, options or {})

    def started(_: None) -> str:
        job = jobs.start_commit(db.session.get(ImportBatch, bid), actor, current_user(), skip_invalid=skip_invalid)
        return url_for(".job", job_id=job.id)

    # The mapping is remembered in this request's unit of work, whatever becomes of the job.
    return save(remember, None, started, refused=url_for(".show", batch_id=bid))


def _check_for_another_owner(batch: ImportBatch, org_id: int):
    """The administrator chose another owner than the file proposed: what the file would create
    or update depends on whose projects exist, so the file is checked again for that one."""
    user, actor = current_user(), current_actor()
    org = operations.import_owner(user, org_id=org_id)
    kept = ("sheet", "mapping", "dates", "decimal", "currency", "prices")
    options = {k: v for k, v in (batch.options or {}).items() if k in kept}
    kind, filename, stored = batch.kind, batch.filename, (batch.options or {}).get("stored_file", "")

    def checked(_: None) -> str:
        job = jobs.start_import(
            kind, filename, stored, org.ref, actor, user, options=options, dry_run=True, org_id=org.id, again=True
        )
        return url_for(".job", job_id=job.id)

    return save(lambda: operations.discard(batch), None, checked, refused=url_for(".show", batch_id=batch.id))


@bp.post("/<int:batch_id>/undo")
@roles_required(Role.ADMIN, Role.DONOR)
def undo(batch_id: int):
    """Undo a committed batch, or discard a preview."""
    batch = _batch_for(batch_id)
    if batch.status == "committed":
        # What refuses an undo is checked here, so the page says it at once; the undo is a job.
        bid = batch.id
        return save(
            lambda: pipeline.check_undo(batch),
            None,
            lambda _: url_for(
                ".job", job_id=jobs.start_undo(db.session.get(ImportBatch, bid), current_actor(), current_user()).id
            ),
            refused=url_for(".show", batch_id=batch.id),
        )
    if batch.status in ("previewed", "failed"):
        return save(lambda: operations.discard(batch), _("The preview was discarded."), url_for(".index"))
    return redirect(url_for(".index"))


@bp.get("/<int:batch_id>/problems.<fmt>")
@roles_required(Role.ADMIN, Role.DONOR)
def problems(batch_id: int, fmt: str):
    """Every problem of a batch as CSV or XLSX."""
    batch = _batch_for(batch_id)
    columns = ["severity", "code", "sheet", "row", "column", "value", "message", "file"]
    # The column names are read back by scripts; the message is for people, in their language.
    rows = [[messages.shown(p) if c == "message" else p.get(c) for c in columns] for p in batch.problems or []]
    stem = f"import-{batch.id}-problems"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(rows)
        return Response(
            "\ufeff" + out.getvalue(),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'},
        )
    if fmt == "xlsx":
        import xlsxwriter

        buffer = io.BytesIO()
        workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
        sheet = workbook.add_worksheet("Problems")
        bold = workbook.add_format({"bold": True})
        sheet.write_row(0, 0, columns, bold)
        for i, row in enumerate(rows, 1):
            sheet.write_row(i, 0, ["" if v is None else v for v in row])
        sheet.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)
        sheet.freeze_panes(1, 0)
        sheet.set_column(6, 6, 80)
        workbook.close()
        return Response(
            buffer.getvalue(),
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{stem}.xlsx"'},
        )
    abort(404)


@bp.get("/template.xlsx")
def template():
    """The blank donor template: instructions, the columns, drop-down lists of codes."""
    return Response(
        template_workbook(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="ict4d-donor-template.xlsx"'},
    )


@bp.get("/my-projects.xlsx")
@roles_required(Role.ADMIN, Role.DONOR)
def my_projects():
    """The template filled with an organisation's projects and flows: a donor's own, the one an
    administrator chooses (``org_id``). Edited and imported again, it updates what changed."""
    user = current_user()
    org_id = request.args.get("org_id", type=int) or (None if user.role == Role.ADMIN else user.org_id)
    if not org_id:
        flash(_("Choose the organisation whose projects to download."), "error")
        return redirect(url_for(".index"))
    return filled_download(operations.import_owner(user, org_id=org_id))


def filled_download(org: Organisation) -> Response:
    """The filled template as a download, written to a temporary file and streamed from it."""
    import tempfile

    out = tempfile.TemporaryFile()
    try:
        filled_workbook(org, out)
    except BaseException:
        out.close()
        raise
    size = out.tell()
    out.seek(0)

    def chunks():
        try:
            while block := out.read(1 << 16):
                yield block
        finally:
            out.close()

    return Response(
        chunks(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="{filled_name(org)}"',
            "Content-Length": str(size),
        },
    )


def filled_name(org: Organisation) -> str:
    """The download's file name: the organisation's reference, in characters any system keeps."""
    import re

    return f"ict4d-projects-{re.sub(r'[^A-Za-z0-9._-]+', '-', org.ref).strip('-') or org.id}.xlsx"


def stored_path(batch: ImportBatch) -> Path:
    """Where the batch's uploaded file is kept."""
    return pipeline.storage_dir() / (batch.options or {}).get("stored_file", "")
