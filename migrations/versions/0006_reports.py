"""reports: covering index over the money flows

Revision ID: 0006_reports
Revises: 0004_imports
Create Date: 2026-11-25 13:10:00

"""
from alembic import op


revision = '0006_reports'
down_revision = '0004_imports'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.create_index(
            'ix_transactions_report',
            ['project_id', 'type', 'value_date', 'usd_minor', 'currency', 'amount_minor'],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_transactions_report')
