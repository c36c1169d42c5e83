"""Import pages: upload -> preview (rows as read, editable mapping, every problem) -> commit.

Previews and commits of large files run in a background thread with their own app
context; the page polls a small JSON status endpoint and shows a progress bar. Set
``IMPORT_BACKGROUND = False`` to run them inline (tests).
"""

from __future__ import annotations

import csv
import io
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from importers import pipeline
from importers.models import SavedMapping
from importers.sheets import FIELDS
from importers.template import template_workbook
from registry.auth import current_actor, current_user, roles_required
from registry.errors import PermissionDenied, RegistryError
from registry.extensions import db
from registry.models import ImportBatch, Organisation
from registry.models.types import Role
from registry.services.actor import Actor
from registry.services.permissions import can_import
from registry.web.choices import choices

bp = Blueprint("imports_web", __name__, url_prefix="/imports", template_folder="templates")

# Background jobs of this process: id -> state. Small, in memory, forgotten after an hour.
JOBS: dict[str, dict[str, Any]] = {}
JOB_LOCK = threading.Lock()
STAGE_RANGES = {"reading": (0, 40), "validating": (40, 70), "writing": (70, 99)}


def _orgs_for(user) -> list[Organisation]:
    if user.role is Role.ADMIN:
        return list(db.session.scalars(select(Organisation).order_by(Organisation.name)))
    org = db.session.get(Organisation, user.org_id) if user.org_id else None
    return [org] if org else []


def _batch_for(batch_id: int) -> ImportBatch:
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None:
        abort(404)
    user = current_user()
    org = db.session.get(Organisation, batch.org_id) if batch.org_id else None
    if not (user.role is Role.ADMIN or (org is not None and can_import(user, org))):
        raise PermissionDenied("This import belongs to another organisation")
    return batch


def saved_mapping(org_id: int | None, kind: str = "sheet") -> SavedMapping | None:
    """The mapping an organisation confirmed last time, if any."""
    if org_id is None:
        return None
    return db.session.scalar(select(SavedMapping).where(SavedMapping.org_id == org_id, SavedMapping.kind == kind))


def save_mapping(org_id: int, kind: str, options: dict) -> None:
    """Remember the confirmed mapping and conventions for the organisation's next file."""
    mapping = dict(options.get("mapping") or {})
    for key in ("dates", "decimal", "currency"):
        if options.get(key):
            mapping[key] = options[key]
    row = saved_mapping(org_id, kind) or SavedMapping(org_id=org_id, kind=kind)
    row.mapping = mapping
    db.session.add(row)
    db.session.commit()


# -- background jobs -----------------------------------------------------------


