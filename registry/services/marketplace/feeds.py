"""What a saved search finds now: its matches as feed items (Atom entries, CSV rows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from registry import i18n
from registry.models import SavedSearch
from registry.services import matching
from registry.services.marketplace.cofinancing import open_projects
from registry.services.marketplace.searches import pipeline_filters
from registry.services.matching.wording import all_of


@dataclass
class FeedItem:
    """One match of a saved search, ready for a feed or a CSV row."""

    kind: str  # "source" or "project"
    id: int
    title: str
    created_at: dt.datetime
    updated_at: dt.datetime
    summary: str
    row: dict[str, Any]


def search_matches(search: SavedSearch, day: dt.date | None = None) -> list[FeedItem]:
    """The current matches of a saved search, in the search's own ranking."""
    day = day or dt.date.today()
    params = search.params or {}
    if search.kind == "funding":
        return _funding_items(params, day)
    return _pipeline_items(params, day)


def _funding_items(params: dict[str, Any], day: dt.date) -> list[FeedItem]:
    """The finder's ranked sources for the saved need (those failing a hard criterion left out)."""
    need = matching.build_need(
        params.get("country"),
        params.get("priority_area"),
        params.get("instrument"),
        params.get("amount"),
        params.get("currency"),
        day,
        region=params.get("region"),
    )
    return [_source_item(rank, m) for rank, m in enumerate(matching.find_funding(need).matches, start=1)]


def _source_item(rank: int, m: matching.SourceMatch) -> FeedItem:
    met = [c.label for c in m.criteria if c.status == matching.MET]
    if met:
        summary = _("Score %(score)s; met: %(criteria)s", score=m.score, criteria=all_of(met))
    else:
        summary = _("Score %(score)s; no criterion met", score=m.score)
    return FeedItem(
        "source",
        m.source.id,
        m.source.name,
        m.source.created_at,
        m.source.updated_at,
        summary,
        {
            "rank": rank,
            "score": m.score,
            "source_id": m.source.id,
            "source_ref": m.source.ref,
            "name": m.source.name,
            "managing_organisation": m.source.managing_org.name,
            **{c.key: c.status for c in m.criteria},
            "committed_in_country_usd": str(m.committed_in_country),
        },
    )


def _pipeline_items(params: dict[str, Any], day: dt.date) -> list[FeedItem]:
    """Pipeline projects under the saved filters: ranked for the source when one is named,
    else in the marketplace's order (newest first unless the search sorts by gap, unscored)."""
    if params.get("source_id"):
        source = matching.get_source(int(params["source_id"]))
        found = matching.matching_projects(source, day)
        keep = {p.id for p in open_projects(pipeline_filters(params)).projects}
        found = [m for m in found if m.project.id in keep]
    else:
        listed = open_projects(pipeline_filters(params))
        found = [matching.ProjectMatch(p, [], listed.gaps[p.id]) for p in listed.projects]
    return [_project_item(rank, m) for rank, m in enumerate(found, start=1)]


def _project_item(rank: int, m: matching.ProjectMatch) -> FeedItem:
    p, gap = m.project, m.gap
    countries = [r.country_iso3 for r in p.recipients if r.country_iso3]
    areas = [a.area_code for a in p.areas]
    return FeedItem(
        "project",
        p.id,
        p.title,
        p.created_at,
        p.updated_at,
        _(
            "%(countries)s · areas %(areas)s · gap %(gap)s",
            countries=all_of(countries),
            areas=all_of(areas),
            gap=i18n.money(gap.gap_usd, "USD"),
        ),
        {
            "rank": rank,
            "score": m.score if m.criteria else "",
            "project_id": p.id,
            "title": p.title,
            "countries": " ".join(countries),
            "areas": " ".join(areas),
            "instrument_sought": p.instrument_sought.value if p.instrument_sought else "",
            "need": str(gap.need) if gap.need is not None else "",
            "need_currency": gap.currency or "",
            "gap": str(gap.gap) if gap.gap is not None else "",
            "gap_usd": str(gap.gap_usd) if gap.gap_usd is not None else "",
            "contact_email": p.contact_email or "",
            "posted_at": p.created_at.isoformat(),
        },
    )


def new_matches(search: SavedSearch, since: dt.datetime | None = None) -> list[FeedItem]:
    """Matches that appeared after ``since`` (default: when the search was last marked seen;
    for a search never marked seen, every current match is new to its owner)."""
    since = since or search.last_seen_at
    items = search_matches(search)
    return items if since is None else [item for item in items if item.created_at > since]
