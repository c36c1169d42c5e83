"""background jobs: state and progress in the database

Imports, undos, fact rebuilds and large exports run on a queue worker (huey). The queue
carries only a job's id; its state, progress and result live in ``jobs`` so that any web
process (several app servers, several gunicorn workers) shows any job.

Revision ID: 0020_jobs
Revises: 0017_session_version
Create Date: 2026-12-07 06:00:00
"""
from alembic import op
import sqlalchemy as sa

from registry.models.types import UTCDateTime


revision = '0020_jobs'
down_revision = '0017_session_version'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('label', sa.String(length=300), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('org_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('stage', sa.String(length=40), nullable=False),
        sa.Column('progress_done', sa.Integer(), nullable=False),
        sa.Column('progress_total', sa.Integer(), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('result', sa.JSON(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('started_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_jobs_owner_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(
            ['org_id'], ['organisations.id'], name=op.f('fk_jobs_org_id_organisations'), ondelete='SET NULL'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    )
    op.create_index(op.f('ix_jobs_kind'), 'jobs', ['kind'])
    op.create_index(op.f('ix_jobs_owner_id'), 'jobs', ['owner_id'])
    op.create_index(op.f('ix_jobs_status'), 'jobs', ['status'])


def downgrade():
    op.drop_index(op.f('ix_jobs_status'), table_name='jobs')
    op.drop_index(op.f('ix_jobs_owner_id'), table_name='jobs')
    op.drop_index(op.f('ix_jobs_kind'), table_name='jobs')
    op.drop_table('jobs')
