"""soft delete: deleted_at and deleted_by on projects, flows, funding sources, organisations

A user's delete no longer removes the row: it is marked with when and by whom, hidden from
every list, report and export, and restorable by its owner or an administrator. Import undo
still removes the rows an import created.

Revision ID: 0019_soft_delete
Revises: 0018_token_scopes
Create Date: 2026-12-07 06:00:00
"""

from alembic import op
import sqlalchemy as sa

from registry.models.types import UTCDateTime


revision = "0019_soft_delete"
down_revision = "0018_token_scopes"
branch_labels = None
depends_on = None

TABLES = ("organisations", "funding_sources", "projects", "transactions")


def upgrade():
    for table in TABLES:
        op.add_column(table, sa.Column("deleted_at", UTCDateTime(timezone=True), nullable=True))
        op.add_column(table, sa.Column("deleted_by", sa.String(length=200), nullable=True))


def downgrade():
    # The rows marked deleted would come back as live ones: remove them instead, as a
    # delete did before this revision (flows first, then what they point at).
    op.execute("DELETE FROM transactions WHERE deleted_at IS NOT NULL")
    op.execute("DELETE FROM transactions WHERE project_id IN (SELECT id FROM projects WHERE deleted_at IS NOT NULL)")
    op.execute("DELETE FROM projects WHERE deleted_at IS NOT NULL")
    op.execute("DELETE FROM funding_sources WHERE deleted_at IS NOT NULL")
    op.execute("DELETE FROM organisations WHERE deleted_at IS NOT NULL")
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("deleted_by")
            batch.drop_column("deleted_at")
