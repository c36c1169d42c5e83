"""forward plans: a project's budgets and planned disbursements by period

The Tunis Agenda (paragraph 27) asks for financing that is predictable. IATI publishes an
activity's forward plans as ``budget`` (original or revised, indicative or committed) and
``planned-disbursement`` elements, each for a period, with a value in its currency at its
value date. They are kept apart from the flows: a plan is not money paid, and no flow total
counts it. Each amount keeps its currency and value date and its USD value at that date's
rate, as a flow does.

Revision ID: 0025_forward_plans
Revises: 0022_tied_status
Create Date: 2026-12-10 12:00:00
"""
import sqlalchemy as sa
from alembic import op

import registry.models.types

revision = '0025_forward_plans'
down_revision = '0022_tied_status'
branch_labels = None
depends_on = None


def _amount_columns():
    """The columns a budget and a planned disbursement share (registry.models.plans._PlanAmount)."""
    return [
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=True),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('value_date', sa.Date(), nullable=False),
        sa.Column('usd_minor', sa.BigInteger(), nullable=True),
        sa.Column('usd_rate', sa.String(length=40), nullable=True),
        sa.Column('usd_rate_date', sa.Date(), nullable=True),
        sa.Column('usd_rate_source', sa.String(length=16), nullable=True),
        sa.Column('created_at', registry.models.types.UTCDateTime(timezone=True), nullable=False),
    ]


def _shared_constraints(table):
    return [
        sa.CheckConstraint("kind IN ('original', 'revised')", name=op.f(f'ck_{table}_kind')),
        sa.CheckConstraint('period_end IS NULL OR period_start <= period_end', name=op.f(f'ck_{table}_period_ordered')),
        sa.CheckConstraint('usd_rate_date IS NULL OR usd_minor IS NOT NULL', name=op.f(f'ck_{table}_usd_has_rate')),
        sa.ForeignKeyConstraint(
            ['import_batch_id'],
            ['import_batches.id'],
            name=op.f(f'fk_{table}_import_batch_id_import_batches'),
            ondelete='SET NULL',
        ),
        sa.ForeignKeyConstraint(
            ['project_id'], ['projects.id'], name=op.f(f'fk_{table}_project_id_projects'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{table}')),
    ]


def upgrade():
    op.create_table(
        'project_budgets',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('import_batch_id', sa.Integer(), nullable=True),
        *_amount_columns(),
        sa.CheckConstraint("status IN ('indicative', 'committed')", name=op.f('ck_project_budgets_status')),
        *_shared_constraints('project_budgets'),
    )
    op.create_index('ix_project_budgets_project', 'project_budgets', ['project_id', 'period_start'], unique=False)
    op.create_table(
        'planned_disbursements',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('provider_ref', sa.String(length=200), nullable=True),
        sa.Column('provider_name', sa.String(length=300), nullable=True),
        sa.Column('receiver_ref', sa.String(length=200), nullable=True),
        sa.Column('receiver_name', sa.String(length=300), nullable=True),
        sa.Column('import_batch_id', sa.Integer(), nullable=True),
        *_amount_columns(),
        *_shared_constraints('planned_disbursements'),
    )
    op.create_index(
        'ix_planned_disbursements_project', 'planned_disbursements', ['project_id', 'period_start'], unique=False
    )


def downgrade():
    op.drop_index('ix_planned_disbursements_project', table_name='planned_disbursements')
    op.drop_table('planned_disbursements')
    op.drop_index('ix_project_budgets_project', table_name='project_budgets')
    op.drop_table('project_budgets')
