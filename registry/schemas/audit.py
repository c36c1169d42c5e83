"""Audit events, read-only."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from registry.schemas.common import ID
from registry.schemas.projects import Page, PageQuery

ENTITY_TYPES = ["project", "transaction", "funding_source", "organisation", "user", "api_token"]


class AuditEventOut(Schema):
    id = fields.Integer()
    occurred_at = fields.DateTime()
    actor = fields.String(allow_none=True)
    user_id = fields.Integer(allow_none=True)
    org_id = fields.Integer(allow_none=True)
    channel = fields.String()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.Integer()
    summary = fields.String()
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    changed = fields.List(fields.String())


class AuditEventPage(Page):
    items = fields.List(fields.Nested(AuditEventOut))


class AuditQuery(PageQuery):
    entity_type = fields.String(validate=validate.OneOf(ENTITY_TYPES))
    entity_id = fields.Integer(validate=ID)
    org_id = fields.Integer(validate=ID)
    action = fields.String(validate=validate.OneOf(["create", "update", "delete", "restore", "confirm"]))
