"""real data: a flow's own recipient, every IATI transaction type, unconverted flows, unallocated shares

- ``transactions.recipient_country_iso3`` / ``recipient_region_code``: a recipient given on
  the transaction itself (IATI allows it), which wins over the project's shares.
- ``transactions.type`` takes every IATI 2.03 transaction type (incoming commitment and
  incoming pledge apart from the outgoing ones, interest, loan repayment, ...).
- ``transactions.usd_minor``, ``usd_rate``, ``usd_rate_date`` may be empty: a flow that no
  rate source can convert (a currency no source has, an impossible date) is kept in its own
  currency and flagged, never dropped; ``usd_rate_source`` says which source gave the rate
  (ECB daily, IMF annual average, a legal parity, or none).
- ``transactions.confirmed``: a flow recorded by one organisation against another
  organisation's funding source waits for that organisation's confirmation.
- ``project_recipients`` may hold one row with neither a country nor a region: the share a
  file gave to an empty or unknown recipient code, kept unallocated instead of being
  handed to the other recipients.
- ``projects.other_identifiers``: the identifiers a publisher gives an activity besides its
  IATI identifier (IATI ``other-identifier``), kept as aliases.

Revision ID: 0011_real_data
Revises: 0010_implied_providers
Create Date: 2026-12-07 01:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_real_data'
down_revision = '0010_implied_providers'
branch_labels = None
depends_on = None

OLD_TYPES = ('incoming_funds', 'commitment', 'disbursement', 'expenditure', 'pledge')
NEW_TYPES = (
    'incoming_funds',
    'commitment',
    'disbursement',
    'expenditure',
    'interest_payment',
    'loan_repayment',
    'reimbursement',
    'purchase_of_equity',
    'sale_of_equity',
    'credit_guarantee',
    'incoming_commitment',
    'pledge',
    'incoming_pledge',
)


def _in(values) -> str:
    return "type IN (" + ", ".join(f"'{v}'" for v in values) + ")"


SQLITE_TRANSACTIONS = """
CREATE TABLE transactions_new (
    id INTEGER NOT NULL,
    project_id INTEGER NOT NULL,
    funding_source_id INTEGER,
    provider_org_id INTEGER,
    type VARCHAR(32) NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency VARCHAR(3) NOT NULL,
    value_date DATE NOT NULL,
    flow_type VARCHAR(8),
    finance_type VARCHAR(8),
    aid_type VARCHAR(8),
    description VARCHAR(1000) NOT NULL,
    usd_minor BIGINT,
    usd_rate VARCHAR(40),
    usd_rate_date DATE,
    usd_rate_source VARCHAR(16),
    recipient_country_iso3 VARCHAR(3),
    recipient_region_code VARCHAR(3),
    confirmed BOOLEAN DEFAULT 1 NOT NULL,
    import_batch_id INTEGER,
    created_at DATETIME NOT NULL,
    CONSTRAINT pk_transactions PRIMARY KEY (id),
    CONSTRAINT ck_transactions_usd_has_rate CHECK (usd_rate_date IS NULL OR usd_minor IS NOT NULL),
    CONSTRAINT ck_transactions_one_recipient CHECK (recipient_country_iso3 IS NULL OR recipient_region_code IS NULL),
    CONSTRAINT fk_transactions_funding_source_id_funding_sources FOREIGN KEY(funding_source_id) REFERENCES funding_sources (id) ON DELETE SET NULL,
    CONSTRAINT fk_transactions_import_batch_id_import_batches FOREIGN KEY(import_batch_id) REFERENCES import_batches (id) ON DELETE SET NULL,
    CONSTRAINT fk_transactions_project_id_projects FOREIGN KEY(project_id) REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT fk_transactions_provider_org_id_organisations FOREIGN KEY(provider_org_id) REFERENCES organisations (id) ON DELETE SET NULL,
    CONSTRAINT fk_transactions_recipient_country_iso3_countries FOREIGN KEY(recipient_country_iso3) REFERENCES countries (iso3),
    CONSTRAINT fk_transactions_recipient_region_code_regions FOREIGN KEY(recipient_region_code) REFERENCES regions (code),
    CONSTRAINT ck_transactions_transaction_type CHECK ({types})
)
"""

SQLITE_RECIPIENTS = """
CREATE TABLE project_recipients_new (
    id INTEGER NOT NULL,
    project_id INTEGER NOT NULL,
    country_iso3 VARCHAR(3),
    region_code VARCHAR(3),
    share_ppm INTEGER NOT NULL,
    CONSTRAINT pk_project_recipients PRIMARY KEY (id),
    CONSTRAINT ck_project_recipients_country_or_region CHECK ({check}),
    CONSTRAINT ck_project_recipients_share_range CHECK (share_ppm > 0 AND share_ppm <= 1000000),
    CONSTRAINT fk_project_recipients_country_iso3_countries FOREIGN KEY(country_iso3) REFERENCES countries (iso3),
    CONSTRAINT fk_project_recipients_project_id_projects FOREIGN KEY(project_id) REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT fk_project_recipients_region_code_regions FOREIGN KEY(region_code) REFERENCES regions (code),
    CONSTRAINT uq_project_recipients_project_id_country_iso3_region_code UNIQUE (project_id, country_iso3, region_code)
)
"""
RECIPIENT_CHECK_NEW = "country_iso3 IS NULL OR region_code IS NULL"
RECIPIENT_CHECK_OLD = "(country_iso3 IS NULL) <> (region_code IS NULL)"

MARK_SQLITE = (
    "INSERT INTO report_dirty (project_id, generation) VALUES ({row}.project_id, 1) "
    "ON CONFLICT (project_id) DO UPDATE SET generation = generation + 1;"
)
TX_COLUMNS_OLD = (
    "id, project_id, funding_source_id, provider_org_id, type, amount_minor, currency, value_date, "
    "flow_type, finance_type, aid_type, description, usd_minor, usd_rate, usd_rate_date, import_batch_id, created_at"
)


def _sqlite_transaction_indexes_and_triggers():
    op.execute("CREATE INDEX ix_transactions_import_batch_id ON transactions (import_batch_id)")
    op.execute("CREATE INDEX ix_transactions_project_type ON transactions (project_id, type)")
    op.execute(
        "CREATE INDEX ix_transactions_source ON transactions (funding_source_id) WHERE funding_source_id IS NOT NULL"
    )
    # The report triggers of 0008 go with the table they were on: made again as they were.
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


def _sqlite_recipients(check: str):
    op.execute(SQLITE_RECIPIENTS.format(check=check))
    op.execute(
        "INSERT INTO project_recipients_new (id, project_id, country_iso3, region_code, share_ppm) "
        "SELECT id, project_id, country_iso3, region_code, share_ppm FROM project_recipients"
    )
    op.execute("DROP TABLE project_recipients")
    op.execute("ALTER TABLE project_recipients_new RENAME TO project_recipients")
    op.execute("CREATE INDEX ix_project_recipients_country ON project_recipients (country_iso3, project_id)")
    op.execute("CREATE INDEX ix_project_recipients_project_id ON project_recipients (project_id)")


def upgrade():
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('other_identifiers', sa.Text(), nullable=False, server_default=''))
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint(op.f('ck_transactions_transaction_type'), 'transactions', type_='check')
        op.create_check_constraint(op.f('ck_transactions_transaction_type'), 'transactions', _in(NEW_TYPES))
        for column in ('usd_minor', 'usd_rate', 'usd_rate_date'):
            op.alter_column('transactions', column, nullable=True)
        op.add_column('transactions', sa.Column('usd_rate_source', sa.String(length=16), nullable=True))
        op.add_column('transactions', sa.Column('recipient_country_iso3', sa.String(length=3), nullable=True))
        op.add_column('transactions', sa.Column('recipient_region_code', sa.String(length=3), nullable=True))
        op.add_column(
            'transactions', sa.Column('confirmed', sa.Boolean(), nullable=False, server_default=sa.true())
        )
        op.create_foreign_key(
            'fk_transactions_recipient_country_iso3_countries', 'transactions', 'countries',
            ['recipient_country_iso3'], ['iso3'],
        )
        op.create_foreign_key(
            'fk_transactions_recipient_region_code_regions', 'transactions', 'regions',
            ['recipient_region_code'], ['code'],
        )
        op.create_check_constraint(
            op.f('ck_transactions_one_recipient'), 'transactions',
            'recipient_country_iso3 IS NULL OR recipient_region_code IS NULL',
        )
        op.drop_constraint(op.f('ck_project_recipients_country_or_region'), 'project_recipients', type_='check')
        op.create_check_constraint(op.f('ck_project_recipients_country_or_region'), 'project_recipients', RECIPIENT_CHECK_NEW)
    else:
        # SQLite cannot change a CHECK constraint in place: the tables are rebuilt, rows and ids kept.
        op.execute(SQLITE_TRANSACTIONS.format(types=_in(NEW_TYPES)))
        op.execute(
            f"INSERT INTO transactions_new ({TX_COLUMNS_OLD}, usd_rate_source, confirmed) "
            f"SELECT {TX_COLUMNS_OLD}, NULL, 1 FROM transactions"
        )
        op.execute("DROP TABLE transactions")
        op.execute("ALTER TABLE transactions_new RENAME TO transactions")
        _sqlite_transaction_indexes_and_triggers()
        _sqlite_recipients(RECIPIENT_CHECK_NEW)
    # Every flow stored so far was converted at an ECB rate, through a legal parity to the
    # euro, or not at all (USD itself): say which.
    op.execute(
        "UPDATE transactions SET usd_rate_source = CASE "
        "WHEN currency = 'USD' THEN 'identity' "
        "WHEN currency IN ('XOF', 'XAF', 'KMF', 'CVE', 'BAM', 'STN') THEN 'ecb+parity' "
        "ELSE 'ecb' END"
    )


def downgrade():
    op.execute("DELETE FROM transactions WHERE usd_minor IS NULL OR " + "type NOT IN (" + ", ".join(f"'{v}'" for v in OLD_TYPES) + ")")
    op.execute("DELETE FROM project_recipients WHERE country_iso3 IS NULL AND region_code IS NULL")
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint(op.f('ck_project_recipients_country_or_region'), 'project_recipients', type_='check')
        op.create_check_constraint(op.f('ck_project_recipients_country_or_region'), 'project_recipients', RECIPIENT_CHECK_OLD)
        op.drop_constraint(op.f('ck_transactions_one_recipient'), 'transactions', type_='check')
        op.drop_constraint('fk_transactions_recipient_region_code_regions', 'transactions', type_='foreignkey')
        op.drop_constraint('fk_transactions_recipient_country_iso3_countries', 'transactions', type_='foreignkey')
        for column in ('confirmed', 'recipient_region_code', 'recipient_country_iso3', 'usd_rate_source'):
            op.drop_column('transactions', column)
        for column in ('usd_minor', 'usd_rate', 'usd_rate_date'):
            op.alter_column('transactions', column, nullable=False)
        op.drop_constraint(op.f('ck_transactions_transaction_type'), 'transactions', type_='check')
        op.create_check_constraint(op.f('ck_transactions_transaction_type'), 'transactions', _in(OLD_TYPES))
    else:
        old = (
            SQLITE_TRANSACTIONS.format(types=_in(OLD_TYPES))
            .replace("usd_minor BIGINT,", "usd_minor BIGINT NOT NULL,")
            .replace("usd_rate VARCHAR(40),", "usd_rate VARCHAR(40) NOT NULL,")
            .replace("usd_rate_date DATE,", "usd_rate_date DATE NOT NULL,")
        )
        op.execute(old)
        op.execute(f"INSERT INTO transactions_new ({TX_COLUMNS_OLD}) SELECT {TX_COLUMNS_OLD} FROM transactions")
        op.execute("DROP TABLE transactions")
        op.execute("ALTER TABLE transactions_new RENAME TO transactions")
        _sqlite_transaction_indexes_and_triggers()
        _sqlite_recipients(RECIPIENT_CHECK_OLD)
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('other_identifiers')
