"""Fields and checks shared by the registry's input schemas.

The same validators serve the API and the web forms, so a value valid in one
path is valid in the other. Amounts are decimal strings, never floats; shares
are percentages with at most 4 decimals that add up to 100 within 0.01.

Messages raised while loading are said in the request's language; the ones declared with a
field (its ``default_error_messages``, a validator's ``error``) are marked with ``N_`` and
translated where they reach people (``registry.schemas.messages``), as marshmallow's own are.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from registry import errors, money
from registry.extensions import db
from registry.models import Country, PriorityArea, Region
from registry.schemas.messages import N_, translate_message, validation_template
from registry.services import rules
from registry.services.lookup import MAX_ID

MAX_AMOUNT = money.MAX_AMOUNT
ID = validate.Range(min=1, max=MAX_ID)


def version_field(description: str = "The version you read; a stale version gets 409") -> fields.Integer:
    """The optimistic-locking version a client sends with a change or a delete."""
    return fields.Integer(load_default=None, validate=ID, metadata={"description": description})


class VersionedOut(Schema):
    """What every object with an optimistic-locking version shows besides its own fields."""

    demo = fields.Boolean()
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


YEAR = validate.Range(min=1900, max=2200)
REQUIRED_TEXT = validation_template(N_("Required (at most {max} characters)"))


class StrictSchema(Schema):
    """An input schema: unknown fields are an error, and so is a text with a bidirectional
    control character (the rule of ``registry.services.rules.plain_text``, for every text field)."""

    class Meta:
        unknown = RAISE

    @validates_schema(skip_on_field_errors=False)
    def plain_text(self, data: dict, **kwargs) -> None:
        errors = rules.plain_text(data)
        if errors:
            raise ValidationError(errors)


class DecimalString(fields.Field):
    """A decimal amount given as a string (or an integer); floats are refused."""

    default_error_messages = {
        "float": N_('Give amounts as decimal strings such as "1250.50", not floating-point numbers'),
        "invalid": N_("Not a decimal amount"),
        "too_large": N_("The amount is too large"),
    }

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        if isinstance(value, float):
            raise self.make_error("float")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.make_error("invalid")
        try:
            text = money.normalise_typed(str(value))
            amount = Decimal(text)
        except errors.MoneyError as exc:
            raise ValidationError(exc.message) from None
        except InvalidOperation:
            raise self.make_error("invalid") from None
        if not amount.is_finite():
            raise self.make_error("invalid")
        if abs(amount) >= MAX_AMOUNT:
            raise self.make_error("too_large")
        return text

    def _serialize(self, value: Any, attr, obj, **kwargs) -> str | None:
        return None if value is None else str(value)


class Share(fields.Field):
    """A percentage above 0 and at most 100 with at most 4 decimals, as a Decimal."""

    default_error_messages = {"invalid": N_("Not a percentage between 0 and 100 (at most 4 decimals)")}

    def _deserialize(self, value: Any, attr, data, **kwargs) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.make_error("invalid")
        try:
            share = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
        except InvalidOperation:
            raise self.make_error("invalid") from None
        if not share.is_finite() or not 0 < share <= 100:
            raise self.make_error("invalid")
        if share != share.quantize(Decimal("0.0001")):
            raise self.make_error("invalid")
        return share

    def _serialize(self, value: Any, attr, obj, **kwargs) -> str | None:
        return None if value is None else f"{Decimal(value).normalize():f}"


class Currency(fields.String):
    """An active ISO 4217 currency code, upper-cased."""

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        code = super()._deserialize(value, attr, data, **kwargs).strip().upper()
        if not money.is_currency(code):
            raise ValidationError(rules.unknown_currency(code))
        return code


def check_amount(value: str | None, currency: str | None, field: str) -> None:
    """Raise a field error when the amount has more decimals than its currency allows."""
    if value in (None, "") or not currency:
        return
    try:
        money.parse_amount(value, currency)
    except errors.RegistryError as exc:
        raise ValidationError({field: [exc.message]}) from None


def check_shares(items: list[dict], field: str) -> None:
    """Every entry has a share or none does; given shares add up to 100 within 0.01."""
    try:
        rules.shares([item.get("share") for item in items], field)
    except errors.ValidationError as exc:
        raise ValidationError({field: exc.errors[field]}) from None


def check_ordered(data: dict, start: str, end: str) -> None:
    """The end date is not before the start date."""
    if data.get(start) and data.get(end) and data[start] > data[end]:
        raise ValidationError({end: [rules.before_start(end)]})


def country_exists(code: str) -> None:
    """Validator: an ISO 3166 alpha-3 code in the reference data."""
    if db.session.get(Country, code.upper()) is None:
        raise ValidationError(_("Unknown country %(code)s (ISO 3166 alpha-3, e.g. KEN)", code=repr(code.upper())))


def region_exists(code: str) -> None:
    """Validator: a UN M49 region code in the reference data."""
    if db.session.get(Region, code.zfill(3)) is None:
        raise ValidationError(rules.unknown_region(code))


def area_exists(code: str) -> None:
    """Validator: a paragraph 23 priority area code (23a-23l)."""
    if db.session.get(PriorityArea, code.lower()) is None:
        raise ValidationError(rules.unknown_area(code.lower()))


def flatten(messages: dict | list | str, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages as ``{"recipients.0.share": [...]}`` (for forms), each in
    the request's language."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                flat.setdefault(name, []).extend(translate_message(v) for v in value)
            else:
                flat.update(flatten(value, name))
    elif isinstance(messages, list):
        flat.setdefault(prefix or "_schema", []).extend(translate_message(str(m)) for m in messages)
    else:
        flat.setdefault(prefix or "_schema", []).append(translate_message(str(messages)))
    return flat


def run_checks(*checks) -> None:
    """Run every check and raise one error with all their messages (not just the first)."""
    errors: dict[str, list[str]] = {}
    for check in checks:
        try:
            check()
        except ValidationError as exc:
            messages = exc.messages
            if not isinstance(messages, dict):
                messages = {exc.field_name or "_schema": messages}
            for key, value in messages.items():
                errors.setdefault(key, []).extend(value if isinstance(value, list) else [value])
    if errors:
        raise ValidationError(errors)
