"""The job queue: long work (imports, undos, fact rebuilds, large exports) runs on a worker
process, not inside a web request.

The queue library is huey. Its storage is chosen by ``QUEUE_URL``:

- unset (the embedded default): ``SqliteHuey``, a file beside the database in the instance
  folder (``QUEUE_FILE``, default ``instance/queue.sqlite3``);
- ``redis://...`` (production): ``RedisHuey``;
- ``QUEUE_IMMEDIATE = True`` (the test suite): huey's immediate mode, each job runs inline
  when it is enqueued, in its own app context and session.

The queue carries only a job's id. What a job is, who asked, its state (queued, running,
done, failed), progress, message and result are a row of ``jobs`` (``registry.models.Job``):
any web process shows any job. A package declares the kinds of job it runs with
:func:`register_kind` (importers and reports do, from their ``init_app``); the registry never
imports them.

A job is one unit of work: the worker commits the work and the job's end ("done", its result)
together, or rolls the work back and records "failed" with the reason. Each job runs under a
time limit and a memory limit (``JOB_TIME_LIMIT`` seconds, ``JOB_MEMORY_LIMIT_MB``); one
over its limit ends "failed", its message naming the limit. A kind declares how many times
an unexpected error (a lost connection, a locked database) is retried: only kinds whose work
is idempotent are retried; a refusal by the registry's rules is never retried.
"""

from __future__ import annotations

import logging
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.exceptions import TaskTimeout
from sqlalchemy import select, update

from registry.errors import NotFoundError, PermissionDenied, RegistryError
from registry.extensions import db
from registry.models import Job, User
from registry.models.types import Role, utcnow
from registry.sqlite import writing
from registry.unit_of_work import commit

log = logging.getLogger("registry.queue")

EXTENSION = "registry.queue"
DEFAULT_TIME_LIMIT = 30 * 60  # seconds
DEFAULT_MEMORY_LIMIT_MB = 2048
PROGRESS_EVERY = 0.5  # seconds between two progress writes of one job

Progress = Callable[[int, int, str], None]
Runner = Callable[[dict, Progress], dict]


class JobLimitExceeded(RuntimeError):
    """A job went over its time or memory limit."""


@dataclass(frozen=True)
class JobKind:
    """A kind of job: the function that does it, and how it is retried and shown."""

    name: str
    run: Runner  # run(params, progress) -> result summary; leaves its work in the session
    retries: int = 0  # retries after an unexpected error; only for idempotent work
    retry_delay: int = 5  # seconds
    percent: Callable[[str, int, int], int] | None = None  # (stage, done, total) -> 0..100
    needs_params: bool = True  # False: `flask jobs submit KIND` may queue it as it is
    label: str = ""  # what a job of this kind is called when it has no label of its own


KINDS: dict[str, JobKind] = {}


# Modules a worker process imports before its address space is capped (see preload).
PRELOAD: list[str] = []


def preload(module: str) -> None:
    """Declare a module that jobs load and that the worker processes import when they start,
    before their address space is capped at its size plus the job memory limit (called by a
    package's ``init_app``): a large library (pandas for the CRS reader) then counts in what
    the process is, not against every job's limit, without the web processes loading it."""
    if module not in PRELOAD:
        PRELOAD.append(module)


def _prepare_worker(config: dict) -> None:
    """In a worker process as it starts: import the preloaded modules, then cap the address space."""
    for module in PRELOAD:
        import_module(module)
    _limit_address_space(config)


def register_kind(
    name: str,
    run: Runner,
    *,
    retries: int = 0,
    retry_delay: int = 5,
    percent: Callable[[str, int, int], int] | None = None,
    needs_params: bool = True,
    label: str = "",
) -> None:
    """Declare a kind of job (called by a package's ``init_app``)."""
    KINDS[name] = JobKind(name, run, retries, retry_delay, percent, needs_params, label)


# --------------------------------------------------------------------------- the queue


