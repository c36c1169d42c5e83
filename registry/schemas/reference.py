"""Schemas of the reference data."""

import datetime as dt

from marshmallow import RAISE, Schema, fields


class StrictSchema(Schema):
    """Input schemas reject unknown fields, in the body and in the query string alike."""

    class Meta:
        ordered = True
        unknown = RAISE


class RegionOut(Schema):
    code = fields.String()
    name = fields.String()


class CountryOut(Schema):
    iso3 = fields.String()
    iso2 = fields.String()
    numeric = fields.String()
    name = fields.String()
    name_fr = fields.String(allow_none=True)
    region = fields.Nested(RegionOut, allow_none=True)
    subregion = fields.Nested(RegionOut, allow_none=True)
    intermediate_region = fields.Nested(RegionOut, allow_none=True, attribute="intermediate")
    dac_recipient = fields.Boolean()
    income_group = fields.String(allow_none=True)
    categories = fields.List(fields.String(), metadata={"description": "Recipient categories in force on as_of"})
    as_of = fields.Date()


class CountryQuery(StrictSchema):
    as_of = fields.Date(load_default=None, metadata={"description": "Date for the categories (default today)"})
    region = fields.String(load_default=None, metadata={"description": "M49 region or sub-region code"})
    category = fields.String(load_default=None, metadata={"description": "Recipient category code, e.g. LDC"})
    dac_recipient = fields.Boolean(load_default=None)

    def today(self) -> dt.date:
        return dt.date.today()


class PriorityAreaOut(Schema):
    code = fields.String()
    short_name = fields.String()
    description = fields.String()
    main_list = fields.Boolean()


class MembershipOut(Schema):
    country = fields.String(attribute="country_iso3")
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)
    source = fields.String()


class RecipientCategoryOut(Schema):
    code = fields.String()
    name = fields.String()
    description = fields.String()
    source = fields.String()
    members = fields.List(fields.String(), metadata={"description": "ISO3 codes of members on as_of"})
    as_of = fields.Date()


class AsOfQuery(StrictSchema):
    as_of = fields.Date(load_default=None)
