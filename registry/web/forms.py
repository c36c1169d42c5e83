"""Reading the HTML forms into the same dicts the API schemas validate.

Pages and API share the marshmallow schemas, so a value valid in one is valid in
the other. Repeating rows (countries and areas with shares) are posted as
``recipients-<i>-country`` / ``recipients-<i>-share``; blank rows are skipped and
errors are mapped back to the row the user typed them in.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError
from werkzeug.datastructures import MultiDict

from registry.errors import RegistryError
from registry.schemas.common import flatten

EMPTY_ROWS = 5  # rows offered without JavaScript
MAX_ROWS = 60


class FormErrors(Exception):
    """The form has errors, keyed by field name (``recipients.2.share``, ``title``)."""

    def __init__(self, errors: dict[str, list[str]], message: str | None = None):
        if message is None:
            message = gettext("Please correct the errors below")
        super().__init__(message)
        self.errors = errors
        self.message = message


def _text(form: MultiDict, name: str) -> str:
    return (form.get(name) or "").strip()


def _rows(form: MultiDict, prefix: str, fields: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Non-blank rows as (row number on the form, {field: text})."""
    pattern = re.compile(rf"^{prefix}-(\d+)-(\w+)$")
    numbers = sorted({int(m.group(1)) for key in form if (m := pattern.match(key)) and int(m.group(1)) < MAX_ROWS})
    rows = []
    for n in numbers:
        row = {f: _text(form, f"{prefix}-{n}-{f}") for f in fields}
        if any(row.values()):
            rows.append((n, row))
    return rows


def _remap(errors: dict[str, list[str]], prefix: str, numbers: list[int]) -> dict[str, list[str]]:
    """Schema errors name rows by position among the filled ones; forms by row number."""
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        parts = key.split(".")
        if parts[0] == prefix and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(numbers):
            parts[1] = str(numbers[int(parts[1])])
        out.setdefault(".".join(parts), []).extend(messages)
    return out


# The recipient choice of a share kept unallocated (a row with neither country nor region).
UNALLOCATED_PLACE = "unallocated"


def project_data(form: MultiDict) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """The project form as a ProjectIn dict, and the form row numbers of each list."""
    data: dict[str, Any] = {
        "reference": _text(form, "reference"),
        "title": _text(form, "title"),
        "description": _text(form, "description"),
        "status": _text(form, "status") or "active",
        "iati_identifier": _text(form, "iati_identifier") or None,
        "instrument_sought": _text(form, "instrument_sought") or None,
        "contact_name": _text(form, "contact_name") or None,
        "contact_email": _text(form, "contact_email") or None,
        "default_tied_status": _text(form, "default_tied_status") or None,
        "collaboration_type": _text(form, "collaboration_type") or None,
        "direction_override": _text(form, "direction_override") or None,
        "direction_reason": _text(form, "direction_reason") or None,
        # empty: derived from the recipients / not said
        "scope": _text(form, "scope") or None,
        "infrastructure": _text(form, "infrastructure") or None,
    }
    for key in ("planned_start", "planned_end", "actual_start", "actual_end"):
        data[key] = _text(form, key) or None
    if _text(form, "org_id"):
        data["org_id"] = _text(form, "org_id")
    amount, currency = _text(form, "need_amount"), _text(form, "need_currency")
    data["need"] = {"amount": amount, "currency": currency or "USD"} if amount else None
    recipients = _rows(form, "recipients", ("place", "share"))
    data["recipients"] = []
    for _, row in recipients:
        place = row["place"]
        entry: dict[str, Any] = {"share": row["share"] or None}
        if place.startswith("R:"):
            entry["region"] = place[2:]
        elif place == UNALLOCATED_PLACE:
            entry["country"] = entry["region"] = None  # the unallocated share, chosen as such
        else:
            entry["country"] = place or None
        data["recipients"].append(entry)
    areas = _rows(form, "areas", ("code", "share"))
    data["areas"] = [{"code": row["code"], "share": row["share"] or None} for _, row in areas]
    data["sectors"] = sector_codes(form)
    lines = form.getlist("wsis_action_lines")
    data["wsis_action_lines"] = [line for line in lines if line]
    return data, {"recipients": [n for n, _ in recipients], "areas": [n for n, _ in areas]}


