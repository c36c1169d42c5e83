"""Database objects the reports own: a covering index over the money flows.

Stage one of a report reads, for every flow, its project, type, value date and
amount. With all of them in one index the database answers from the index alone
(an index-only scan in project order) and never visits the table rows.
"""

from sqlalchemy import Index

from registry.models import Transaction

report_flow_index = Index(
    "ix_transactions_report",
    Transaction.__table__.c.project_id,
    Transaction.__table__.c.type,
    Transaction.__table__.c.value_date,
    Transaction.__table__.c.usd_minor,
    Transaction.__table__.c.currency,
    Transaction.__table__.c.amount_minor,
)
