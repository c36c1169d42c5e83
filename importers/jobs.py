"""The background job runner of the import pages: a preview or a commit of a large file runs in
a thread with its own app context (and so its own session), and the page polls its state.

A job is one unit of work: the runner commits once when the work returns (the pipeline never
commits), or rolls back when it raises. Set ``IMPORT_BACKGROUND = False`` to run jobs inline
(tests); they still run in their own app context and session.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from flask import current_app

from registry.errors import RegistryError
from registry.extensions import db
from registry.models import ImportBatch
from registry.sqlite import writing
from registry.unit_of_work import commit

# Background jobs of this process: id -> state. Small, in memory, forgotten after an hour.
JOBS: dict[str, dict[str, Any]] = {}
JOB_LOCK = threading.Lock()
STAGE_RANGES = {"reading": (0, 40), "validating": (40, 70), "writing": (70, 99)}

Work = Callable[[Callable[[int, int, str], None]], ImportBatch]


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


def _run_job(job_id: str, work: Work) -> dict[str, Any]:
    """Do the work as one unit: commit what it leaves in the session, or roll it all back."""
    try:
        with writing():  # on SQLite the job's transaction takes the write lock when it begins
            batch = work(_progress_for(job_id))
            commit()  # a clash with another writer is a ConflictError: the job ends in error
        return {
            "state": "done",
            "batch_id": batch.id,
            "percent": 100,
            "status": batch.status,
            "already": bool(getattr(batch, "already_imported", False)),
        }
    except RegistryError as exc:
        db.session.rollback()
        return {"state": "error", "message": exc.message, "percent": 100}
    except Exception:  # the page must learn the job ended; the log keeps the trace
        db.session.rollback()
        current_app.logger.exception("Import job %s failed", job_id)
        return {"state": "error", "message": "The import failed on our side; nothing was saved.", "percent": 100}
    finally:
        db.session.remove()


def start_job(work: Work, label: str) -> str:
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
            result = _run_job(job_id, work)
        with JOB_LOCK:
            JOBS[job_id].update(result)

    if current_app.config.get("IMPORT_BACKGROUND", True):
        threading.Thread(target=run, name=f"import-{job_id[:8]}", daemon=True).start()
    else:
        run()
        db.session.expire_all()  # the job wrote through its own session
    return job_id
