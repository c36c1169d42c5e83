"""Organisations in and out of the API."""

from __future__ import annotations

from marshmallow import fields, validate

from registry.models.types import OrganisationKind
from registry.schemas.common import REQUIRED_TEXT, StrictSchema, VersionedOut, country_exists, version_field
from registry.schemas.projects import Page, PageQuery

KINDS = [k.value for k in OrganisationKind]


class OrganisationIn(StrictSchema):
    ref = fields.String(required=True, validate=validate.Length(min=1, max=80, error=REQUIRED_TEXT))
    name = fields.String(required=True, validate=validate.Length(min=1, max=250, error=REQUIRED_TEXT))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    iati_ref = fields.String(allow_none=True, validate=validate.Length(max=100))
    country_iso3 = fields.String(allow_none=True, validate=[validate.Length(equal=3), country_exists])
    website = fields.URL(allow_none=True, validate=validate.Length(max=300))
    description = fields.String(validate=validate.Length(max=2000))


class OrganisationPatch(OrganisationIn):
    version = version_field()


class OrganisationOut(VersionedOut):
    id = fields.Integer()
    ref = fields.String()
    name = fields.String()
    kind = fields.String()
    iati_ref = fields.String(allow_none=True)
    country_iso3 = fields.String(allow_none=True)
    website = fields.String(allow_none=True)
    description = fields.String()


class OrganisationPage(Page):
    items = fields.List(fields.Nested(OrganisationOut))


class OrganisationQuery(PageQuery):
    kind = fields.String(validate=validate.OneOf(KINDS))
    country = fields.String(validate=validate.Length(equal=3))
    q = fields.String(validate=validate.Length(max=200))
