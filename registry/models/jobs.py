"""Background jobs: what was asked, by whom, how far it got and how it ended.

The queue (``registry.queue``) only carries a job's id; everything a page, the API or the
command line shows about a job is this row, so any web process can show any job."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import db
from registry.models.types import UTCDateTime, utcnow

JOB_STATUSES = ("queued", "running", "done", "failed")


class Job(db.Model):
    """One piece of work run by a queue worker (an import, an undo, a fact rebuild, an export)."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)  # import.preview, import.undo, facts.rebuild ...
    label: Mapped[str] = mapped_column(String(300), default="")  # "Checking donor.xlsx", for people
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # JOB_STATUSES
    stage: Mapped[str] = mapped_column(String(40), default="")  # reading, validating, writing ...
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)  # 0: not known yet
    message: Mapped[str] = mapped_column(Text, default="")  # why it failed, or what it is waiting for
    params: Mapped[dict] = mapped_column(JSON, default=dict)  # the job's arguments (plain values)
    result: Mapped[dict] = mapped_column(JSON, default=dict)  # the summary when done
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
