"""direction of the money flows: North-South, South-South, triangular, multilateral

A flow's direction is derived from its provider's country and the DAC membership in force
on its value date (registry/data/dac_members.csv), the provider's kind, and what the
activity says of itself: its IATI collaboration-type and the organisations funding it
(participating-org role 1). A project can set its direction by hand, with a reason.
Existing rows have no collaboration type, no funding partners and no override: their
direction is derived.

Revision ID: 0028_direction
Revises: 0027_fx_facts
Create Date: 2026-12-14 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0028_direction'
down_revision = '0027_fx_facts'
branch_labels = None
depends_on = None


def upgrade():
    # Not batches: on SQLite a batch copies the table, and the projects' dependants would go
    # with the old one.
    op.add_column('projects', sa.Column('collaboration_type', sa.String(length=2), nullable=True))
    op.add_column(
        'projects', sa.Column('funding_partners', sa.Text(), server_default='', nullable=False)
    )
    op.add_column('projects', sa.Column('direction_override', sa.String(length=16), nullable=True))
    op.add_column('projects', sa.Column('direction_reason', sa.String(length=1000), nullable=True))


def downgrade():
    op.drop_column('projects', 'direction_reason')
    op.drop_column('projects', 'direction_override')
    op.drop_column('projects', 'funding_partners')
    op.drop_column('projects', 'collaboration_type')
