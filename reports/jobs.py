"""The reports' jobs on the queue (``registry.queue``): the report facts rebuilt for every project.

A rebuild is idempotent (it recomputes derived tables from the flows), so an attempt that
failed on an unexpected error is tried again."""

from __future__ import annotations

from registry import queue
from reports import facts

FACTS_REBUILD = "facts.rebuild"


def _rebuild(params: dict, progress: queue.Progress) -> dict:
    progress(0, 1, "rebuilding")
    facts.forget()
    done = facts.ensure_fresh()
    progress(1, 1, "rebuilding")
    return {"rebuilt": bool(done.get("rebuilt")), "projects": int(done.get("projects", 0))}


def register() -> None:
    """Declare the reports' jobs (called by ``reports.init_app``)."""
    queue.register_kind(FACTS_REBUILD, _rebuild, retries=2, needs_params=False, label="Rebuild the report facts")
