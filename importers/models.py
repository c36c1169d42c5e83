"""Tables of the importers: what a batch changed (for undo) and saved column mappings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import db
from registry.models.types import UTCDateTime, utcnow


class ImportChange(db.Model):
    """One object an import batch created or changed, with what it was before (for undo)."""

    __tablename__ = "import_changes"
    __table_args__ = (Index("ix_import_changes_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("import_batches.id", ondelete="CASCADE"), index=True
    )
    entity_type: Mapped[str] = mapped_column(String(40))  # project, organisation
    entity_id: Mapped[int] = mapped_column()
    action: Mapped[str] = mapped_column(String(16))  # create, update
    # For an update: the project's snapshot, its import_batch_id, and the rows of the
    # transactions the batch replaced, so that undo restores them exactly.
    before: Mapped[dict | None] = mapped_column(JSON)


class SavedMapping(db.Model):
    """The column mapping an organisation confirmed for its spreadsheets, offered next time."""

    __tablename__ = "import_mappings"
    __table_args__ = (UniqueConstraint("org_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="sheet")
    # {"columns": {header: field}, "decimal": ",", "dates": "dmy", ...}
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
