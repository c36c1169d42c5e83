"""``flask jobs``: run the queue worker, list jobs, show one."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from registry import queue as jobs_queue
from registry.extensions import db
from registry.models import Job
from registry.models.jobs import JOB_STATUSES

jobs_cli = AppGroup("jobs", help="Background jobs: the queue worker, and the jobs' state.")


@jobs_cli.command("worker")
@click.option("--workers", default=2, show_default=True, help="Jobs run at the same time.")
@click.option(
    "--worker-type",
    type=click.Choice(["process", "thread"]),
    default="process",
    show_default=True,
    help="process: each job in a forked worker process, with a hard time limit (SIGALRM) and memory cap.",
)
@click.option(
    "--periodic/--no-periodic",
    default=True,
    show_default=True,
    help="Also run the periodic tasks (the alerts' collection and e-mails, docs/alerts.md).",
)
def worker(workers: int, worker_type: str, periodic: bool) -> None:
    """Run the queue worker (the huey consumer) until interrupted: it takes the queued jobs and
    runs each in the app's context, and runs the periodic tasks unless told not to."""
    q = jobs_queue.queue()
    if q.immediate:
        raise click.ClickException("QUEUE_IMMEDIATE is set: jobs run inline when queued; there is no queue to serve")
    problem = q.reachable()
    if problem:
        raise click.ClickException(problem)
    click.echo(f"Queue worker: {workers} {worker_type} worker(s) on {type(q.huey).__name__}", err=True)
    consumer = q.huey.create_consumer(workers=workers, worker_type=worker_type, periodic=periodic)
    consumer.run()


@jobs_cli.command("list")
@click.option("--status", type=click.Choice(JOB_STATUSES))
@click.option("--kind", help="e.g. import.file, import.commit, import.undo, facts.rebuild")
@click.option("--limit", default=20, show_default=True)
def list_jobs(status: str | None, kind: str | None, limit: int) -> None:
    """The latest jobs, newest first."""
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Job.status == status)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    found = list(db.session.scalars(stmt))
    if not found:
        click.echo("No jobs.")
        return
    for job in found:
        view = jobs_queue.job_view(job)
        when = (view["created_at"] or "")[:19].replace("T", " ")
        click.echo(f"{job.id:>6}  {when}  {job.status:<7} {view['percent']:>3}%  {job.kind:<14} {job.label}")


@jobs_cli.command("show")
@click.argument("job_id", type=int)
def show(job_id: int) -> None:
    """One job: its state, progress, message and result, as JSON."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise click.ClickException(f"No job {job_id}")
    click.echo(json.dumps({**jobs_queue.job_view(job), "params": _public(job.params or {})}, indent=2))


@jobs_cli.command("submit")
@click.argument("kind")
def submit(kind: str) -> None:
    """Queue a job that needs no arguments (e.g. ``facts.rebuild``)."""
    if kind not in jobs_queue.KINDS or jobs_queue.KINDS[kind].needs_params:
        known = ", ".join(sorted(k for k, v in jobs_queue.KINDS.items() if not v.needs_params))
        raise click.ClickException(f"{kind!r} is not a job to queue from here; these are: {known}")
    job = jobs_queue.submit(kind, {}, jobs_queue.KINDS[kind].label or kind)
    click.echo(f"Job {job.id} queued ({kind}); follow it with: flask --app wsgi jobs show {job.id}")


def _public(params: dict) -> dict:
    """A job's arguments without who asked (shown by ``jobs show``)."""
    return {k: v for k, v in params.items() if k != "actor"}
