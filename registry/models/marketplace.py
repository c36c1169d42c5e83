"""The marketplace: donors' interest in pipeline projects, and saved searches with feeds."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import db
from registry.models.accounts import User
from registry.models.organisation import Organisation
from registry.models.project import Project
from registry.models.types import UTCDateTime, utcnow


class PipelineInterest(db.Model):
    """A donor organisation's interest in a pipeline project (one per organisation and project)."""

    __tablename__ = "pipeline_interests"
    __table_args__ = (UniqueConstraint("project_id", "org_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship()
    org: Mapped[Organisation] = relationship()
    user: Mapped[User | None] = relationship()


class SavedSearch(db.Model):
    """A user's stored finder or pipeline query; its secret token opens the Atom and CSV feeds."""

    __tablename__ = "saved_searches"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # "funding": funding sources for a need; "pipeline": pipeline projects for a donor.
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    # Feed readers cannot log in: the unguessable token in the URL is the credential.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Alerts (registry/services/alerts.py): how often its new matches are e-mailed ("off": in
    # the app only), the matches already told (None until first checked), when last checked.
    alert_frequency: Mapped[str] = mapped_column(String(16), default="off", server_default="off")
    alert_known: Mapped[list | None] = mapped_column(JSON)
    alert_checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
