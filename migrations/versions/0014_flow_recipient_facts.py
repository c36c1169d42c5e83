"""report facts keep the recipient given on a flow

A flow may name its own recipient country or region (0011), and then goes wholly to it
instead of being spread over the project's recipient shares. The report facts therefore
group the flows by that recipient too: ``tx_country`` / ``tx_region`` in both facts
tables. Both are empty for the flows that follow the project's shares, so
``report_project_facts`` can no longer be keyed by its grouping columns: it gets an id
and an index by project and flow recipient (the order reports group by). The facts are derived data: the
table is made again empty, and the facts' new format (reports/facts.py) rebuilds them
on the next report.

Two partial indexes find the projects whose flows name a country or a region (few flows
do), so that "a project is in a country when a recipient row or one of its flows is
there" stays a look-up in the project list, the finder and the reports.

Revision ID: 0014_flow_recipient_facts
Revises: 0016_reference_kosovo_prices
Create Date: 2026-12-07 01:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_flow_recipient_facts'
down_revision = '0016_reference_kosovo_prices'
branch_labels = None
depends_on = None

MEASURES = ('pledge', 'commitment', 'disbursement', 'expenditure')


def upgrade():
    with op.batch_alter_table('report_flow_facts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tx_country', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('tx_region', sa.String(length=3), nullable=True))
    op.drop_table('report_project_facts')
    op.create_table(
        'report_project_facts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('period', sa.Integer(), nullable=False),
        sa.Column('tx_country', sa.String(length=3), nullable=True),
        sa.Column('tx_region', sa.String(length=3), nullable=True),
        *[sa.Column(name, sa.BigInteger(), nullable=False) for name in MEASURES],
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_project_facts')),
    )
    op.create_index(
        'ix_report_project_facts_project', 'report_project_facts', ['project_id', 'tx_country', 'tx_region'], unique=False
    )
    # Projects by the recipient their flows name: few flows name one, so partial indexes.
    for column, name in (('recipient_country_iso3', 'country'), ('recipient_region_code', 'region')):
        op.create_index(
            f'ix_transactions_recipient_{name}',
            'transactions',
            [column, 'project_id'],
            unique=False,
            sqlite_where=sa.text(f'{column} IS NOT NULL'),
            postgresql_where=sa.text(f'{column} IS NOT NULL'),
        )
    # Built with the old layout: rebuilt from the flows by the next report.
    op.execute("DELETE FROM report_flow_facts")
    op.execute("DELETE FROM report_state WHERE key IN ('flow_facts', 'category_members', 'flow_watermark')")


def downgrade():
    op.drop_index('ix_transactions_recipient_region', table_name='transactions')
    op.drop_index('ix_transactions_recipient_country', table_name='transactions')
    op.drop_index('ix_report_project_facts_project', table_name='report_project_facts')
    op.drop_table('report_project_facts')
    op.create_table(
        'report_project_facts',
        sa.Column('project_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('period', sa.Integer(), autoincrement=False, nullable=False),
        *[sa.Column(name, sa.BigInteger(), nullable=False) for name in MEASURES],
        sa.PrimaryKeyConstraint('project_id', 'year', 'period', name=op.f('pk_report_project_facts')),
    )
    op.execute("DELETE FROM report_flow_facts")
    op.execute("DELETE FROM report_state WHERE key IN ('flow_facts', 'category_members', 'flow_watermark')")
    with op.batch_alter_table('report_flow_facts', schema=None) as batch_op:
        batch_op.drop_column('tx_region')
        batch_op.drop_column('tx_country')
