"""Kosovo without an ISO numeric code; flows at constant prices kept apart

- ``countries.numeric`` may be empty: Kosovo (XK in IATI, XKX where three letters are
  needed) is on the DAC list of ODA recipients but ISO 3166-1 gives it no numeric code.
- ``transactions.price_basis``: empty for every flow in current prices (all flows so far);
  ``constant`` for an amount the source gives in constant prices (the OECD CRS deflated
  columns ``USD_Commitment_Defl`` / ``USD_Disbursement_Defl``). Such a flow has no USD value
  at the rate of its date (``usd_minor`` is NULL), so no current-price total can count it.

Revision ID: 0016_reference_kosovo_prices
Revises: 0012_rate_sources
Create Date: 2026-12-07 01:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_reference_kosovo_prices'
down_revision = '0012_rate_sources'
branch_labels = None
depends_on = None

NOT_NULL = 'numeric VARCHAR(3) NOT NULL'
NULLABLE = 'numeric VARCHAR(3)'


def _sqlite_numeric(old: str, new: str) -> None:
    """Change the NOT NULL of countries.numeric in SQLite's stored schema.

    Rebuilding ``countries`` would break the foreign keys of every table that references it
    (they are enforced, and PRAGMA foreign_keys cannot change inside the migration's
    transaction). Adding or removing a NOT NULL does not change how rows are stored, and the
    SQLite documentation ("ALTER TABLE", section "Making other kinds of table schema changes")
    allows it through writable_schema, with the schema version bumped."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'countries'").scalar()
    if old not in sql:
        raise RuntimeError(f"countries.numeric is not declared as {old!r} in SQLite: {sql}")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'countries'", (sql.replace(old, new, 1),)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('countries', 'numeric', existing_type=sa.String(length=3), nullable=True)
    else:
        _sqlite_numeric(NOT_NULL, NULLABLE)
    with op.batch_alter_table('transactions', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('price_basis', sa.String(length=16), nullable=True))


def downgrade():
    op.execute("DELETE FROM transactions WHERE price_basis IS NOT NULL")
    with op.batch_alter_table('transactions', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('price_basis')
    # A country without a numeric code cannot stay. Its memberships go with it; a project or a
    # flow that names it makes the delete fail (foreign keys): nothing is dropped silently.
    op.execute("DELETE FROM category_memberships WHERE country_iso3 IN (SELECT iso3 FROM countries WHERE numeric IS NULL)")
    op.execute("DELETE FROM countries WHERE numeric IS NULL")
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('countries', 'numeric', existing_type=sa.String(length=3), nullable=False)
    else:
        _sqlite_numeric(NULLABLE, NOT_NULL)
