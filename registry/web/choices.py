"""Option lists for filters and forms (reference data, organisations, funding sources)."""

from __future__ import annotations

from functools import cached_property

from babel.numbers import get_currency_name
from flask import g, has_request_context, request
from flask_babel import get_locale, gettext
from sqlalchemy import select

from registry import money
from registry.extensions import db
from registry.models import (
    Country,
    FundingSource,
    Organisation,
    PriorityArea,
    RecipientCategory,
    Region,
)
from registry.models.types import (
    N_,
    WSIS_ACTION_LINES,
    Instrument,
    OrganisationKind,
    ProjectStatus,
    SourceKind,
    TransactionType,
    label,
    tied_status_label,
)
from registry.reference_names import area_name, category_name, region_name
from registry.services import direction
from registry.web import by_name, country_label, infrastructure_choices, scope_choices

# Currencies most flows use first; the rest alphabetically after them.
COMMON_CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF", "SEK", "NOK", "DKK", "CAD", "AUD"]


class Choices:
    """Lazily loaded option lists, one set per request."""

    @cached_property
    def countries(self) -> list[tuple[str, str]]:
        """(alpha-3 code, name in the reader's language), in the reader's alphabetical order."""
        rows = db.session.execute(select(Country.iso3, Country.iso2, Country.name))
        return by_name([(row.iso3, country_label(row)) for row in rows], lambda option: option[1])

    @cached_property
    def regions(self) -> list[tuple[str, str]]:
        rows = db.session.execute(select(Region.code, Region.name).where(Region.level != "world"))
        return by_name([(code, region_name(code, name)) for code, name in rows], lambda option: option[1])

    @cached_property
    def areas(self) -> list[tuple[str, str]]:
        rows = db.session.execute(select(PriorityArea.code, PriorityArea.short_name).order_by(PriorityArea.code))
        return [(code, area_name(code, name)) for code, name in rows]

    @cached_property
    def categories(self) -> list[tuple[str, str]]:
        rows = db.session.execute(
            select(RecipientCategory.code, RecipientCategory.name).order_by(RecipientCategory.code)
        )
        return [(code, category_name(code, name)) for code, name in rows]

    @cached_property
    def organisations(self) -> list[tuple[int, str]]:
        rows = db.session.execute(select(Organisation.id, Organisation.name))
        return by_name([(i, name) for i, name in rows], lambda option: option[1])

    @cached_property
    def funding_sources(self) -> list[tuple[int, str]]:
        rows = db.session.execute(select(FundingSource.id, FundingSource.name))
        return by_name([(i, name) for i, name in rows], lambda option: option[1])

    @cached_property
    def currencies(self) -> list[tuple[str, str]]:
        """The currencies an amount may be given in: those the registry can convert (ECB rates, euro parities)."""
        table, usable = money.currencies(), money.convertible_currencies()
        rest = [c for c in usable if c not in COMMON_CURRENCIES]
        locale = get_locale()
        # The registry's English names; CLDR's in the other languages.
        english = locale is None or locale.language == "en"

        def name(code: str) -> str:
            return table[code][0] if english else get_currency_name(code, locale=locale)

        return [(c, f"{c} · {name(c)}") for c in [*COMMON_CURRENCIES, *rest] if c in usable]

    # Labels in the reader's language: made for each request, not once at import.
    @cached_property
    def statuses(self) -> list[tuple[str, str]]:
        return [(s.value, label(s.value)) for s in ProjectStatus]

    @cached_property
    def source_kinds(self) -> list[tuple[str, str]]:
        return [(k.value, label(k.value)) for k in SourceKind]

    @cached_property
    def org_kinds(self) -> list[tuple[str, str]]:
        return [(k.value, label(k.value)) for k in OrganisationKind]

    @cached_property
    def instruments(self) -> list[tuple[str, str]]:
        return [(i.value, label(i.value)) for i in Instrument]

    @cached_property
    def tied_statuses(self) -> list[tuple[str, str]]:
        """IATI TiedStatus codes, untied first: what the Tunis Agenda prefers."""
        return [(code, tied_status_label(code)) for code in ("5", "3", "4")]

    @cached_property
    def directions(self) -> list[tuple[str, str]]:
        return [(value, direction.label(value)) for value in direction.DIRECTIONS]

    @cached_property
    def collaboration_types(self) -> list[tuple[str, str]]:
        return [(code, f"{code} {gettext(text)}") for code, text in COLLABORATION_TYPE_NAMES.items()]

    @cached_property
    def transaction_types(self) -> list[tuple[str, str]]:
        return [(t.value, label(t.value)) for t in TransactionType]

    @cached_property
    def scopes(self) -> list[tuple[str, str]]:
        return scope_choices()

    @cached_property
    def infrastructure(self) -> list[tuple[str, str]]:
        return infrastructure_choices()

    @cached_property
    def action_lines(self) -> list[tuple[str, str]]:
        lines = sorted(WSIS_ACTION_LINES.items(), key=lambda item: int(item[0][1:]))
        return [(code, gettext(text)) for code, text in lines]


# IATI CollaborationType codelist, as the form offers it.
COLLABORATION_TYPE_NAMES = {
    "1": N_("Bilateral"),
    "2": N_("Multilateral (inflows)"),
    "3": N_("Bilateral, core contributions to NGOs and other private bodies / PPPs"),
    "4": N_("Multilateral outflows"),
    "6": N_("Private sector outflows"),
    "7": N_("Bilateral, ex-post reporting on NGOs' activities funded through core contributions"),
    "8": N_("Bilateral, triangular co-operation"),
}


def choices() -> Choices:
    """This request's option lists (kept with the request: its language names the options, and
    an application context may outlive one request)."""
    if has_request_context():
        return request.environ.setdefault("registry.choices", Choices())
    if "choices" not in g:
        g.choices = Choices()
    return g.choices
