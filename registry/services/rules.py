"""The rules of a project and of a money flow, as plain functions over plain values.

One set of rules for every path: the API schemas and the web forms (which load through
the same schemas), the project services and the import pipeline all call these
functions, so that a value gets the same verdict and the same message wherever it comes
from. They take codes, numbers and dates (no ORM objects, no request), look nothing up
one row at a time (the known codes come in a ``Codes`` read once), and raise
``registry.errors.ValidationError`` keyed by the field with EVERY problem of the value
(a list of recipients with an unknown country and shares adding up to 90 gets both
messages), so that an import of thousands of projects validates them quickly and
reports all that is wrong at once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from registry import money
from registry.errors import RegistryError, ValidationError
from registry.extensions import db
from registry.models import Country, PriorityArea, Region
from registry.models.types import N_, WSIS_ACTION_LINES, ProjectStatus, TransactionType
from registry.services.shares import check_total, split_evenly, to_ppm

# -- the messages every path gives ---------------------------------------------


# Each says its message in the language of the request it is called in (English elsewhere: an
# import run by the queue's worker, the command line).


def unknown_country(code: str) -> str:
    return _("Unknown country %(code)s", code=repr(code))


def unknown_region(code: str) -> str:
    return _("Unknown M49 region %(code)s", code=repr(code))


def unknown_area(code: str) -> str:
    return _("Unknown priority area %(code)s (expected 23a-23l)", code=repr(code))


def bad_sector(code: str) -> str:
    return _("%(code)s is not a DAC 5-digit purpose code", code=repr(code))


def unknown_currency(code: str) -> str:
    return _("Unknown currency %(code)s", code=repr(code))


def unknown_action_line(code: str) -> str:
    return _("Unknown WSIS action line %(code)s (C1-C11)", code=repr(code))


# The end dates that have a start date before them, each named whole in its message.
_BEFORE_START = {
    "planned_end": N_("Planned end is before the start date"),
    "actual_end": N_("Actual end is before the start date"),
    "window_until": N_("Window until is before the start date"),
}


def before_start(end_field: str) -> str:
    known = _BEFORE_START.get(end_field)
    if known is not None:
        return _(known)
    return _("%(field)s is before the start date", field=end_field.replace("_", " ").capitalize())


# Bidirectional embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069): invisible,
# they reorder what a reader sees ("Schools\u202eenilno" shows as "Schoolsonline"), so a title
# could pass for another. They are refused, never stripped: the registry does not change what a
# donor wrote behind their back. The marks U+200E/U+200F (LRM, RLM) stay allowed, and right-to-left
# scripts need none of these controls.
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


_BIDI_SEARCH = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")


def bidi_control(value: str) -> str | None:
    """The message refusing a text with a bidirectional control character, or None when it has
    none: the first such character's code point and its position (1 = the first character)."""
    found = _BIDI_SEARCH.search(value)
    if found is None:
        return None
    return _(
        "Contains the invisible bidirectional control %(code_point)s at character %(position)s;"
        " remove it (it can make the text display as something else)",
        code_point=f"U+{ord(found.group()):04X}",
        position=found.start() + 1,
    )


def plain_text(values: dict[str, Any]) -> dict[str, list[str]]:
    """{field: [message]} for each text value holding a bidirectional control character."""
    errors: dict[str, list[str]] = {}
    for field, value in values.items():
        if isinstance(value, str) and (message := bidi_control(value)):
            errors[field] = [message]
    return errors


# English, for the catalogue; say them with gettext where they are given.
BOTH_PLACES = N_("Each recipient is a country or a region (or neither: an unallocated share), not both")
EVERY_SHARE = N_("Give a share for every entry or for none")
NEGATIVE_NEED = N_("The need cannot be negative")
TRANSACTION_TYPES = ", ".join(t.value for t in TransactionType)


def _invalid(field: str, messages: list[str]) -> ValidationError:
    return ValidationError("; ".join(messages), {field: messages})


# -- the codes the registry knows ------------------------------------------------


@dataclass(frozen=True)
class Codes:
    """The country, region and area codes of the reference data, read once per request or run."""

    countries: frozenset[str]
    regions: frozenset[str]
    areas: frozenset[str]


