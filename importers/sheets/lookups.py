"""Resolving references: countries, regions and priority areas by every name and code a
donor may write (ISO codes, English and French names, common variants, OECD regional names),
read from the registry's reference tables once per file."""

from __future__ import annotations

import difflib
import re

from sqlalchemy import select

from importers.sheets.fields import csv_pairs
from importers.sheets.text import norm
from registry.extensions import db
from registry.models import Country, PriorityArea, Region


class Lookups:
    """Countries, regions and areas by every name and code a donor may use (read once)."""

    def __init__(self) -> None:
        self.countries: dict[str, str] = {}
        self.country_names: dict[str, str] = {}
        self._display: dict[str, str] = {}  # ISO3 -> the English name, for suggestions
        self._suggestions: dict[tuple, str | None] = {}
        self._region_display: dict[str, str] = {}
        for c in db.session.scalars(select(Country)):
            self._display[c.iso3] = c.name
            self.countries[c.iso3] = c.iso3
            self.countries[c.iso2] = c.iso3
            if c.numeric:  # Kosovo (XKX) has no ISO 3166-1 numeric code
                self.countries[c.numeric] = c.iso3
            for name in (c.name, c.name_fr):
                if name:
                    self.country_names[norm(name)] = c.iso3
        for name, iso3 in csv_pairs("country_variants.csv"):
            if iso3 in self.countries:
                self.country_names.setdefault(norm(name), iso3)
        self.regions: dict[str, str] = {}
        self.region_names: dict[str, str] = {}
        for r in db.session.scalars(select(Region)):
            self._region_display[r.code] = r.name
            self.regions[r.code] = r.code
            self.region_names[norm(r.name)] = r.code
        for name, code in csv_pairs("oecd_regions.csv"):
            if code in self.regions:
                self.region_names[norm(name)] = code
                self.region_names.setdefault(norm(name.replace(", regional", "")), code)
        self.areas: dict[str, str] = {}
        for a in db.session.scalars(select(PriorityArea)):
            self.areas[a.code] = a.code
            self.areas[norm(a.short_name)] = a.code
            self.areas[norm(f"{a.code} {a.short_name}")] = a.code

    def country(self, text: str) -> str | None:
        """ISO3 of a country by ISO3, ISO2, numeric code, English or French name or variant."""
        t = text.strip()
        up = t.upper()
        if up in self.countries and (len(up) in (2, 3)):
            return self.countries[up]
        if t.isdigit() and len(t) <= 3:
            return self.countries.get(t.zfill(3))
        return self.country_names.get(norm(t))

    def suggest(self, text: str, countries: bool = True, regions: bool = False) -> str | None:
        """The closest known country (or region) name to a misspelt one ('Malawii' -> 'Malawi').

        Remembered per text: a file may repeat the same misspelling on every row."""
        key = (norm(text), countries, regions)
        if key not in self._suggestions:
            self._suggestions[key] = self._closest(text, countries, regions)
        return self._suggestions[key]

    def _closest(self, text: str, countries: bool, regions: bool) -> str | None:
        names: dict[str, str] = {}
        if countries:
            names.update(self.country_names)
        if regions:
            names.update(self.region_names)
        close = difflib.get_close_matches(norm(text), list(names), n=1, cutoff=0.8)
        if not close:
            return None
        if countries and close[0] in self.country_names:
            code = self.country_names[close[0]]
            return f"{self._display.get(code, close[0])} ({code})"
        return self._region_display.get(names[close[0]], close[0])

    def region(self, text: str) -> str | None:
        """M49 code of a region given by code, M49 name or OECD regional name."""
        t = text.strip()
        if t.isdigit() and len(t) <= 3:
            return self.regions.get(t.zfill(3))
        n = norm(t)
        return self.region_names.get(n) or self.region_names.get(n.replace(" regional", "").strip())

    def area(self, text: str) -> str | None:
        """Code of a priority area given by code (23b, para 23b) or short name."""
        t = norm(text).replace(" ", "")
        m = re.fullmatch(r"(?:para(?:graph)?)?(23[a-l])", t)
        if m:
            return m.group(1)
        return self.areas.get(norm(text))
