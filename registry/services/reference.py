"""Loading and querying reference data (countries, regions, categories, areas)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select

from registry.errors import NotFoundError
from registry.extensions import db
from registry.models import CategoryMembership, Country, PriorityArea, RecipientCategory, Region


@dataclass
class RowChange:
    """One row a reference load added, changed or removed; ``fields`` maps a changed column
    to its values before and after."""

    table: str
    kind: str  # created, updated, deleted
    key: str
    fields: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class LoadCounts:
    """What a reference load did, per table, and row by row."""

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    rows: list[RowChange] = field(default_factory=list)

    def add(self, kind: str, table: str, n: int = 1, key: str = "", fields: dict | None = None) -> None:
        bucket = getattr(self, kind)
        bucket[table] = bucket.get(table, 0) + n
        if key:
            self.rows.append(RowChange(table, kind, key, fields or {}))

    @property
    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values()) or any(self.deleted.values())


def _data_dir() -> Path:
    return Path(str(resources.files("registry").joinpath("data")))


def _rows(data_dir: Path, name: str) -> list[dict[str, str]]:
    with open(data_dir / name, encoding="utf-8", newline="") as handle:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]


def data_file_rows(name: str) -> list[dict[str, str]]:
    """The rows of a shipped reference file, as text."""
    return _rows(_data_dir(), name)


def income_groups(data_dir: Path | None = None) -> dict[str, str]:
    """Label of each DAC income group code of countries.csv (income_groups.csv)."""
    return {row["code"]: row["name"] for row in _rows(data_dir or _data_dir(), "income_groups.csv")}


def sources(data_dir: Path | None = None) -> dict[str, dict[str, str]]:
    """Source and as-of date of each shipped reference file."""
    path = (data_dir or _data_dir()) / "sources.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text("utf-8"))


def _upsert(model, key: str, rows: Iterable[dict], counts: LoadCounts, table: str) -> None:
    existing = {getattr(obj, key): obj for obj in db.session.scalars(select(model))}
    for values in rows:
        obj = existing.get(values[key])
        if obj is None:
            db.session.add(model(**values))
            counts.add("created", table, key=str(values[key]))
            continue
        changed: dict[str, tuple[str, str]] = {}
        for attr, value in values.items():
            if getattr(obj, attr) != value:
                changed[attr] = (_text(getattr(obj, attr)), _text(value))
                setattr(obj, attr, value)
        if changed:
            counts.add("updated", table, key=str(values[key]), fields=changed)


def _text(value) -> str:
    return "" if value is None else str(value)


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def load_reference(data_dir: Path | None = None) -> LoadCounts:
    """Create or update every reference row from the data files; idempotent."""
    data_dir = data_dir or _data_dir()
    counts = LoadCounts()

    regions = _rows(data_dir, "regions.csv")
    # Parents first, so that the self-referencing foreign key is always satisfied.
    level_order = {"world": 0, "region": 1, "subregion": 2, "intermediate": 3}
    regions.sort(key=lambda r: (level_order.get(r["level"], 9), r["code"]))
    _upsert(
        Region,
        "code",
        (
            {"code": r["code"], "name": r["name"], "level": r["level"], "parent_code": r["parent_code"] or None}
            for r in regions
        ),
        counts,
        "regions",
    )
    db.session.flush()

    _upsert(
        Country,
        "iso3",
        (
            {
                "iso3": r["iso3"],
                "iso2": r["iso2"],
                "numeric": r["numeric"] or None,  # Kosovo (XKX) has no ISO numeric code
                "name": r["name"],
                "name_fr": r.get("name_fr") or None,
                "region_code": r["region_code"] or None,
                "subregion_code": r["subregion_code"] or None,
                "intermediate_code": r["intermediate_code"] or None,
                "dac_recipient": r["dac_recipient"] == "1",
                "income_group": r["income_group"] or None,
            }
            for r in _rows(data_dir, "countries.csv")
        ),
        counts,
        "countries",
    )
    _upsert(RecipientCategory, "code", _rows(data_dir, "recipient_categories.csv"), counts, "recipient_categories")
    _upsert(
        PriorityArea,
        "code",
        (
            {
                "code": r["code"],
                "short_name": r["short_name"],
                "description": r["description"],
                "main_list": r["main_list"] == "1",
            }
            for r in _rows(data_dir, "priority_areas.csv")
        ),
        counts,
        "priority_areas",
    )
    db.session.flush()
    _load_memberships(_rows(data_dir, "category_memberships.csv"), counts)
    db.session.flush()
    return counts


def _load_memberships(rows: list[dict[str, str]], counts: LoadCounts) -> None:
    """Make the membership table equal to the file: add, update, and drop stale rows."""
    wanted = {
        (r["iso3"], r["category"], _date(r["valid_from"])): (_date(r["valid_to"]), r.get("source", "")) for r in rows
    }
    existing = {
        (m.country_iso3, m.category_code, m.valid_from): m for m in db.session.scalars(select(CategoryMembership))
    }

    def label(key: tuple) -> str:
        return f"{key[0]} {key[1]} from {key[2]}"

    for key, membership in existing.items():
        if key not in wanted:
            db.session.delete(membership)
            counts.add("deleted", "category_memberships", key=label(key))
    for key, (valid_to, source) in wanted.items():
        membership = existing.get(key)
        if membership is None:
            iso3, category, valid_from = key
            db.session.add(
                CategoryMembership(
                    country_iso3=iso3, category_code=category, valid_from=valid_from, valid_to=valid_to, source=source
                )
            )
            counts.add("created", "category_memberships", key=label(key))
        elif (membership.valid_to, membership.source) != (valid_to, source):
            pairs = (("valid_to", membership.valid_to, valid_to), ("source", membership.source, source))
            changed = {name: (_text(old), _text(new)) for name, old, new in pairs if old != new}
            membership.valid_to, membership.source = valid_to, source
            counts.add("updated", "category_memberships", key=label(key), fields=changed)


def get_country(iso3: str) -> Country:
    """The country with this ISO 3166 alpha-3 code, or NotFoundError."""
    country = db.session.get(Country, iso3.upper()) if iso3 else None
    if country is None:
        raise NotFoundError(_("No country with ISO 3166 alpha-3 code %(code)s", code=repr(iso3)))
    return country


def categories_on(iso3: str, day: dt.date) -> list[str]:
    """Recipient categories a country belongs to on a date."""
    stmt = select(CategoryMembership.category_code).where(
        CategoryMembership.country_iso3 == iso3,
        CategoryMembership.valid_from <= day,
        (CategoryMembership.valid_to.is_(None)) | (CategoryMembership.valid_to > day),
    )
    return sorted(set(db.session.scalars(stmt)))


def members_on(category: str, day: dt.date) -> list[str]:
    """ISO3 codes of the countries in a category on a date."""
    stmt = select(CategoryMembership.country_iso3).where(
        CategoryMembership.category_code == category,
        CategoryMembership.valid_from <= day,
        (CategoryMembership.valid_to.is_(None)) | (CategoryMembership.valid_to > day),
    )
    return sorted(set(db.session.scalars(stmt)))


def region_and_descendants(code: str) -> set[str]:
    """A region code with all the sub-regions below it."""
    children: dict[str | None, list[str]] = {}
    for region in db.session.scalars(select(Region)):
        children.setdefault(region.parent_code, []).append(region.code)
    found, stack = set(), [code]
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.add(current)
        stack.extend(children.get(current, []))
    return found


def countries_in_region(code: str) -> list[str]:
    """ISO3 codes of the countries in an M49 region, sub-region or intermediate region."""
    stmt = select(Country.iso3).where(
        (Country.region_code == code) | (Country.subregion_code == code) | (Country.intermediate_code == code)
    )
    return sorted(db.session.scalars(stmt))
