"""report facts in other report currencies

A report in euros, CFA francs or rupees reads per-project sums of the flows converted into
that currency (each flow at the rate of its value date, rounded as its USD value is),
kept up to date with the USD facts for the currencies the registry reports in
(REPORT_CURRENCIES), instead of converting every flow at each report.

Revision ID: 0027_fx_facts
Revises: 0025_forward_plans
Create Date: 2026-12-12 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0027_fx_facts'
down_revision = '0025_forward_plans'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_fx_facts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('period', sa.Integer(), nullable=False),
        sa.Column('funding_source_id', sa.Integer(), nullable=True),
        sa.Column('provider_org_id', sa.Integer(), nullable=True),
        sa.Column('finance_type', sa.String(length=8), nullable=True),
        sa.Column('flow_type', sa.String(length=8), nullable=True),
        sa.Column('tx_country', sa.String(length=3), nullable=True),
        sa.Column('tx_region', sa.String(length=3), nullable=True),
        sa.Column('source_currency', sa.String(length=3), nullable=False),
        sa.Column('rate_kind', sa.String(length=8), nullable=False),
        sa.Column('day', sa.Date(), nullable=True),
        sa.Column('rate_from', sa.Date(), nullable=True),
        sa.Column('rate_to', sa.Date(), nullable=True),
        sa.Column('pledge', sa.BigInteger(), nullable=False),
        sa.Column('commitment', sa.BigInteger(), nullable=False),
        sa.Column('disbursement', sa.BigInteger(), nullable=False),
        sa.Column('expenditure', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_fx_facts')),
    )
    op.create_index(
        'ix_report_fx_facts_currency_project', 'report_fx_facts', ['currency', 'project_id'], unique=False
    )


def downgrade():
    op.drop_index('ix_report_fx_facts_currency_project', table_name='report_fx_facts')
    op.drop_table('report_fx_facts')
