"""API tokens with scopes and an expiry

- ``api_tokens.label`` becomes ``name`` (what the token is for, shown on the tokens page).
- ``api_tokens.scopes``: what the token may do, space-separated, among ``read``, ``write``
  and ``import``. Every token issued before this revision could do all three, so each
  existing token gets ``read write import``: no client loses a right it had.
- ``api_tokens.expires_at``: required. Tokens issued before this revision never expired;
  each existing token that is not revoked expires 90 days (the default lifetime of a new
  token) after this upgrade runs, so its holders have a full lifetime to replace it
  instead of losing access on the day of the upgrade. A revoked token gets its revocation
  time as its expiry (it authenticates nobody either way).

The downgrade drops both columns (scopes and expiry are lost; the tokens then work
again until revoked, as before) and renames ``name`` back to ``label``.

Revision ID: 0018_token_scopes
Revises: 0014_flow_recipient_facts
Create Date: 2026-12-07 06:10:00
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0018_token_scopes"
down_revision = "0014_flow_recipient_facts"
branch_labels = None
depends_on = None

EXISTING_SCOPES = "read write import"
EXISTING_LIFETIME = dt.timedelta(days=90)


def upgrade():
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column(
            "label", new_column_name="name", existing_type=sa.String(length=100), existing_nullable=False
        )
        batch_op.add_column(sa.Column("scopes", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    tokens = sa.table(
        "api_tokens",
        sa.column("scopes", sa.String),
        sa.column("expires_at", sa.DateTime(timezone=True)),
        sa.column("revoked_at", sa.DateTime(timezone=True)),
    )
    expiry = dt.datetime.now(dt.UTC).replace(microsecond=0) + EXISTING_LIFETIME
    op.execute(tokens.update().values(scopes=EXISTING_SCOPES))
    op.execute(tokens.update().where(tokens.c.revoked_at.is_(None)).values(expires_at=expiry))
    op.execute(tokens.update().where(tokens.c.revoked_at.is_not(None)).values(expires_at=tokens.c.revoked_at))
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column("scopes", existing_type=sa.String(length=40), nullable=False)
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade():
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
        batch_op.drop_column("scopes")
        batch_op.alter_column(
            "name", new_column_name="label", existing_type=sa.String(length=100), existing_nullable=False
        )
