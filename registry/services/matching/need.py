"""What is to be funded: the Need the finder judges sources against, built from the finder's
input (checked field by field) or from a pipeline project."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import gettext as _

from registry import money
from registry.errors import MoneyError, ValidationError
from registry.extensions import db
from registry.models import Country, PriorityArea, Project, Region
from registry.models.types import Instrument


@dataclass
class Need:
    """What is to be funded: where, what, how, how much, and the date it is judged on."""

    countries: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    areas: list[str] = field(default_factory=list)
    instrument: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    day: dt.date = field(default_factory=dt.date.today)


def looks_like_code(text: str) -> bool:
    """Letters and digits only: anything else is no code (and never reaches the database,
    which may refuse characters such as NUL outright)."""
    return bool(re.fullmatch(r"[A-Za-z0-9]{1,8}", text or ""))


def codes_of(value: Iterable[str] | str | None) -> list[str]:
    """The codes of a comma (or semicolon) list or of a list of them, stripped, empties dropped."""
    if value is None:
        return []
    items = value.replace(";", ",").split(",") if isinstance(value, str) else value
    out = []
    for item in items:
        for code in str(item).replace(";", ",").split(","):
            if code.strip():
                out.append(code.strip())
    return out


def _places(
    country: Iterable[str] | str | None, region: Iterable[str] | str | None, errors: dict[str, list[str]]
) -> tuple[list[str], list[str]]:
    """The countries (ISO3) and M49 regions asked for, each checked; at least one is required."""
    countries: list[str] = []
    for code in codes_of(country):
        iso3 = code.upper()
        if not looks_like_code(iso3) or db.session.get(Country, iso3) is None:
            errors.setdefault("country", []).append(
                _("Unknown country %(code)s (expected an ISO 3166 alpha-3 code, e.g. NPL)", code=repr(iso3))
            )
        elif iso3 not in countries:
            countries.append(iso3)
    regions: list[str] = []
    for code in codes_of(region):
        if not re.fullmatch(r"\d{1,3}", code) or db.session.get(Region, code.zfill(3)) is None:
            errors.setdefault("region", []).append(
                _("Unknown region %(code)s (expected an M49 code, e.g. 034 Southern Asia)", code=repr(code))
            )
        elif code.zfill(3) not in regions:
            regions.append(code.zfill(3))
    if not countries and not regions and "country" not in errors and "region" not in errors:
        errors["country"] = [
            _("Required: an ISO 3166 alpha-3 code, e.g. NPL, several separated by commas, or a region")
        ]
    return countries, regions


def build_need(
    country: Iterable[str] | str | None,
    areas: Iterable[str] | str | None,
    instrument: str | None = None,
    amount: str | Decimal | None = None,
    currency: str | None = None,
    day: dt.date | None = None,
    region: Iterable[str] | str | None = None,
) -> Need:
    """Check finder input and return a Need; raises ValidationError naming each bad field.

    ``country``: one or several ISO3 codes (a list, or separated by commas: NPL,BTN), and/or
    ``region``: M49 codes; a cross-border project is one need over all of them."""
    errors: dict[str, list[str]] = {}
    countries, regions = _places(country, region, errors)
    if isinstance(areas, str):
        areas = [a for a in areas.replace(";", ",").split(",")]
    codes = []
    for code in areas or []:
        code = str(code).strip().lower()
        if not code:
            continue
        if not looks_like_code(code) or db.session.get(PriorityArea, code) is None:
            errors.setdefault("priority_area", []).append(
                _("Unknown priority area %(code)s (expected 23a-23l)", code=repr(code))
            )
        elif code not in codes:
            codes.append(code)
    if instrument:
        try:
            instrument = Instrument(instrument.strip().lower()).value
        except ValueError:
            choices = ", ".join(i.value for i in Instrument)
            errors["instrument"] = [
                _(
                    "Unknown instrument %(instrument)s (one of %(choices)s)",
                    instrument=repr(instrument),
                    choices=choices,
                )
            ]
    parsed = None
    cur = (currency or "").strip().upper() or None
    if amount not in (None, ""):
        if cur is None:
            errors["currency"] = [_("Give the currency of the amount (ISO 4217, e.g. USD)")]
        elif not money.is_currency(cur):
            errors["currency"] = [_("Unknown currency %(code)s (expected ISO 4217, e.g. USD)", code=repr(cur))]
        else:
            try:
                parsed = money.parse_amount(amount, cur)
            except MoneyError as exc:
                errors["amount"] = [exc.message]
            else:
                if parsed <= 0:
                    errors["amount"] = [_("The amount must be above zero")]
    elif cur and not money.is_currency(cur):
        errors["currency"] = [_("Unknown currency %(code)s (expected ISO 4217, e.g. USD)", code=repr(cur))]
    if errors:
        raise ValidationError(_("The search is not valid; see errors for each field"), errors)
    return Need(
        countries=countries,
        regions=regions,
        areas=codes,
        instrument=instrument or None,
        amount=parsed,
        currency=cur if parsed is not None else None,
        day=day or dt.date.today(),
    )


def project_need(project: Project, day: dt.date, amount: Decimal | None = None, currency: str | None = None) -> Need:
    """A pipeline project seen as a need (its recipients, areas, instrument sought; the amount
    asked, when given, is what is left to fund)."""
    return Need(
        countries=[r.country_iso3 for r in project.recipients if r.country_iso3],
        regions=[r.region_code for r in project.recipients if r.region_code],
        areas=[a.area_code for a in project.areas],
        instrument=project.instrument_sought.value if project.instrument_sought else None,
        amount=amount,
        currency=currency,
        day=day,
    )
