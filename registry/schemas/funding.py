"""Funding sources in and out of the API."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from registry import money
from registry.models.types import Instrument, SourceKind
from registry.schemas.common import (
    ID,
    REQUIRED_TEXT,
    Currency,
    DecimalString,
    StrictSchema,
    VersionedOut,
    area_exists,
    check_amount,
    check_ordered,
    country_exists,
    region_exists,
    run_checks,
    version_field,
)
from registry.schemas.projects import OrgRef, Page, PageQuery

KINDS = [k.value for k in SourceKind]
INSTRUMENTS = [i.value for i in Instrument]


class FundingSourceIn(StrictSchema):
    """A pot of money and its rules: who, what, how much, when."""

    ref = fields.String(required=True, validate=validate.Length(min=1, max=80, error=REQUIRED_TEXT))
    name = fields.String(required=True, validate=validate.Length(min=1, max=250, error=REQUIRED_TEXT))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    managing_org_id = fields.Integer(
        load_default=None, validate=ID, metadata={"description": "Default: your organisation"}
    )
    instruments = fields.List(fields.String(validate=validate.OneOf(INSTRUMENTS)))
    countries = fields.List(fields.String(validate=[validate.Length(equal=3), country_exists]))
    regions = fields.List(fields.String(validate=[validate.Length(max=3), region_exists]))
    categories = fields.List(fields.String(validate=validate.Length(max=8)))
    areas = fields.List(fields.String(validate=[validate.Length(max=3), area_exists]))
    min_amount = DecimalString(allow_none=True)
    max_amount = DecimalString(allow_none=True)
    amount_currency = Currency()
    window_from = fields.Date(allow_none=True)
    window_until = fields.Date(allow_none=True)
    website = fields.URL(allow_none=True, validate=validate.Length(max=300))
    description = fields.String(validate=validate.Length(max=20000))

    @validates_schema(skip_on_field_errors=False)
    def consistent(self, data: dict, **kwargs) -> None:
        currency = data.get("amount_currency", "USD")

        def amounts() -> None:
            for key in ("min_amount", "max_amount"):
                check_amount(data.get(key), currency, key)
                if str(data.get(key) or "").startswith("-"):
                    raise ValidationError(_("Cannot be negative"), key)
            low, high = data.get("min_amount"), data.get("max_amount")
            if low and high and Decimal(low) > Decimal(high):
                raise ValidationError(_("The maximum is below the minimum"), "max_amount")

        run_checks(lambda: check_ordered(data, "window_from", "window_until"), amounts)


class FundingSourcePatch(FundingSourceIn):
    version = version_field()


def _amount(source, key: str) -> str | None:
    minor = getattr(source, f"{key}_amount_minor")
    return None if minor is None else str(money.from_minor(minor, source.amount_currency))


class SourceRefOut(Schema):
    """A funding source as other resources name it (the finder's matches, for one)."""

    id = fields.Integer()
    ref = fields.String()
    name = fields.String()
    kind = fields.String()
    managing_org = fields.Nested(OrgRef)
    instruments = fields.List(fields.String())


class FundingSourceOut(SourceRefOut, VersionedOut):
    countries = fields.Function(lambda s: [c.iso3 for c in s.countries])
    regions = fields.Function(lambda s: [r.code for r in s.regions])
    categories = fields.Function(lambda s: [c.code for c in s.categories])
    areas = fields.Function(lambda s: [a.code for a in s.areas])
    min_amount = fields.Function(lambda s: _amount(s, "min"))
    max_amount = fields.Function(lambda s: _amount(s, "max"))
    amount_currency = fields.String()
    window_from = fields.Date(allow_none=True)
    window_until = fields.Date(allow_none=True)
    website = fields.String(allow_none=True)
    description = fields.String()


class FundingSourcePage(Page):
    items = fields.List(fields.Nested(FundingSourceOut))


class FundingSourceQuery(PageQuery):
    kind = fields.String(validate=validate.OneOf(KINDS))
    managing_org_id = fields.Integer(validate=ID)
    q = fields.String(validate=validate.Length(max=200))


__all__ = ["Currency", "FundingSourceIn", "FundingSourceOut", "FundingSourcePatch"]
