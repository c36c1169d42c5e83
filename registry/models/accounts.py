"""User accounts and API tokens."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import db
from registry.models.organisation import Organisation, enum_column
from registry.models.types import Role, UTCDateTime, utcnow


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))  # argon2
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    country_iso3: Mapped[str | None] = mapped_column(ForeignKey("countries.iso3"))
    active: Mapped[bool] = mapped_column(default=True)
    demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Part of every session cookie; raising it (logout, a new password) ends all of them.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    # The language of the user's pages (registry/i18n.py LANGUAGES); none: the browser's.
    language: Mapped[str | None] = mapped_column(String(8))

    org: Mapped[Organisation | None] = relationship()


class ApiToken(db.Model):
    """A bearer token, stored only as its SHA-256 hash, with what it may do (its scopes) and
    until when: an expired or revoked token authenticates nobody."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # first characters, to tell tokens apart
    name: Mapped[str] = mapped_column(String(100), default="")  # what the token is for
    # Space-separated, in the order read, write, import (registry/services/tokens.py keeps it so).
    scopes: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
