"""report facts: per-project USD sums of the flows, kept fresh by triggers on transactions

The covering index ``ix_transactions_report`` (0006) and ``ix_transactions_value_date``
go: reports no longer scan the flows in USD, and every import paid for both indexes on
each inserted flow.

Revision ID: 0008_report_facts
Revises: 0007_marketplace
Create Date: 2026-11-25 15:30:00

The triggers mark in ``report_dirty`` every project whose transactions are inserted,
updated or deleted, in the writer's own database transaction; the reports recompute the
facts of exactly those projects before reading them. On PostgreSQL the triggers run once
per statement over its transition tables (a bulk insert marks each project once). SQLite
has only row triggers, which cost more than a bulk insert itself: there, inserted flows
are found by their id above a watermark instead, and only updates and deletes fire.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_report_facts'
down_revision = '0007_marketplace'
branch_labels = None
depends_on = None

MARK_SQLITE = (
    "INSERT INTO report_dirty (project_id, generation) VALUES ({row}.project_id, 1) "
    "ON CONFLICT (project_id) DO UPDATE SET generation = generation + 1;"
)
MARK_PG = (
    "INSERT INTO report_dirty (project_id, generation) SELECT DISTINCT project_id, 1 FROM {rows} "
    "ON CONFLICT (project_id) DO UPDATE SET generation = report_dirty.generation + 1;"
)


def upgrade():
    # Reports read the facts now; the covering index over every flow, and the index by
    # value date alone (every query by date also narrows by project or type first), only
    # slowed imports: each costs a B-tree insert per imported flow.
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_transactions_report')
        batch_op.drop_index('ix_transactions_value_date')
    op.create_table(
        'report_flow_facts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('period', sa.Integer(), nullable=False),
        sa.Column('funding_source_id', sa.Integer(), nullable=True),
        sa.Column('provider_org_id', sa.Integer(), nullable=True),
        sa.Column('finance_type', sa.String(length=8), nullable=True),
        sa.Column('flow_type', sa.String(length=8), nullable=True),
        sa.Column('pledge', sa.BigInteger(), nullable=False),
        sa.Column('commitment', sa.BigInteger(), nullable=False),
        sa.Column('disbursement', sa.BigInteger(), nullable=False),
        sa.Column('expenditure', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_flow_facts')),
    )
    op.create_index(op.f('ix_report_flow_facts_project_id'), 'report_flow_facts', ['project_id'], unique=False)
    op.create_table(
        'report_project_facts',
        sa.Column('project_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('period', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('pledge', sa.BigInteger(), nullable=False),
        sa.Column('commitment', sa.BigInteger(), nullable=False),
        sa.Column('disbursement', sa.BigInteger(), nullable=False),
        sa.Column('expenditure', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('project_id', 'year', 'period', name=op.f('pk_report_project_facts')),
    )
    op.create_table(
        'report_category_members',
        sa.Column('country_iso3', sa.String(length=3), nullable=False),
        sa.Column('period', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('category_code', sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint(
            'country_iso3', 'period', 'category_code', name=op.f('pk_report_category_members')
        ),
    )
    op.create_table(
        'report_dirty',
        sa.Column('project_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('generation', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('project_id', name=op.f('pk_report_dirty')),
    )
    op.create_table(
        'report_state',
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_report_state')),
    )
    if op.get_bind().dialect.name == 'postgresql':
        for event, rows, clause in (
            ('INSERT', 'new_rows', 'NEW TABLE AS new_rows'),
            ('DELETE', 'old_rows', 'OLD TABLE AS old_rows'),
        ):
            op.execute(
                f"CREATE FUNCTION report_mark_{event.lower()}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {MARK_PG.format(rows=rows)} RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER report_mark_{event.lower()} AFTER {event} ON transactions "
                f"REFERENCING {clause} FOR EACH STATEMENT EXECUTE FUNCTION report_mark_{event.lower()}()"
            )
        op.execute(
            "CREATE FUNCTION report_mark_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            + MARK_PG.format(rows="(SELECT project_id FROM old_rows UNION SELECT project_id FROM new_rows) AS changed")
            + " RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER report_mark_update AFTER UPDATE ON transactions "
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION report_mark_update()"
        )
    else:
        # No insert trigger on SQLite: a row trigger costs more than the insert itself
        # (bulk imports), and SQLite gives each new row an id above every existing one, so
        # the reports find new flows above a watermark (report_state 'flow_watermark').
        # SQLite numbers a new row max(id) + 1: once the highest rows are deleted, new rows
        # can take ids at or below the watermark again, so it comes down to the new maximum.
        op.execute(
            "CREATE TRIGGER report_mark_delete AFTER DELETE ON transactions BEGIN "
            + MARK_SQLITE.format(row="OLD")
            + " UPDATE report_state SET value = CAST((SELECT coalesce(max(id), 0) FROM transactions) AS TEXT) "
            "WHERE key = 'flow_watermark' "
            "AND CAST(value AS INTEGER) > (SELECT coalesce(max(id), 0) FROM transactions); END"
        )
        op.execute(
            "CREATE TRIGGER report_mark_update AFTER UPDATE ON transactions BEGIN "
            + MARK_SQLITE.format(row="OLD")
            + " "
            + MARK_SQLITE.format(row="NEW")
            + " END"
        )


def downgrade():
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.create_index('ix_transactions_value_date', ['value_date'], unique=False)
        batch_op.create_index(
            'ix_transactions_report',
            ['project_id', 'type', 'value_date', 'usd_minor', 'currency', 'amount_minor'],
            unique=False,
        )
    if op.get_bind().dialect.name == 'postgresql':
        for event in ('insert', 'delete', 'update'):
            op.execute(f"DROP TRIGGER IF EXISTS report_mark_{event} ON transactions")
            op.execute(f"DROP FUNCTION IF EXISTS report_mark_{event}()")
    else:
        for event in ('delete', 'update'):
            op.execute(f"DROP TRIGGER IF EXISTS report_mark_{event}")
    op.drop_table('report_state')
    op.drop_table('report_dirty')
    op.drop_table('report_category_members')
    op.drop_table('report_project_facts')
    op.drop_index(op.f('ix_report_flow_facts_project_id'), table_name='report_flow_facts')
    op.drop_table('report_flow_facts')
