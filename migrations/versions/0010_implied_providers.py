"""flows without a provider: the project's organisation, or the manager of their funding source

Flows imported before this revision from a file without a provider column named no
provider, so reports by donor showed a donor's own imported flows as "Not recorded".
Every pledge, commitment, disbursement and expenditure that names none now gets the
provider the services give such a flow (registry.services.projects.implied_provider):
the organisation managing its funding source, else the project's own organisation.
Incoming funds keep an unknown provider. Flows brought by IATI imports are left as they
are: there a missing provider may also be one the file named but the registry did not know,
which must stay unrecorded. The report triggers mark the changed projects.

Revision ID: 0010_implied_providers
Revises: 0009_partial_source_index
Create Date: 2026-12-06 19:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_implied_providers'
down_revision = '0009_partial_source_index'
branch_labels = None
depends_on = None


def upgrade():
    op.execute(
        sa.text(
            """
            UPDATE transactions SET provider_org_id = CASE
                WHEN funding_source_id IS NOT NULL THEN
                    (SELECT managing_org_id FROM funding_sources WHERE funding_sources.id = transactions.funding_source_id)
                ELSE (SELECT org_id FROM projects WHERE projects.id = transactions.project_id)
            END
            WHERE provider_org_id IS NULL AND type <> 'incoming_funds'
              AND NOT EXISTS (
                  SELECT 1 FROM import_batches
                  WHERE import_batches.id = transactions.import_batch_id AND import_batches.kind = 'iati'
              )
            """
        )
    )


def downgrade():
    # Which providers were implied is not recorded: they stay (they are what the services give).
    pass
