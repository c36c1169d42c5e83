"""transactions by funding source: index only the flows that name one

Most flows name no funding source (a donor's own spreadsheet rarely has the column), and
every lookup by source compares with a given source id, which the partial index answers
as the full one did. Imports no longer pay a B-tree insert for each flow without a source.

Revision ID: 0009_partial_source_index
Revises: 0008_report_facts
Create Date: 2026-11-25 18:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_partial_source_index'
down_revision = '0008_report_facts'
branch_labels = None
depends_on = None

NOT_NULL = sa.text('funding_source_id IS NOT NULL')


def upgrade():
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_transactions_source')
        batch_op.create_index(
            'ix_transactions_source',
            ['funding_source_id'],
            unique=False,
            sqlite_where=NOT_NULL,
            postgresql_where=NOT_NULL,
        )


def downgrade():
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_transactions_source')
        batch_op.create_index('ix_transactions_source', ['funding_source_id'], unique=False)