def known_codes() -> Codes:
    """The codes of the reference tables (three small queries)."""
    return Codes(
        frozenset(db.session.scalars(select(Country.iso3))),
        frozenset(db.session.scalars(select(Region.code))),
        frozenset(db.session.scalars(select(PriorityArea.code))),
    )


# -- shares and lists ----------------------------------------------------------


def shares(given: Sequence[Any], field: str, complete: bool = True) -> list[int]:
    """Percent shares as ppm: all or none given (none: an even split), each above 0 and at most
    100 with at most 4 decimals, together 100 within 0.01. Of an incomplete list (some entries
    were dropped, their problems reported elsewhere) only the given shares are checked."""
    if all(s is None for s in given):
        return split_evenly(len(given)) if given else []
    messages, ppm = [], []
    if complete and any(s is None for s in given):
        messages.append(_(EVERY_SHARE))
    for share in given:
        try:
            ppm.append(0 if share is None else to_ppm(share, field))
        except ValidationError as exc:
            messages.append(exc.message)
            ppm.append(0)
    if messages:
        raise _invalid(field, messages)
    if complete:
        check_total(ppm, field)
    return ppm


Recipient = tuple[str | None, str | None, int]  # country ISO3, M49 region, share in ppm


def recipients(items: Sequence[tuple[Any, Any, Any]], codes: Codes, complete: bool = True) -> list[Recipient]:
    """(country, region, share) items -> (ISO3, region, ppm). A row with neither country nor
    region is the UNALLOCATED share (a source gave it to no known recipient): it counts
    towards the 100 like any other."""
    messages: list[str] = []
    try:
        ppm = shares([share for _c, _r, share in items], "recipients", complete)
    except ValidationError as exc:
        messages += exc.errors["recipients"]
        ppm = [0] * len(items)
    out: list[Recipient] = []
    seen: set[tuple] = set()
    for (country, region, _share), share in zip(items, ppm, strict=True):
        country = str(country).strip().upper() or None if country else None
        region = str(region).strip() or None if region else None
        if country and region:
            messages.append(_(BOTH_PLACES))
            continue
        if country and country not in codes.countries:
            messages.append(unknown_country(country))
        if region and region not in codes.regions:
            messages.append(unknown_region(region))
        if (country, region) in seen:
            if country or region:
                messages.append(_("%(code)s is listed twice", code=country or region))
            else:
                messages.append(_("The unallocated share is listed twice"))
        seen.add((country, region))
        out.append((country, region, share))
    if messages:
        raise _invalid("recipients", messages)
    return out


Area = tuple[str, int, bool]  # code, share in ppm, inferred


def areas(items: Sequence[tuple[Any, Any, Any]], codes: Codes, complete: bool = True) -> list[Area]:
    """(code, share, inferred) items -> (code, ppm, inferred), sorted by code."""
    messages: list[str] = []
    try:
        ppm = shares([share for _c, share, _i in items], "areas", complete)
    except ValidationError as exc:
        messages += exc.errors["areas"]
        ppm = [0] * len(items)
    out, seen = [], set()
    for (code, _share, inferred), share in zip(items, ppm, strict=True):
        code = str(code or "").strip().lower()
        if code not in codes.areas:
            messages.append(unknown_area(code))
        if code in seen:
            messages.append(_("%(code)s is listed twice", code=code))
        seen.add(code)
        out.append((code, share, bool(inferred)))
    if messages:
        raise _invalid("areas", messages)
    return sorted(out)


def sectors(items: Iterable[Any]) -> list[tuple[str, int | None]]:
    """DAC 5-digit purpose codes (a code or {"code", "share"}) -> (code, ppm or None), sorted, once each."""
    out: dict[str, int | None] = {}
    messages: list[str] = []
    for item in items:
        code = str(item.get("code", "") if isinstance(item, dict) else item).strip()
        if not (len(code) == 5 and code.isdigit()):
            messages.append(bad_sector(code))
            continue
        share = item.get("share") if isinstance(item, dict) else None
        try:
            out.setdefault(code, to_ppm(share, "sectors") if share is not None else None)
        except ValidationError as exc:
            messages.append(exc.message)
    if messages:
        raise _invalid("sectors", messages)
    return sorted(out.items())