class Queue:
    """The app's huey instance and its one task, ``run_job(job_id)``."""

    def __init__(self, app: Flask):
        self.app = app
        self.huey = make_huey(app.config, app.instance_path)
        queue = self

        @self.huey.task(context=True, name="registry.run_job")
        def run_job_task(job_id: int, task=None) -> None:
            retries_left = task.retries if task is not None else 0
            # Its own app context, so its own session: in immediate mode too, where the job
            # runs inside the request that queued it.
            with queue.app.app_context(), writing():  # a writer's transactions (BEGIN IMMEDIATE on SQLite)
                try:
                    run_job(job_id, retries_left)
                except TaskTimeout:
                    # The hard stop (SIGALRM, process workers) struck outside the work itself.
                    db.session.rollback()
                    _finish_failed(
                        job_id, f"The job went over {_time_text(queue.app.config)} and was stopped; nothing was saved."
                    )
                finally:
                    db.session.remove()

        self.task = run_job_task

        @self.huey.on_startup()
        def _own_connections() -> None:
            # A forked worker process must not share the parent's database connections.
            with queue.app.app_context():
                db.engine.dispose(close=False)
            _prepare_worker(queue.app.config)

    @property
    def immediate(self) -> bool:
        return self.huey.immediate

    def send(self, job_id: int, kind_name: str) -> None:
        """Put the job's id on the queue (after the row is committed)."""
        kind = KINDS.get(kind_name)
        retries = kind.retries if kind else 0
        message = self.task.s(
            job_id, retries=retries, retry_delay=kind.retry_delay if kind else 0, timeout=hard_limit(self.app.config)
        )
        self.huey.enqueue(message)

    def progress_key(self, job_id: int) -> str:
        return f"job-progress:{job_id}"

    def reachable(self) -> str | None:
        """None when the queue's storage answers, else what is wrong."""
        try:
            self.huey.storage.queue_size()
        except Exception as exc:  # any storage failure: a missing folder, Redis down, a locked file
            return f"the job queue does not answer: {type(exc).__name__}: {exc}"
        return None


def make_huey(config: dict, instance_path: str) -> Huey:
    """The huey instance the configuration asks for (see the module docstring)."""
    name = config.get("QUEUE_NAME", "registry")
    if config.get("QUEUE_IMMEDIATE"):
        return MemoryHuey(name, immediate=True)
    url = (config.get("QUEUE_URL") or "").strip()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url)
    if url:
        raise RuntimeError(f"QUEUE_URL {url!r} is not a redis:// URL; leave it unset for the SQLite queue file")
    path = Path(config.get("QUEUE_FILE") or Path(instance_path) / "queue.sqlite3")
    return SqliteHuey(name, filename=str(path), timeout=30)


def queue() -> Queue:
    """The current app's queue."""
    return current_app.extensions[EXTENSION]


def time_limit(config: dict) -> int:
    return int(config.get("JOB_TIME_LIMIT") or DEFAULT_TIME_LIMIT)


def hard_limit(config: dict) -> int:
    """When a process worker stops a job by force (huey's timeout, SIGALRM): a little after the
    time limit, which the job's own progress checks enforce first."""
    limit = time_limit(config)
    return limit + max(5, limit // 10)


def _time_text(config: dict) -> str:
    return f"the time limit of {time_limit(config)} s"


def memory_limit_mb(config: dict) -> int:
    return int(config.get("JOB_MEMORY_LIMIT_MB") or DEFAULT_MEMORY_LIMIT_MB)


def _limit_address_space(config: dict) -> None:
    """In a worker process: cap its address space at what it holds now plus the job memory
    limit, so that a runaway job gets MemoryError instead of taking the machine down."""
    try:
        with open("/proc/self/statm") as f:
            size_now = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = size_now + memory_limit_mb(config) * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))


