"""Saved searches: the finder's or the marketplace's parameters, checked like a live search,
each with a secret feed token (docs/funding-finder.md, "Saved searches and feeds")."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from registry import money
from registry.errors import MoneyError, NotFoundError, PermissionDenied, ValidationError
from registry.extensions import db
from registry.models import Country, PriorityArea, Region, SavedSearch
from registry.models.alerts import FREQUENCIES
from registry.models.scope import scope_code
from registry.models.types import Instrument
from registry.services import audit, matching
from registry.services.actor import Actor
from registry.services.lookup import MAX_ID
from registry.services.marketplace.cofinancing import SORTS
from registry.services.marketplace.common import check_text, is_admin
from registry.services.matching import looks_like_code

SEARCH_KINDS = {"funding": "Funding sources for a need", "pipeline": "Pipeline projects"}
FUNDING_KEYS = ("country", "region", "priority_area", "instrument", "amount", "currency")
PIPELINE_KEYS = (
    "source_id",
    "country",
    "region",
    "scope",
    "priority_area",
    "instrument",
    "q",
    "has_commitments",
    "min_gap",
    "sort",
)
YES = ("true", "yes", "1", "on")
NO = ("false", "no", "0", "off")


def clean_search_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate a saved search's parameters the same way the live search does."""
    if kind not in SEARCH_KINDS:
        raise ValidationError(
            _("Unknown kind %(kind)s", kind=repr(kind)),
            {"kind": [_("One of %(choices)s", choices=", ".join(SEARCH_KINDS))]},
        )
    keys = FUNDING_KEYS if kind == "funding" else PIPELINE_KEYS
    unknown = set(params) - set(keys)
    if unknown:
        raise ValidationError(_("Unknown search parameters"), {k: [_("Unknown parameter")] for k in sorted(unknown)})
    clean = {k: str(v).strip() for k, v in params.items() if v not in (None, "")}
    for code in ("country", "currency"):  # stored as the codes are written everywhere else
        if code in clean:
            clean[code] = clean[code].upper()
    if kind == "funding":
        matching.build_need(
            clean.get("country"),
            clean.get("priority_area"),
            clean.get("instrument"),
            clean.get("amount"),
            clean.get("currency"),
            region=clean.get("region"),
        )
    else:
        pipeline_filters(clean)
        if "source_id" in clean:
            try:
                matching.get_source(int(clean["source_id"]))
            except ValueError:
                raise ValidationError(_("Not a funding source id"), {"source_id": [_("Not a number")]}) from None
    return clean


def pipeline_filters(params: dict[str, Any]) -> dict[str, Any]:
    """Check the marketplace filters (country, priority area, instrument, text; whether
    someone has committed, the smallest remaining gap in USD; the order)."""
    errors: dict[str, list[str]] = {}
    countries: list[str] = []
    for code in matching.codes_of(params.get("country")):
        country = code.upper()
        if not looks_like_code(country) or db.session.get(Country, country) is None:
            errors.setdefault("country", []).append(
                _("Unknown country %(code)s (expected an ISO 3166 alpha-3 code)", code=repr(country))
            )
        elif country not in countries:
            countries.append(country)
    regions: list[str] = []
    for code in matching.codes_of(params.get("region")):
        if not code.isdigit() or len(code) > 3 or db.session.get(Region, code.zfill(3)) is None:
            errors.setdefault("region", []).append(
                _("Unknown region %(code)s (expected an M49 code, e.g. 034 Southern Asia)", code=repr(code))
            )
        elif code.zfill(3) not in regions:
            regions.append(code.zfill(3))
    scopes: list[str] = []
    for word in matching.codes_of(params.get("scope")):
        try:
            scopes.append(scope_code(word))
        except ValueError:
            errors.setdefault("scope", []).append(
                _("Unknown scope %(value)s: national, multi_country, regional or global", value=repr(word))
            )
    area = str(params.get("priority_area") or "").strip().lower() or None
    if area and (not looks_like_code(area) or db.session.get(PriorityArea, area) is None):
        errors["priority_area"] = [_("Unknown priority area %(code)s (expected 23a-23l)", code=repr(area))]
    instrument = str(params.get("instrument") or "").strip().lower() or None
    if instrument and instrument not in {i.value for i in Instrument}:
        errors["instrument"] = [_("Unknown instrument %(instrument)s", instrument=repr(instrument))]
    text = str(params.get("q") or "")
    if "\x00" in text:
        errors["q"] = [_("The text contains a NUL character")]
    committed = params.get("has_commitments")
    if isinstance(committed, str):
        word = committed.strip().lower()
        committed = True if word in YES else False if word in NO else None if not word else word
    if committed is not None and not isinstance(committed, bool):
        errors["has_commitments"] = [_("Give true or false")]
    min_gap = params.get("min_gap")
    if min_gap not in (None, ""):
        try:
            min_gap = money.parse_amount(min_gap, "USD")
        except MoneyError:
            min_gap = None
            errors["min_gap"] = [_("Not an amount in USD")]
        else:
            if min_gap < 0:
                errors["min_gap"] = [_("Must be zero or more")]
    else:
        min_gap = None
    sort = str(params.get("sort") or "").strip().lower() or None
    if sort and sort not in SORTS:
        errors["sort"] = [_("One of %(choices)s", choices=", ".join(SORTS))]
    if errors:
        raise ValidationError(_("The filters are not valid; see errors for each field"), errors)
    return {
        "country": ",".join(countries) or None,
        "countries": countries,
        "regions": regions,
        "scopes": scopes,
        "priority_area": area,
        "instrument": instrument,
        "q": str(params.get("q") or "").strip() or None,
        "has_commitments": committed,
        "min_gap": min_gap,
        "sort": sort,
    }


