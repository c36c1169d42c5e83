"""rates beyond the ECB: an index of the flows not converted at a daily rate

A flow in a currency the ECB does not publish (or dated before 1999) is converted at the
IMF annual average of its year (``usd_rate_source = 'imf_annual'``), and a flow that no
source converts keeps an empty USD value. Every report says how much of its figures came
from annual rates and lists the amounts it could not convert: a partial index over just
those flows (a few, usually none) answers that without reading the others.

Revision ID: 0012_rate_sources
Revises: 0011_real_data
Create Date: 2026-12-07 02:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_rate_sources'
down_revision = '0011_real_data'
branch_labels = None
depends_on = None

NOT_DAILY = sa.text("usd_minor IS NULL OR usd_rate_source = 'imf_annual'")


def upgrade():
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.create_index(
            'ix_transactions_not_daily',
            ['project_id'],
            unique=False,
            sqlite_where=NOT_DAILY,
            postgresql_where=NOT_DAILY,
        )


def downgrade():
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_transactions_not_daily')