def _resident_mb() -> float:
    """The process's resident memory now, in MB."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- enqueueing


def create_job(kind: str, params: dict, label: str, owner: User | None = None, org_id: int | None = None) -> Job:
    """Add a queued job to the session (the caller commits, then :func:`send` s it)."""
    if kind not in KINDS:
        raise ValueError(f"No job kind {kind!r}")
    job = Job(
        kind=kind,
        label=label[:300],
        owner_id=owner.id if owner is not None else None,
        org_id=org_id,
        status="queued",
        stage="queued",
        progress_done=0,
        progress_total=0,
        message="",
        params=params,
        result={},
        attempts=0,
    )
    db.session.add(job)
    db.session.flush()
    return job


def send(job_id: int, kind: str) -> None:
    """Put a committed job on the queue. A queue that cannot be reached fails the job (committed,
    with the reason) and raises QueueUnavailable.

    Takes the id and kind, not the object: reading an expired object here would begin a new
    transaction before the job runs (inline, in immediate mode, on the same connection in tests)."""
    try:
        queue().send(job_id, kind)
    except Exception as exc:  # Redis down, the queue file unwritable
        log.exception("Could not enqueue job %s", job_id)
        db.session.rollback()
        failed = db.session.get(Job, job_id)
        if failed is not None and failed.status == "queued":
            failed.status, failed.finished_at = "failed", utcnow()
            failed.message = "The job queue could not be reached; nothing was done. Try again later."
            commit()
        raise QueueUnavailable(f"The job queue could not be reached: {type(exc).__name__}") from None
    if queue().immediate:
        db.session.expire_all()  # the job ran inline through its own session


def submit(kind: str, params: dict, label: str, owner: User | None = None, org_id: int | None = None) -> Job:
    """Create a job, commit it (with whatever the caller's unit of work holds), and enqueue it."""
    job = create_job(kind, params, label, owner, org_id)
    job_id = job.id
    commit()
    send(job_id, kind)
    return job


class QueueUnavailable(RegistryError):
    code = 503


# --------------------------------------------------------------------------- running


class JobProgress:
    """The progress callback a job's work calls: throttled writes of (done, total, stage) where
    other processes read them, and the job's limits checked at each call."""

    def __init__(self, job_id: int, app: Flask, started: float):
        self.job_id = job_id
        self.app = app
        self.started = started
        self.time_limit = time_limit(app.config)
        self.memory_limit = memory_limit_mb(app.config)
        self.last_write = 0.0
        self.stage = ""
        self.state: tuple[int, int, str] = (0, 0, "")

    def __call__(self, done: int, total: int, stage: str) -> None:
        self.check_limits()
        self.state = (int(done), int(total), stage)
        now = time.monotonic()
        if stage == self.stage and now - self.last_write < PROGRESS_EVERY:
            return
        self.stage, self.last_write = stage, now
        write_progress(self.app, self.job_id, *self.state)

    def check_limits(self) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed > self.time_limit:
            raise JobLimitExceeded(_time_text(self.app.config))
        if _resident_mb() > self.memory_limit:
            raise JobLimitExceeded(f"the memory limit of {self.memory_limit} MB")


def _live_in_database(app: Flask) -> bool:
    """Whether progress goes to the job's row while the job's own transaction is open.

    PostgreSQL takes a second writer: the row is updated through its own connection and
    committed at once. SQLite has one writer at a time, and the job's transaction is that
    writer, so there the live figures go to the queue's storage (the SQLite queue file or
    Redis) and reach the row when the job ends."""
    return db.engine.dialect.name != "sqlite"


def write_progress(app: Flask, job_id: int, done: int, total: int, stage: str) -> None:
    """Publish a running job's progress where every process reads it."""
    try:
        if _live_in_database(app):
            with db.engine.connect() as connection:
                connection.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.status == "running")
                    .values(progress_done=done, progress_total=total, stage=stage[:40])
                )
                connection.commit()
        else:
            q: Queue = app.extensions[EXTENSION]
            q.huey.put(q.progress_key(job_id), (done, total, stage))
    except Exception:  # progress is advisory: a failed write never stops the job
        log.warning("Could not record the progress of job %s", job_id, exc_info=True)


def run_job(job_id: int, retries_left: int = 0) -> None:
    """Run one job in the current app context: mark it running (committed), do the work, commit
    the work with the job's end, or roll the work back and record why it failed."""
    app = current_app._get_current_object()
    job = db.session.get(Job, job_id)
    if job is None:
        log.warning("Job %s is not in the database; skipped", job_id)
        return
    if job.status in ("done", "failed"):
        log.info("Job %s is already %s; skipped", job_id, job.status)
        return
    kind = KINDS.get(job.kind)
    if kind is None:
        _finish_failed(job_id, f"No worker knows jobs of kind {job.kind!r}")
        return
    job.status, job.started_at, job.finished_at = "running", utcnow(), None
    job.attempts = (job.attempts or 0) + 1
    job.message, job.stage = "", "starting"
    params = dict(job.params or {})
    commit()
    started = time.monotonic()
    progress = JobProgress(job_id, app, started)
    try:
        result = kind.run(params, progress)
        progress.check_limits()
        job = db.session.get(Job, job_id)
        done, total, stage = progress.state
        job.status, job.finished_at, job.stage = "done", utcnow(), "done"
        job.progress_done, job.progress_total = max(done, total), max(done, total)
        job.result = result or {}
        job.message = ""
        commit()  # the work and the job's end, together
        log.info("Job %s (%s) done in %.1f s", job_id, job.kind, time.monotonic() - started)
    except (JobLimitExceeded, TaskTimeout, MemoryError) as exc:
        db.session.rollback()
        if isinstance(exc, JobLimitExceeded):
            limit = str(exc)
        elif isinstance(exc, TaskTimeout):
            limit = _time_text(app.config)
        else:
            limit = f"the memory limit of {memory_limit_mb(app.config)} MB"
        _finish_failed(job_id, f"The job went over {limit} and was stopped; nothing was saved.", progress.state)
    except RegistryError as exc:
        db.session.rollback()
        _finish_failed(job_id, exc.message, progress.state)
    except KeyboardInterrupt:  # the worker was told to stop now (SIGTERM to a process worker)
        db.session.rollback()
        _finish_failed(job_id, "The worker was stopped while the job ran; nothing was saved.", progress.state)
        raise
    except Exception as exc:
        db.session.rollback()
        log.exception("Job %s (%s) failed", job_id, kind.name)
        if retries_left > 0 and kind.retries > 0:
            _requeue(job_id, f"Attempt failed ({type(exc).__name__}); trying again in {kind.retry_delay} s.")
            raise  # huey schedules the retry
        _finish_failed(job_id, "The job failed on our side; nothing was saved.", progress.state)
    finally:
        try:
            app.extensions[EXTENSION].huey.delete(app.extensions[EXTENSION].progress_key(job_id))
        except Exception:
            pass
        db.session.remove()


