"""Schemas of the alerts' API: follows, a saved search's alert, notifications."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from registry.models.alerts import FOLLOW_KINDS, FREQUENCIES
from registry.schemas.common import StrictSchema

FREQUENCY = "immediate, daily, weekly, or off (the app's list only)"


class FollowIn(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(FOLLOW_KINDS))
    target = fields.String(
        required=True, metadata={"description": "the funding source's or project's id, or the country's ISO3 code"}
    )
    frequency = fields.String(validate=validate.OneOf(FREQUENCIES), metadata={"description": FREQUENCY})


class FrequencyIn(StrictSchema):
    # Required, but checked by the service after the precondition (If-Match), as every change is.
    frequency = fields.String(load_default=None, metadata={"description": FREQUENCY + "; required"})


class FollowOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    target = fields.String()
    name = fields.String()
    frequency = fields.String()
    created_at = fields.DateTime()


class SearchAlertOut(Schema):
    saved_search_id = fields.Integer()
    frequency = fields.String()


class NotificationQuery(StrictSchema):
    unread = fields.Boolean(load_default=False)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class NotificationOut(Schema):
    id = fields.Integer()
    message = fields.String(metadata={"description": "in the language of Accept-Language"})
    template = fields.String(metadata={"description": "the English message id"})
    params = fields.Dict()
    object_type = fields.String()
    object_id = fields.String()
    link = fields.String()
    read = fields.Boolean()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)
    emailed_at = fields.DateTime(allow_none=True)
    follow_id = fields.Integer(allow_none=True)
    saved_search_id = fields.Integer(allow_none=True)


class NotificationListOut(Schema):
    unread = fields.Integer()
    total = fields.Integer()
    items = fields.List(fields.Nested(NotificationOut))


class ReadOut(Schema):
    marked = fields.Integer()
    unread = fields.Integer()
