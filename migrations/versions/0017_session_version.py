"""users carry a session version

Every login session names the user's ``session_version``; logging out or setting a new
password raises it, so that every session cookie issued before (on any device, saved by
anyone) stops working. Existing users start at 1: the sessions of the cookie format
before this one carry no version and are refused, so everyone logs in once again.

Revision ID: 0017_session_version
Revises: 0019_soft_delete
Create Date: 2026-12-07 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0017_session_version'
down_revision = '0019_soft_delete'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    # ALTER TABLE ... DROP COLUMN, not a batch: on SQLite a batch copies the table, and dropping
    # the old users table would delete the API tokens and everything else that cascades from it.
    op.drop_column('users', 'session_version')