def create_saved_search(
    actor: Actor, name: str, kind: str, params: dict[str, Any], alert_frequency: str = "daily"
) -> SavedSearch:
    """Save a search for the logged-in user, with a fresh secret feed token and an alert of its
    new matches at ``alert_frequency`` (registry/services/alerts.py; "off": in the app only)."""
    if actor.user_id is None:
        raise PermissionDenied(_("Log in to save searches"))
    name = (name or "").strip()
    check_text({"name": name})
    if not name:
        raise ValidationError(_("Give the search a name"), {"name": [_("Required")]})
    if alert_frequency not in FREQUENCIES:
        raise ValidationError(
            _("Unknown frequency %(value)s", value=repr(alert_frequency)),
            {"alert_frequency": [_("One of %(choices)s", choices=", ".join(FREQUENCIES))]},
        )
    search = SavedSearch(
        user_id=actor.user_id,
        name=name[:200],
        kind=kind,
        params=clean_search_params(kind, dict(params)),
        token=secrets.token_urlsafe(32),
        alert_frequency=alert_frequency,
    )
    db.session.add(search)
    db.session.flush()
    audit.record(
        actor,
        "create",
        "saved_search",
        search.id,
        None,
        {"name": search.name, "kind": kind, "params": search.params},
        f"Saved search {search.name}",
    )
    return search


def saved_searches(actor: Actor) -> list[SavedSearch]:
    """The actor's own saved searches."""
    if actor.user_id is None:
        return []
    stmt = (
        select(SavedSearch)
        .where(SavedSearch.user_id == actor.user_id)
        .order_by(SavedSearch.created_at.desc(), SavedSearch.id.desc())
    )
    return list(db.session.scalars(stmt))


def get_saved_search(actor: Actor, search_id: int) -> SavedSearch:
    """One of the actor's saved searches (others' are reported as absent)."""
    search = db.session.get(SavedSearch, search_id) if 0 < search_id <= MAX_ID else None  # beyond the keys: absent
    if search is None or (search.user_id != actor.user_id and not is_admin(actor)):
        raise NotFoundError(_("No saved search with id %(id)s", id=search_id))
    return search


def search_by_token(token: str) -> SavedSearch:
    """The saved search a feed token opens, or NotFoundError."""
    search = db.session.scalar(select(SavedSearch).where(SavedSearch.token == token)) if token else None
    if search is None:
        raise NotFoundError(_("No saved search has this feed address (it may have been deleted)"))
    return search


def delete_saved_search(actor: Actor, search: SavedSearch) -> None:
    """Delete a saved search (its feed token stops working); the audit trail keeps its name."""
    audit.record(
        actor,
        "delete",
        "saved_search",
        search.id,
        {"name": search.name},
        None,
        f"Deleted saved search {search.name}",
    )
    db.session.delete(search)
    db.session.flush()


def mark_seen(actor: Actor, search: SavedSearch) -> None:
    """Remember that the user has seen the current matches (the CSV then lists only newer ones)."""
    search.last_seen_at = dt.datetime.now(dt.UTC)
    db.session.flush()
