"""tied status of the money flows

The Tunis Agenda (paragraph 27) asks for financing "preferably untied"; IATI and the OECD
CRS publish the tying status of every flow. A project carries the default of its flows
(IATI default-tied-status) and a flow its own (IATI transaction tied-status), as IATI
TiedStatus codes: 3 partially tied, 4 tied, 5 untied. Existing rows have none: unknown,
which no report counts as untied.

Revision ID: 0022_tied_status
Revises: 0021_user_language
Create Date: 2026-12-10 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0022_tied_status'
down_revision = '0021_user_language'
branch_labels = None
depends_on = None


def upgrade():
    # Not batches: on SQLite a batch copies the table, and the transactions' report triggers
    # and the projects' dependants would go with the old one.
    op.add_column('projects', sa.Column('default_tied_status', sa.String(length=1), nullable=True))
    op.add_column('transactions', sa.Column('tied_status', sa.String(length=1), nullable=True))


def downgrade():
    op.drop_column('transactions', 'tied_status')
    op.drop_column('projects', 'default_tied_status')