def _progress_for(job_id: str):
    def report(done: int, total: int, stage: str) -> None:
        low, high = STAGE_RANGES.get(stage, (0, 99))
        percent = high if not total else low + (high - low) * min(done, total) // max(total, 1)
        if stage == "reading" and not total:
            percent = min(low + 1 + done // 5000, high - 1)
        with JOB_LOCK:
            job = JOBS.get(job_id)
            if job is not None:
                job.update(stage=stage, percent=max(job.get("percent", 0), percent))

    return report


def start_job(work, label: str) -> str:
    """Run ``work(progress) -> ImportBatch`` in the background (or inline) and return a job id."""
    job_id = uuid.uuid4().hex
    with JOB_LOCK:
        for key in [k for k, j in JOBS.items() if time.time() - j["started"] > 3600]:
            JOBS.pop(key, None)
        JOBS[job_id] = {
            "state": "running",
            "stage": "reading",
            "percent": 0,
            "label": label,
            "started": time.time(),
        }
    app = current_app._get_current_object()

    def run() -> None:
        with app.app_context():
            try:
                batch = work(_progress_for(job_id))
                result = {
                    "state": "done",
                    "batch_id": batch.id,
                    "percent": 100,
                    "status": batch.status,
                    "already": bool(getattr(batch, "already_imported", False)),
                }
            except RegistryError as exc:
                db.session.rollback()
                result = {"state": "error", "message": exc.message, "percent": 100}
            except Exception:  # the page must learn the job ended; the log keeps the trace
                db.session.rollback()
                current_app.logger.exception("Import job %s failed", job_id)
                result = {
                    "state": "error",
                    "message": "The import failed on our side; nothing was saved.",
                    "percent": 100,
                }
            finally:
                db.session.remove()
            with JOB_LOCK:
                JOBS[job_id].update(result)

    if current_app.config.get("IMPORT_BACKGROUND", True):
        threading.Thread(target=run, name=f"import-{job_id[:8]}", daemon=True).start()
    else:
        run()
        db.session.expire_all()  # the job wrote through its own session
    return job_id


# -- pages ---------------------------------------------------------------------


@bp.get("/")
@roles_required("admin", "donor")
def index():
    """The upload form, the organisation's saved mapping and its recent imports."""
    user = current_user()
    orgs = _orgs_for(user)
    # Previews replaced by a corrected upload or mapping ("Check again") are left out.
    stmt = select(ImportBatch).where(ImportBatch.status != "discarded").order_by(ImportBatch.id.desc()).limit(20)
    if user.role is not Role.ADMIN:
        stmt = stmt.where(ImportBatch.org_id == user.org_id)
    saved = saved_mapping(orgs[0].id) if len(orgs) == 1 else None
    return render_template(
        "imports/index.html",
        orgs=orgs,
        batches=list(db.session.scalars(stmt)),
        saved=saved,
        orgs_by_id={o.id: o for o in orgs},
        currencies=choices().currencies,
    )


@bp.post("/")
@roles_required("admin", "donor")
def upload():
    """Store the upload and start its preview (a dry run)."""
    from importers.api import detect

    user = current_user()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose a file to upload.", "error")
        return redirect(url_for(".index"))
    data = upload.read()
    if not data:
        flash("The file is empty.", "error")
        return redirect(url_for(".index"))
    org_id = request.form.get("org_id", type=int) or user.org_id
    if not org_id:
        flash("Choose the organisation whose projects the file holds.", "error")
        return redirect(url_for(".index"))
    org = db.session.get(Organisation, org_id)
    if org is None or not can_import(user, org):
        raise PermissionDenied("You may not import files for this organisation")
    kind = detect(data, upload.filename)
    options = {k: request.form[k] for k in ("sheet", "dates", "decimal", "currency") if request.form.get(k)}
    if kind == "crs" and request.form.get("prices") == "constant":
        options["prices"] = "constant"  # the CRS deflated columns, stored apart (docs/iati-crs.md)
    saved = saved_mapping(org.id, kind)
    if saved and request.form.get("use_saved"):
        for key, value in saved.mapping.items():
            if key in ("dates", "decimal", "currency"):
                options.setdefault(key, value)
        options["mapping"] = {"columns": saved.mapping.get("columns", {})}
    path, _sha = pipeline.store_file(data, upload.filename)
    actor, org_ref, filename = current_actor(), org.ref, upload.filename

    def work(progress):
        return pipeline.run_import(
            kind, filename, path, org_ref, actor, options=options, dry_run=True, progress=progress
        )

    job_id = start_job(work, f"Checking {filename}")
    return redirect(url_for(".job", job_id=job_id))


@bp.get("/jobs/<job_id>")
@roles_required("admin", "donor")
def job(job_id: str):
    """Progress of a running preview or commit; moves on to the batch when done."""
    state = JOBS.get(job_id)
    if state is None:
        abort(404)
    if state["state"] == "done":
        return redirect(url_for(".show", batch_id=state["batch_id"], already=1 if state.get("already") else None))
    return render_template("imports/job.html", job_id=job_id, job=state)


@bp.get("/jobs/<job_id>.json")
@roles_required("admin", "donor")
def job_status(job_id: str):
    """The job's state for the polling page."""
    state = JOBS.get(job_id)
    if state is None:
        return jsonify({"state": "unknown"}), 404
    body = {k: v for k, v in state.items() if k != "started"}
    if state.get("batch_id"):
        body["url"] = url_for(".show", batch_id=state["batch_id"], already=1 if state.get("already") else None)
    return jsonify(body)


@bp.get("/<int:batch_id>")
@roles_required("admin", "donor")
def show(batch_id: int):
    """The preview: rows as read, the mapping (editable), counts and every problem."""
    batch = _batch_for(batch_id)
    summary = pipeline.batch_summary(batch)
    options = batch.options or {}
    preview = options.get("preview") or {}
    mapping = (summary.get("mapping") or {}).get("columns", {})
    if getattr(batch, "already_imported", False) or request.args.get("already"):
        flash("This file was already imported; nothing changed.", "success")
    return render_template(
        "imports/show.html",
        batch=batch,
        summary=summary,
        preview=preview,
        mapping=mapping,
        fields=FIELDS,
        questions=options.get("questions") or {},
        options=options,
        org=db.session.get(Organisation, batch.org_id) if batch.org_id else None,
        problems=summary["problems"][:1000],
        currencies=choices().currencies,
        row_problems=_row_problems(preview, summary["problems"]),
        editable=batch.status in ("previewed", "failed"),
        money_text=pipeline.money_text,
    )


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
                short = problem["message"].split(": ", 1)[0]
                said.append(f"{problem['column']}: {short}" if problem.get("column") else short)
    for rows in found.values():
        for row, said in rows.items():
            if len(said) > most:
                rows[row] = [*said[:most], f"and {len(said) - most} more"]
    return found


def _mapping_from_form() -> dict:
    columns = {}
    for key, value in request.form.items():
        if key.startswith("map:") and value:
            columns[key[4:]] = value
    return {"columns": columns}


@bp.post("/<int:batch_id>/remap")
@roles_required("admin", "donor")
def remap(batch_id: int):
    """Check the same file again with the mapping and conventions chosen on the page."""
    batch = _batch_for(batch_id)
    if batch.status not in ("previewed", "failed"):
        flash("Only a preview can be checked again.", "error")
        return redirect(url_for(".show", batch_id=batch.id))
    options = {k: v for k, v in (batch.options or {}).items() if k in ("sheet", "org", "org_name")}
    options.update({k: request.form[k] for k in ("dates", "decimal", "currency", "sheet") if request.form.get(k)})
    options["mapping"] = _mapping_from_form()
    path = pipeline.storage_dir() / (batch.options or {}).get("stored_file", "")
    batch.status = "discarded"
    db.session.commit()
    actor, kind, filename, org_ref = (
        current_actor(),
        batch.kind,
        batch.filename,
        options.get("org", ""),
    )

    def work(progress):
        return pipeline.run_import(
            kind, filename, path, org_ref, actor, options=options, dry_run=True, progress=progress
        )

    return redirect(url_for(".job", job_id=start_job(work, f"Checking {filename} again")))


@bp.post("/<int:batch_id>/commit")
@roles_required("admin", "donor")
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
            "This batch is one organisation's part of a file of several, which is all-or-nothing: "
            "import the whole file again from the command line.",
            "error",
        )
        return redirect(url_for(".show", batch_id=batch.id))
    if not (batch.status == "previewed" or skippable):
        flash("Only a preview without errors can be committed.", "error")
        return redirect(url_for(".show", batch_id=batch.id))
    if batch.org_id:
        save_mapping(batch.org_id, batch.kind, batch.options or {})
    actor: Actor = current_actor()
    bid = batch.id
    job_id = start_job(
        lambda progress: pipeline.commit_batch(bid, actor, progress, skip_invalid=skip_invalid),
        f"Importing {batch.filename}",
    )
    return redirect(url_for(".job", job_id=job_id))


@bp.post("/<int:batch_id>/undo")
@roles_required("admin", "donor")
def undo(batch_id: int):
    """Undo a committed batch, or discard a preview."""
    batch = _batch_for(batch_id)
    if batch.status == "committed":
        pipeline.undo_batch(batch.id, current_actor())
        flash(
            "The import was undone: what it created is removed, what it changed is restored.",
            "success",
        )
    elif batch.status in ("previewed", "failed"):
        batch.status = "discarded"
        db.session.commit()
        flash("The preview was discarded.", "success")
    return redirect(url_for(".index"))


@bp.get("/<int:batch_id>/problems.<fmt>")
@roles_required("admin", "donor")
def problems(batch_id: int, fmt: str):
    """Every problem of a batch as CSV or XLSX."""
    batch = _batch_for(batch_id)
    columns = ["severity", "code", "sheet", "row", "column", "value", "message", "file"]
    rows = [[p.get(c) for c in columns] for p in batch.problems or []]
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


def stored_path(batch: ImportBatch) -> Path:
    """Where the batch's uploaded file is kept."""
    return pipeline.storage_dir() / (batch.options or {}).get("stored_file", "")
