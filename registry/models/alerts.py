"""Alerts: what a user follows, and the notifications they are sent in the app and by e-mail."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import db
from registry.models.accounts import User
from registry.models.types import UTCDateTime, utcnow

# How often a user hears of an alert by e-mail; "off" keeps it in the app's list only.
FREQUENCIES = ("immediate", "daily", "weekly", "off")
FOLLOW_KINDS = ("funding_source", "project", "country")


class Follow(db.Model):
    """A user following one funding source, project or country (one row per user and object)."""

    __tablename__ = "follows"
    __table_args__ = (
        UniqueConstraint("user_id", "funding_source_id"),
        UniqueConstraint("user_id", "project_id"),
        UniqueConstraint("user_id", "country_iso3"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # FOLLOW_KINDS; exactly one of the three below is set
    funding_source_id: Mapped[int | None] = mapped_column(ForeignKey("funding_sources.id", ondelete="CASCADE"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    country_iso3: Mapped[str | None] = mapped_column(ForeignKey("countries.iso3", ondelete="CASCADE"))
    frequency: Mapped[str] = mapped_column(String(16), default="daily")
    # The audit trail is read from here on: the events up to this id have been told.
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class Notification(db.Model):
    """One thing a user is told: kept as a message id and its parameters, so that it is shown
    in the reader's language, with the object it links to."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_read", "user_id", "read_at"),
        Index("ix_notifications_mail", "frequency", "emailed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    follow_id: Mapped[int | None] = mapped_column(ForeignKey("follows.id", ondelete="SET NULL"))
    saved_search_id: Mapped[int | None] = mapped_column(ForeignKey("saved_searches.id", ondelete="SET NULL"))
    # What it links to: "project", "funding_source", "projects" (a list filtered by country) ...
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str] = mapped_column(String(20))
    template: Mapped[str] = mapped_column(String(300))  # the English message id
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    # The alert's e-mail frequency when it was made (follows the alert's changes until e-mailed).
    frequency: Mapped[str] = mapped_column(String(16), default="off")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    emailed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