def action_lines(items: Iterable[Any]) -> str:
    """WSIS action lines (C1-C11) as the stored comma-separated text, in order, once each."""
    codes: list[str] = []
    messages: list[str] = []
    for item in items:
        code = str(item).strip().upper()
        if code not in WSIS_ACTION_LINES:
            messages.append(unknown_action_line(str(item)))
        elif code not in codes:
            codes.append(code)
    if messages:
        raise _invalid("wsis_action_lines", messages)
    return ",".join(sorted(codes, key=lambda c: int(c[1:])))


# -- a project's own fields -----------------------------------------------------


def project_fields(
    reference: str | None,
    title: str | None,
    status: Any,
    dates: dict[str, dt.date | None],
    description: str | None = None,
) -> ProjectStatus:
    """Reference, title, description, status and dates of a project; returns the status (active
    when none)."""
    errors: dict[str, list[str]] = {}
    reference, title = (reference or "").strip(), (title or "").strip()
    if not reference:
        errors["reference"] = [_("A project reference is required")]
    elif len(reference) > 120:
        errors["reference"] = [_("A project reference has at most %(max)s characters", max=120)]
    if not title:
        errors["title"] = [_("A project title is required")]
    elif len(title) > 500:
        errors["title"] = [_("A project title has at most %(max)s characters", max=500)]
    result = ProjectStatus.ACTIVE
    if status:
        try:
            result = ProjectStatus(status.value if isinstance(status, ProjectStatus) else str(status).strip().lower())
        except ValueError:
            errors["status"] = [_("Unknown status %(status)s", status=repr(status))]
    for field, messages in plain_text({"reference": reference, "title": title, "description": description}).items():
        errors.setdefault(field, []).extend(messages)
    errors.update(date_order(dates))
    if errors:
        raise ValidationError("; ".join(m for ms in errors.values() for m in ms), errors)
    return result


def date_order(dates: dict[str, dt.date | None]) -> dict[str, list[str]]:
    """{end field: [message]} for each end date before its start (planned, actual)."""
    errors: dict[str, list[str]] = {}
    for start, end in (("planned_start", "planned_end"), ("actual_start", "actual_end")):
        a, b = dates.get(start), dates.get(end)
        if a and b and a > b:
            errors[end] = [before_start(end)]
    return errors


# -- money -------------------------------------------------------------------


def currency(code: Any, field: str = "currency") -> str:
    """An active ISO 4217 code, upper-cased."""
    text = str(code or "").strip().upper()
    if not text:
        raise _invalid(field, [_("The currency is missing")])
    if not money.is_currency(text):
        raise _invalid(field, [unknown_currency(text)])
    return text


def amount(value: Any, code: str, field: str = "amount") -> Decimal:
    """An exact amount in ``code`` (no float, no more decimals than the currency has, not too large)."""
    try:
        return money.parse_amount(value, code)
    except RegistryError as exc:
        raise _invalid(field, [exc.message]) from None


def need(value: Any, code: Any) -> tuple[Decimal, str]:
    """A project's need: a known currency, an exact amount in it, not negative."""
    code = currency(code, "need")
    parsed = amount(value, code, "need")
    if parsed < 0:
        raise _invalid("need", [_(NEGATIVE_NEED)])
    return parsed, code


def transaction_type(value: Any) -> TransactionType:
    """A transaction type by its name (pledge, commitment, disbursement, ...)."""
    if isinstance(value, TransactionType):
        return value
    try:
        return TransactionType(str(value or "").strip().lower())
    except ValueError:
        raise _invalid(
            "type", [_("Unknown transaction type %(type)s (%(types)s)", type=repr(value), types=TRANSACTION_TYPES)]
        ) from None


def flow_values(type_: Any, value: Any, code: Any, value_date: dt.date | None) -> tuple[TransactionType, Decimal, str]:
    """A flow's type, amount and currency, checked together: every bad value is reported."""
    found: dict[str, list[str]] = {}
    tx_type = parsed = text = None
    try:
        tx_type = transaction_type(type_)
    except ValidationError as exc:
        found.update(exc.errors)
    try:
        text = currency(code)
    except ValidationError as exc:
        found.update(exc.errors)
    if value_date is None:
        found["value_date"] = [_("The value date is missing")]
    if text is not None:
        try:
            parsed = amount(value, text)
        except ValidationError as exc:
            found.update(exc.errors)
    if found:
        raise ValidationError("; ".join(m for ms in found.values() for m in ms), found)
    assert tx_type is not None and parsed is not None and text is not None
    return tx_type, parsed, text
