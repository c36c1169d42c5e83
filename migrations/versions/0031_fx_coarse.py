"""coarse converted report facts and converted needs

A report in another currency by region, area or country reads the converted sums by
project, year, membership period and flow recipient (with what its notes need: the part
converted at annual rates, the span of rate dates, the currencies fixed to the euro converted) instead of
the finer rows, and the projects' needs converted in advance instead of converting them
at each report; the few flows converted at an older rate or not at all are found by an
index.

Revision ID: 0031_fx_coarse
Revises: 0030_project_scope
Create Date: 2026-12-13 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0031_fx_coarse'
down_revision = '0030_project_scope'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_fx_project_facts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('period', sa.Integer(), nullable=False),
        sa.Column('tx_country', sa.String(length=3), nullable=True),
        sa.Column('tx_region', sa.String(length=3), nullable=True),
        sa.Column('pledge', sa.BigInteger(), nullable=False),
        sa.Column('commitment', sa.BigInteger(), nullable=False),
        sa.Column('disbursement', sa.BigInteger(), nullable=False),
        sa.Column('expenditure', sa.BigInteger(), nullable=False),
        sa.Column('annual_pledge', sa.BigInteger(), nullable=False),
        sa.Column('annual_commitment', sa.BigInteger(), nullable=False),
        sa.Column('annual_disbursement', sa.BigInteger(), nullable=False),
        sa.Column('annual_expenditure', sa.BigInteger(), nullable=False),
        sa.Column('rate_from', sa.Date(), nullable=True),
        sa.Column('rate_to', sa.Date(), nullable=True),
        sa.Column('rated', sa.Integer(), nullable=False),
        sa.Column('pegged_from', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_fx_project_facts')),
    )
    op.create_index(
        'ix_report_fx_project_facts_currency_project',
        'report_fx_project_facts',
        ['currency', 'project_id', 'tx_country', 'tx_region'],
        unique=False,
    )
    op.create_table(
        'report_fx_needs',
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('project_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('need_minor', sa.BigInteger(), nullable=False),
        sa.Column('need_currency', sa.String(length=3), nullable=False),
        sa.Column('need_date', sa.Date(), nullable=False),
        sa.Column('minor', sa.BigInteger(), nullable=False),
        sa.Column('rate_kind', sa.String(length=8), nullable=False),
        sa.Column('rate_date', sa.Date(), nullable=True),
        sa.Column('stale', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('currency', 'project_id', name=op.f('pk_report_fx_needs')),
    )
    op.create_index('ix_report_fx_facts_currency_day', 'report_fx_facts', ['currency', 'day'], unique=False)


def downgrade():
    op.drop_index('ix_report_fx_facts_currency_day', table_name='report_fx_facts')
    op.drop_table('report_fx_needs')
    op.drop_index('ix_report_fx_project_facts_currency_project', table_name='report_fx_project_facts')
    op.drop_table('report_fx_project_facts')
