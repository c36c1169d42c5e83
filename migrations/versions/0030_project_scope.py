"""a project's geographic scope and cross-border infrastructure

Regional backbones, internet exchange points and submarine cables serve several countries at
once (Tunis Agenda paragraph 23c). A project states its scope (national, multi_country,
regional, global: IATI ActivityScope) and the kind of infrastructure it builds. Existing rows
state neither: their scope is derived from their recipients, and the infrastructure is not said.

Revision ID: 0030_project_scope
Revises: 0029_alerts
Create Date: 2026-12-11 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0030_project_scope"
down_revision = "0029_alerts"
branch_labels = None
depends_on = None


def upgrade():
    # Not a batch: on SQLite a batch copies the table, and the projects' dependants would go
    # with the old one.
    op.add_column("projects", sa.Column("scope", sa.String(length=16), nullable=True))
    op.add_column("projects", sa.Column("infrastructure", sa.String(length=24), nullable=True))


def downgrade():
    op.drop_column("projects", "infrastructure")
    op.drop_column("projects", "scope")
