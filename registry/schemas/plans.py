"""A project's forward plans in and out of the API: budgets and planned disbursements by period."""

from __future__ import annotations

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from registry.models.plans import BUDGET_STATUSES, PLAN_KINDS
from registry.schemas.common import Currency, DecimalString, StrictSchema, check_amount, check_ordered, version_field

KINDS = [*PLAN_KINDS.values(), *PLAN_KINDS]
STATUSES = [*BUDGET_STATUSES.values(), *BUDGET_STATUSES]


class _PlanIn(StrictSchema):
    kind = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(KINDS),
        metadata={"description": "IATI BudgetType: original (1, the default) or revised (2)"},
    )
    period_start = fields.Date(required=True)
    period_end = fields.Date(load_default=None, allow_none=True)
    amount = DecimalString(required=True, metadata={"description": 'Decimal string, e.g. "1250.50"; not negative'})
    currency = Currency(required=True)
    value_date = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "The date whose rate converts the amount; default: the period start once it "
            "has come, else today"
        },
    )

    @validates_schema(skip_on_field_errors=False)
    def amount_and_period(self, data: dict, **kwargs) -> None:
        check_amount(data.get("amount"), data.get("currency"), "amount")
        if str(data.get("amount", "")).startswith("-"):
            raise ValidationError(_("A planned amount is not negative"), "amount")
        check_ordered(data, "period_start", "period_end")


class BudgetIn(_PlanIn):
    """A budget for one period (IATI budget)."""

    status = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(STATUSES),
        metadata={"description": "IATI BudgetStatus: indicative (1, the default) or committed (2)"},
    )


class PlannedDisbursementIn(_PlanIn):
    """Money planned to be paid in one period (IATI planned-disbursement)."""

    provider_ref = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    provider_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=300))
    receiver_ref = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    receiver_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=300))


class PlansIn(StrictSchema):
    """The project's plans to set: each list given replaces the stored one; a list left out stays."""

    budgets = fields.List(fields.Nested(BudgetIn), load_default=None)
    planned_disbursements = fields.List(fields.Nested(PlannedDisbursementIn), load_default=None)
    project_version = version_field("The project's version you read; a stale one gets 409")


class _PlanOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    period_start = fields.Date()
    period_end = fields.Date(allow_none=True)
    amount = fields.Function(lambda p: str(p.amount))
    currency = fields.String()
    value_date = fields.Date()
    # All null for a plan no rate converts yet (kept in its own currency).
    usd = fields.Function(lambda p: str(p.usd_amount) if p.usd_minor is not None else None)
    usd_rate = fields.String(allow_none=True)
    usd_rate_date = fields.Date(allow_none=True)
    usd_rate_source = fields.String(allow_none=True)


class BudgetOut(_PlanOut):
    status = fields.String()


class PlannedDisbursementOut(_PlanOut):
    provider_ref = fields.String(allow_none=True)
    provider_name = fields.String(allow_none=True)
    receiver_ref = fields.String(allow_none=True)
    receiver_name = fields.String(allow_none=True)


class PlansOut(Schema):
    project_id = fields.Integer()
    budgets = fields.List(fields.Nested(BudgetOut))
    planned_disbursements = fields.List(fields.Nested(PlannedDisbursementOut))
