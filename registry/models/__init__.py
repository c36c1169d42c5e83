"""The registry's tables as SQLAlchemy 2.0 typed models."""

from registry.models.accounts import ApiToken, User
from registry.models.alerts import Follow, Notification
from registry.models.audit import AuditEvent
from registry.models.funding import FundingSource
from registry.models.imports import ImportBatch
from registry.models.jobs import Job
from registry.models.marketplace import PipelineInterest, SavedSearch
from registry.models.organisation import Organisation
from registry.models.plans import PlannedDisbursement, ProjectBudget
from registry.models.project import Project, ProjectArea, ProjectRecipient
from registry.models.reference import (
    CategoryMembership,
    Country,
    PriorityArea,
    RecipientCategory,
    Region,
)
from registry.models.transaction import Transaction

__all__ = [
    "ApiToken",
    "AuditEvent",
    "CategoryMembership",
    "Country",
    "Follow",
    "FundingSource",
    "ImportBatch",
    "Job",
    "Notification",
    "Organisation",
    "PipelineInterest",
    "PlannedDisbursement",
    "PriorityArea",
    "Project",
    "ProjectArea",
    "ProjectBudget",
    "ProjectRecipient",
    "RecipientCategory",
    "Region",
    "SavedSearch",
    "Transaction",
    "User",
]
