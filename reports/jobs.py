"""The reports' jobs on the queue (``registry.queue``): the report facts rebuilt for every
project, and the funding-gap workbook made for a download.

Both are idempotent (a rebuild recomputes derived tables from the flows; an export writes its
own file again), so an attempt that failed on an unexpected error is tried again."""

from __future__ import annotations

import uuid

from flask import current_app
from flask_babel import force_locale
from marshmallow import RAISE

from registry import queue
from registry.api.jobs import job_files
from registry.i18n import DEFAULT_LANGUAGE, current_language
from registry.models import Job, User
from reports import facts

FACTS_REBUILD = "facts.rebuild"
GAP_EXPORT = "export.funding_gap"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _rebuild(params: dict, progress: queue.Progress) -> dict:
    progress(0, 1, "rebuilding")
    facts.forget()
    done = facts.ensure_fresh()
    progress(1, 1, "rebuilding")
    return {"rebuilt": bool(done.get("rebuilt")), "projects": int(done.get("projects", 0))}


def _gap_export(params: dict, progress: queue.Progress) -> dict:
    """The funding-gap workbook of the query the analyst sent, written to the jobs' file folder."""
    from reports.api import _file_name, blp
    from reports.schemas import GapQuery
    from reports.workbook import funding_gap_workbook

    progress(0, 1, "exporting")
    # The same parameters, read by the same schema as the request that queued the job.
    with current_app.test_request_context("/?" + params["query"]):
        spec = blp.ARGUMENTS_PARSER.parse(GapQuery(unknown=RAISE), location="query")
    # in the language of the request that queued it (jobs queued before: English)
    with force_locale(params.get("language") or DEFAULT_LANGUAGE):
        body = funding_gap_workbook(spec)
    (job_files() / params["file"]).write_bytes(body)
    progress(1, 1, "exporting")
    filename = _file_name("funding-gap", spec, "xlsx", by=False)
    return {"file": params["file"], "filename": filename, "mimetype": XLSX, "bytes": len(body)}


def start_gap_export(query_string: str, owner: User) -> Job:
    """Queue the funding-gap workbook of a query (commits the job row)."""
    params = {"query": query_string, "file": f"funding-gap-{uuid.uuid4().hex}.xlsx", "language": current_language()}
    return queue.submit(GAP_EXPORT, params, "Funding-gap workbook", owner, owner.org_id)


def register() -> None:
    """Declare the reports' jobs (called by ``reports.init_app``)."""
    queue.register_kind(FACTS_REBUILD, _rebuild, retries=2, needs_params=False, label="Rebuild the report facts")
    queue.register_kind(GAP_EXPORT, _gap_export, retries=2)