def transaction_data(form: MultiDict) -> dict[str, Any]:
    """The transaction form as a TransactionIn dict."""
    data: dict[str, Any] = {
        "type": _text(form, "type"),
        "amount": _text(form, "amount"),
        "currency": _text(form, "currency").upper(),
        "value_date": _text(form, "value_date") or None,
        "description": _text(form, "description"),
    }
    for key in ("funding_source_id", "provider_org_id"):
        data[key] = _text(form, key) or None
    for key in ("flow_type", "finance_type", "aid_type", "tied_status"):
        data[key] = _text(form, key) or None
    return data


def sector_codes(form: MultiDict) -> list[str]:
    """The DAC purpose codes of the project form, once each in the order given: one per row
    (``sectors-<i>-code``, each row searchable in the list), or several in the ``sectors`` field."""
    codes = split_codes(_text(form, "sectors"))
    for _n, row in _rows(form, "sectors", ("code",)):
        codes += split_codes(row["code"])
    return list(dict.fromkeys(codes))


def split_codes(text: str) -> list[str]:
    """'KEN, uga  TZA' -> ['KEN', 'uga', 'TZA']."""
    return [c for c in re.split(r"[\s,;]+", text or "") if c]


def source_data(form: MultiDict) -> dict[str, Any]:
    """The funding source form as a FundingSourceIn dict."""
    data: dict[str, Any] = {
        "ref": _text(form, "ref"),
        "name": _text(form, "name"),
        "kind": _text(form, "kind"),
        "description": _text(form, "description"),
        "website": _text(form, "website") or None,
        "window_from": _text(form, "window_from") or None,
        "window_until": _text(form, "window_until") or None,
        "min_amount": _text(form, "min_amount") or None,
        "max_amount": _text(form, "max_amount") or None,
        "amount_currency": _text(form, "amount_currency").upper() or "USD",
        "instruments": [v for v in form.getlist("instruments") if v],
        "areas": [v for v in form.getlist("areas") if v],
        "categories": [v for v in form.getlist("categories") if v],
        "countries": [c.upper() for c in split_codes(_text(form, "countries"))],
        "regions": split_codes(_text(form, "regions")),
    }
    if _text(form, "managing_org_id"):
        data["managing_org_id"] = _text(form, "managing_org_id")
    return data


def validate(
    schema: Schema,
    data: dict,
    rows: dict[str, list[int]] | None = None,
    lists: tuple[str, ...] = (),
) -> dict:
    """Load through the API schema; raise FormErrors keyed by the form's field names.

    ``rows`` maps repeating rows back to their numbers on the form; errors on items
    of the ``lists`` fields (one input or a group of checkboxes) go to the field.
    """
    try:
        return schema.load(data)
    except SchemaError as exc:
        errors = flatten(exc.messages)
        for prefix, numbers in (rows or {}).items():
            errors = _remap(errors, prefix, numbers)
        collapsed: dict[str, list[str]] = {}
        for key, messages in errors.items():
            head = key.split(".")[0]
            collapsed.setdefault(head if head in lists else key, []).extend(messages)
        raise FormErrors(collapsed) from None


def service_errors(exc: RegistryError) -> FormErrors:
    """A domain error from a service, for display next to the fields."""
    return FormErrors(
        {k: list(v) if isinstance(v, list) else [str(v)] for k, v in exc.errors.items()} or {},
        exc.message,
    )


def version_of(form: MultiDict) -> int | None:
    """The version the form was rendered at (hidden field), for optimistic locking."""
    text = _text(form, "version")
    return int(text) if text.isdigit() and len(text) < 10 else None
