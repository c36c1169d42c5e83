"""Marketplace: donors' interest in pipeline projects, saved searches with feed tokens.

Revision ID: 0007_marketplace
Revises: 0006_reports
Create Date: 2026-11-25 12:42:38.519082

"""
from alembic import op
import sqlalchemy as sa

import registry.models.types


# revision identifiers, used by Alembic.
revision = '0007_marketplace'
down_revision = '0006_reports'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('saved_searches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_at', registry.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', registry.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_saved_searches_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_searches')),
    sa.UniqueConstraint('token', name=op.f('uq_saved_searches_token'))
    )
    with op.batch_alter_table('saved_searches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_searches_user_id'), ['user_id'], unique=False)

    op.create_table('pipeline_interests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=False),
    sa.Column('created_at', registry.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_pipeline_interests_org_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_pipeline_interests_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_pipeline_interests_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipeline_interests')),
    sa.UniqueConstraint('project_id', 'org_id', name=op.f('uq_pipeline_interests_project_id_org_id'))
    )
    with op.batch_alter_table('pipeline_interests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pipeline_interests_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pipeline_interests_project_id'), ['project_id'], unique=False)



def downgrade():
    with op.batch_alter_table('pipeline_interests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pipeline_interests_project_id'))
        batch_op.drop_index(batch_op.f('ix_pipeline_interests_org_id'))

    op.drop_table('pipeline_interests')
    with op.batch_alter_table('saved_searches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_searches_user_id'))

    op.drop_table('saved_searches')
