"""alerts: follows, notifications, and a saved search's e-mail frequency

A user follows a funding source, a project or a country; each follow and each saved search
has an e-mail frequency (immediate, daily, weekly, or off: in the app only). What is new or
changed becomes a notification, kept as a message id and parameters so that it is shown in
the reader's language. Saved searches that existed before keep quiet ("off") until their
owner asks for e-mail.

Revision ID: 0029_alerts
Revises: 0028_direction
Create Date: 2026-12-12 10:00:00
"""
from alembic import op
import sqlalchemy as sa

from registry.models.types import UTCDateTime


revision = '0029_alerts'
down_revision = '0028_direction'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'follows',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('funding_source_id', sa.Integer(), nullable=True),
        sa.Column('project_id', sa.Integer(), nullable=True),
        sa.Column('country_iso3', sa.String(length=3), nullable=True),
        sa.Column('frequency', sa.String(length=16), nullable=False),
        sa.Column('last_event_id', sa.Integer(), nullable=False),
        sa.Column('checked_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['country_iso3'], ['countries.iso3'], name=op.f('fk_follows_country_iso3_countries'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['funding_source_id'], ['funding_sources.id'], name=op.f('fk_follows_funding_source_id_funding_sources'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_follows_project_id_projects'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_follows_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_follows')),
        sa.UniqueConstraint('user_id', 'country_iso3', name=op.f('uq_follows_user_id_country_iso3')),
        sa.UniqueConstraint('user_id', 'funding_source_id', name=op.f('uq_follows_user_id_funding_source_id')),
        sa.UniqueConstraint('user_id', 'project_id', name=op.f('uq_follows_user_id_project_id')),
    )
    op.create_index(op.f('ix_follows_user_id'), 'follows', ['user_id'], unique=False)
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('follow_id', sa.Integer(), nullable=True),
        sa.Column('saved_search_id', sa.Integer(), nullable=True),
        sa.Column('object_type', sa.String(length=20), nullable=False),
        sa.Column('object_id', sa.String(length=20), nullable=False),
        sa.Column('template', sa.String(length=300), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('frequency', sa.String(length=16), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('read_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('emailed_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['follow_id'], ['follows.id'], name=op.f('fk_notifications_follow_id_follows'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['saved_search_id'], ['saved_searches.id'], name=op.f('fk_notifications_saved_search_id_saved_searches'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    )
    op.create_index('ix_notifications_user_read', 'notifications', ['user_id', 'read_at'], unique=False)
    op.create_index('ix_notifications_mail', 'notifications', ['frequency', 'emailed_at'], unique=False)
    # Not a batch: on SQLite a batch copies the table; adding nullable columns needs no copy.
    op.add_column('saved_searches', sa.Column('alert_frequency', sa.String(length=16), server_default='off', nullable=False))
    op.add_column('saved_searches', sa.Column('alert_known', sa.JSON(), nullable=True))
    op.add_column('saved_searches', sa.Column('alert_checked_at', UTCDateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column('saved_searches', 'alert_checked_at')
    op.drop_column('saved_searches', 'alert_known')
    op.drop_column('saved_searches', 'alert_frequency')
    op.drop_index('ix_notifications_mail', table_name='notifications')
    op.drop_index('ix_notifications_user_read', table_name='notifications')
    op.drop_table('notifications')
    op.drop_index(op.f('ix_follows_user_id'), table_name='follows')
    op.drop_table('follows')