def _finish_failed(job_id: int, message: str, state: tuple[int, int, str] | None = None) -> None:
    job = db.session.get(Job, job_id)
    if job is None or job.status == "done":  # a done job's work is committed: it stays done
        return
    job.status, job.finished_at, job.message = "failed", utcnow(), message
    if state and state[2]:
        job.progress_done, job.progress_total, job.stage = state[0], state[1], state[2][:40]
    commit()


def _requeue(job_id: int, message: str) -> None:
    job = db.session.get(Job, job_id)
    if job is not None:
        job.status, job.message, job.stage = "queued", message, "queued"
        commit()


# --------------------------------------------------------------------------- reading


def job_for(user: User | None, job_id: int) -> Job:
    """A job the user may see: their own, or any for an administrator."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"No job {job_id}")
    if user is None or (user.role != Role.ADMIN and job.owner_id != user.id):
        raise PermissionDenied(f"Job {job_id} is not yours")
    return job


def visible_jobs(user: User):
    """The jobs a user may list (all for an administrator)."""
    stmt = select(Job).order_by(Job.id.desc())
    if user.role != Role.ADMIN:
        stmt = stmt.where(Job.owner_id == user.id)
    return stmt


def live_progress(job: Job) -> tuple[int, int, str]:
    """A job's progress: the row's, or, for a running job on SQLite, the queue's live figures."""
    figures = (job.progress_done or 0, job.progress_total or 0, job.stage or "")
    if job.status != "running" or _live_in_database(current_app):
        return figures
    try:
        q = queue()
        live = q.huey.get(q.progress_key(job.id), peek=True)
    except Exception:
        return figures
    return tuple(live) if live else figures  # type: ignore[return-value]


def percent(job: Job, done: int, total: int, stage: str) -> int:
    """How far a job is, 0-100 (100 only when it ended)."""
    if job.status in ("done", "failed"):
        return 100
    if job.status != "running":
        return 0
    kind = KINDS.get(job.kind)
    if kind is not None and kind.percent is not None and stage:
        return max(0, min(99, kind.percent(stage, done, total)))
    return min(99, done * 100 // total) if total else 0


def job_view(job: Job) -> dict[str, Any]:
    """A job as plain values (the API's and the pages' shape)."""
    done, total, stage = live_progress(job)
    return {
        "id": job.id,
        "kind": job.kind,
        "label": job.label,
        "owner_id": job.owner_id,
        "org_id": job.org_id,
        "status": job.status,
        "stage": stage,
        "done": done,
        "total": total,
        "percent": percent(job, done, total, stage),
        "message": job.message,
        "result": job.result or {},
        "attempts": job.attempts,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def init_app(app: Flask) -> None:
    """Give the app its queue (the worker command is ``flask jobs worker``)."""
    app.config.setdefault("QUEUE_URL", os.environ.get("QUEUE_URL", ""))
    app.config.setdefault("QUEUE_FILE", os.environ.get("QUEUE_FILE", ""))
    app.config.setdefault("JOB_TIME_LIMIT", int(os.environ.get("JOB_TIME_LIMIT", DEFAULT_TIME_LIMIT)))
    app.config.setdefault("JOB_MEMORY_LIMIT_MB", int(os.environ.get("JOB_MEMORY_LIMIT_MB", DEFAULT_MEMORY_LIMIT_MB)))
    app.extensions[EXTENSION] = Queue(app)
