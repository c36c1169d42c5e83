"""users choose the language of their pages

The language switch saves the choice on the account, so that it follows the user from one
device to another. Existing users have none: their pages follow the browser.

Revision ID: 0021_user_language
Revises: 0020_jobs
Create Date: 2026-12-07 14:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0021_user_language'
down_revision = '0020_jobs'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade():
    # Not a batch: on SQLite a batch copies users, and dropping the old table would cascade.
    op.drop_column('users', 'language')
