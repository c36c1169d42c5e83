"""Liveness and readiness probes for a load balancer or an orchestrator.

``/healthz`` says the process answers and the job queue's storage (the SQLite queue file, or
Redis) can be reached: 503 naming the queue otherwise, since imports and undos cannot run
without it. It does not touch the database. ``/readyz`` says the app can serve: the database
answers ``SELECT 1`` and its schema is at the migrations' head (alembic's revision in the
database equals the head of ``migrations/versions``), and the queue answers; otherwise 503
with what is wrong. Neither needs a login, neither writes (the readiness
check only reads; the request's session is closed without a commit), and both are exempt from CSRF.
"""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from registry.extensions import csrf, db
from registry.queue import queue

bp = Blueprint("health", __name__)


def migration_heads(directory: str) -> set[str]:
    """The head revision(s) of the migration scripts."""
    return set(ScriptDirectory(directory).get_heads())


def readiness_problems(directory: str) -> list[str]:
    """What keeps the app from serving; empty when it is ready."""
    try:
        connection = db.session.connection()
        connection.execute(text("SELECT 1"))
        current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        return [f"the database does not answer: {type(exc).__name__}"]
    heads = migration_heads(directory)
    problems = []
    if current != heads:
        found = ", ".join(sorted(current)) or "none (no alembic_version)"
        problems.append(f"the database is at revision {found}, the migrations' head is {', '.join(sorted(heads))}")
    queue_problem = queue().reachable()
    if queue_problem:
        problems.append(queue_problem)
    return problems


@bp.get("/healthz")
def healthz():
    problem = queue().reachable()
    if problem:
        return jsonify(status="unavailable", problems=[problem]), 503
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    problems = readiness_problems(current_app.config["MIGRATIONS_DIR"])
    if problems:
        return jsonify(status="unavailable", problems=problems), 503
    return jsonify(status="ok")


def init_app(app: Flask, migrations_dir: str) -> None:
    app.config.setdefault("MIGRATIONS_DIR", migrations_dir)
    csrf.exempt(bp)
    app.register_blueprint(bp)
