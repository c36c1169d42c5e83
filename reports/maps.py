"""A world map of a report measure by recipient country (a choropleth), drawn as SVG on the server.

The country shapes are Natural Earth's 1:110m countries as the npm package world-atlas ships them
(reports/data/world-110m.json, made by tools/world_shapes.py; sources in reports/data/SOURCES.md),
projected with the Equal Earth projection. A country too small to be seen at this scale (most
small island developing states) is drawn as a circle at its centre as well, in its class's
colour. Amounts that no country receives (regional, global, unallocated) are listed apart, never
dropped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel.numbers import format_percent
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import escape

from registry import i18n
from reports import charts, population
from reports.dimensions import measure_name

SHAPES = Path(__file__).resolve().parent / "data" / "world-110m.json"
REPORT_MEASURES = ("commitment", "disbursement", "need", "gap", "coverage")  # the report's own
MEASURES = (*REPORT_MEASURES, *population.PER_CAPITA)  # and per person
WIDTH = 960
MARGIN = 8
SOUTH, NORTH = -56.0, 84.0  # latitudes drawn: Tierra del Fuego to Greenland (no Antarctica)
TINY = 24.0  # px²: a country whose shapes cover less than this also gets a circle
MARKER_RADIUS = 4.0
# Sequential classes, light to dark: money received or disbursed, and coverage, in blues;
# need and gap, the money missing, in oranges and reds.
BLUES = ("#deebf7", "#9ecae1", "#6baed6", "#3182bd", "#08519c")
REDS = ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")
ZERO = "#f4f1ea"  # a country in the report whose amount is nought
NEGATIVE = "#4d9221"  # a negative gap: more committed than the need stated
NO_DATA = "#eceff3"
BORDER = "#ffffff"
COVERAGE_BREAKS = (Decimal("0.1"), Decimal("0.25"), Decimal("0.5"), Decimal("0.8"))  # and above


# --- shapes --------------------------------------------------------------------------------

# Equal Earth (Šavrič, Patterson, Jenny 2018): equal-area, with straight parallels.
_A1, _A2, _A3, _A4 = 1.340264, -0.081106, 0.000893, 0.003796
_M = math.sqrt(3) / 2


def equal_earth(lon: float, lat: float) -> tuple[float, float]:
    """A point's position on the unit Equal Earth plane (y up)."""
    theta = math.asin(_M * math.sin(math.radians(lat)))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = (
        2
        * math.sqrt(3)
        * math.radians(lon)
        * math.cos(theta)
        / (3 * (_A1 + 3 * _A2 * t2 + t6 * (7 * _A3 + 9 * _A4 * t2)))
    )
    y = theta * (_A1 + _A2 * t2 + t6 * (_A3 + _A4 * t2))
    return x, y


@dataclass(frozen=True)
class Shape:
    path: str  # SVG path data of all its polygons
    area: float  # px²
    centre: tuple[float, float]  # of its largest polygon


@dataclass(frozen=True)
class World:
    width: int
    height: int
    shapes: dict[str, Shape]
    points: dict[str, tuple[float, float]]  # countries with no shape at this scale

    def centre(self, iso3: str) -> tuple[float, float] | None:
        if iso3 in self.shapes:
            return self.shapes[iso3].centre
        return self.points.get(iso3)

    def tiny(self, iso3: str) -> bool:
        return iso3 in self.points or (iso3 in self.shapes and self.shapes[iso3].area < TINY)


@lru_cache(maxsize=1)
def world() -> World:
    data = json.loads(SHAPES.read_text(encoding="utf-8"))
    x_max = equal_earth(180, 0)[0]
    top, bottom = equal_earth(0, NORTH)[1], equal_earth(0, SOUTH)[1]
    scale = (WIDTH - 2 * MARGIN) / (2 * x_max)
    height = round((top - bottom) * scale + 2 * MARGIN)

    def project(lon: float, lat: float) -> tuple[float, float]:
        x, y = equal_earth(lon, max(SOUTH, min(NORTH, lat)))
        return MARGIN + (x + x_max) * scale, MARGIN + (top - y) * scale

    shapes = {}
    for iso3, polygons in data["shapes"].items():
        parts, total, largest = [], 0.0, (-1.0, (0.0, 0.0))
        for polygon in polygons:
            for n, ring in enumerate(polygon):
                points = [project(lon, lat) for lon, lat in ring]
                parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points) + "Z")
                if n == 0:
                    area, centre = _area_and_centre(points)
                    total += area
                    largest = max(largest, (area, centre))
        shapes[iso3] = Shape("".join(parts), total, largest[1])
    points = {iso3: project(lon, lat) for iso3, (lon, lat) in data["points"].items()}
    return World(WIDTH, height, shapes, points)


def _area_and_centre(ring: list[tuple[float, float]]) -> tuple[float, tuple[float, float]]:
    a = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        a, cx, cy = a + cross, cx + (x0 + x1) * cross, cy + (y0 + y1) * cross
    if abs(a) < 1e-9:
        return 0.0, (sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring))
    return abs(a) / 2, (cx / (3 * a), cy / (3 * a))


# --- classes -------------------------------------------------------------------------------


@dataclass
class Classes:
    """The colour classes of a measure's values: (colour, legend label) in order, and which
    class each country falls in."""

    entries: list[tuple[str, str]] = field(default_factory=list)
    colour_of: dict[str, str] = field(default_factory=dict)
    class_of: dict[str, int] = field(default_factory=dict)


def _as_decimal(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def map_measure_name(measure: str) -> str:
    """A map measure's name in the reader's language (the report's measures, and per person)."""
    if measure == "commitment_per_capita":
        return _("Commitments per person")
    if measure == "disbursement_per_capita":
        return _("Disbursements per person")
    return measure_name(measure)


def figure(measure: str, value, currency: str) -> str:
    """The exact figure of a measure, as a country's hover title says it (per person: to the
    currency's minor unit, and "less than" one of it rather than a misleading nought)."""
    if measure == "coverage":
        return format_percent(Decimal(value), format="#,##0.0 %", locale=get_locale(), decimal_quantization=True)
    if measure in population.PER_CAPITA:
        from registry.money import minor_units

        unit = Decimal(1).scaleb(-minor_units(currency))
        if 0 < abs(Decimal(value)) and abs(Decimal(value)) < unit / 2:
            return _("less than %(amount)s", amount=i18n.money(unit, currency))
    return i18n.money(value, currency)


def _percent(value: Decimal) -> str:
    return format_percent(value, format="#,##0 %", locale=get_locale())


def classify(measure: str, values: dict[str, Decimal]) -> Classes:
    """Coverage in fixed steps (under 10 %, ... 80 % and more); amounts in up to five classes
    of about as many countries each (quantiles) over the positive values, with nought, and
    for the gap negative values, as classes of their own."""
    out = Classes()
    palette = REDS if measure in ("need", "gap") else BLUES
    per_person = measure in population.PER_CAPITA
    if measure == "coverage":
        lows = (Decimal(0), *COVERAGE_BREAKS)
        for n, low in enumerate(lows):
            if n == 0:
                name = _("under %(high)s", high=_percent(COVERAGE_BREAKS[0]))
            elif n == len(lows) - 1:
                name = _("%(low)s and more", low=_percent(low))
            else:
                name = _("%(low)s to %(high)s", low=_percent(low), high=_percent(lows[n + 1]))
            out.entries.append((palette[n], name))
        for iso3, value in values.items():
            n = sum(1 for b in COVERAGE_BREAKS if value >= b)
            out.class_of[iso3], out.colour_of[iso3] = n, palette[n]
        return out
    positive = sorted(v for v in values.values() if v > 0)
    uppers: list[Decimal] = []
    for n in range(1, 6):  # the upper bound of each quantile class, without repeats
        if positive:
            bound = positive[math.ceil(n * len(positive) / 5) - 1]
            if not uppers or bound > uppers[-1]:
                uppers.append(bound)
    first = 0
    if any(v < 0 for v in values.values()):
        out.entries.append((NEGATIVE, _("negative: more committed than the need stated")))
        first += 1
    if any(v == 0 for v in values.values()):
        out.entries.append((ZERO, _("none")))
        first += 1
    colours = palette[len(palette) - len(uppers) :] if len(uppers) < 3 else palette[: len(uppers)]
    low = Decimal(0)

    def bound(value: Decimal) -> str:  # amounts per person are small: to the hundredth
        return i18n.number(value, 2) if per_person else i18n.compact_number(value)

    for n, high in enumerate(uppers):
        name = (
            _("up to %(high)s", high=bound(high))
            if n == 0
            else _("%(low)s to %(high)s", low=bound(low), high=bound(high))
        )
        out.entries.append((colours[n], name))
        low = high
    for iso3, value in values.items():
        if value < 0:
            out.class_of[iso3], out.colour_of[iso3] = 0, NEGATIVE
        elif value == 0:
            out.class_of[iso3], out.colour_of[iso3] = first - 1, ZERO
        else:
            n = next(i for i, high in enumerate(uppers) if value <= high)
            out.class_of[iso3], out.colour_of[iso3] = first + n, colours[n]
    return out


# --- the map -------------------------------------------------------------------------------


@dataclass
class MapData:
    """What a map shows: each country's value of the measure, and the amounts of the rows that
    are not one country (label, value), for the table under the map."""

    measure: str
    currency: str
    values: dict[str, Decimal]
    names: dict[str, str]
    apart: list[tuple[str, Decimal | None]]
    # Per person: the year asked (the report's last year, or None: the file's latest), the
    # population each figure divides by, and the countries with an amount but no population.
    year: int | None = None
    populations: dict[str, population.Population] = field(default_factory=dict)
    no_population: list[str] = field(default_factory=list)  # ISO alpha-3, by name

    @property
    def per_person(self) -> bool:
        return self.measure in population.PER_CAPITA

    @property
    def apart_measure(self) -> str:
        """The measure of the amounts not on the map (a region has no population: its amount)."""
        return population.PER_CAPITA.get(self.measure, self.measure)

    @property
    def no_population_names(self) -> str:
        return ", ".join(self.names[iso3] for iso3 in self.no_population)

    @property
    def population_year(self) -> int:
        last = population.last_year()
        return last if self.year is None else min(self.year, last)


def map_data(report, measure: str, countries: set[str]) -> MapData:
    """A report by country (rows keyed by ISO alpha-3, or a label such as 'Regional: Africa')
    as the values of ``measure``; ``countries``: the registry's ISO alpha-3 codes. A measure per
    person divides the country's amount by its population (reports.population)."""
    drawn = world()
    amount_of = population.PER_CAPITA.get(measure, measure)
    year = report.spec.year_to
    values, names, apart, populations, missing = {}, {}, [], {}, []
    for row in report.rows:
        key, value = row["country"], _as_decimal(row.get(amount_of))
        if key in countries and (key in drawn.shapes or key in drawn.points):
            names[key] = str(row["country_label"])
            if value is not None and amount_of != measure:
                people = population.population(key, year)
                if people is None:
                    missing.append(key)
                    continue
                populations[key] = people
                value = population.per_capita(value, people)
            if value is not None:
                values[key] = value
        elif value is not None or key not in countries:
            apart.append((str(row["country_label"]), value))
    return MapData(
        measure,
        report.spec.currency,
        values,
        names,
        apart,
        year,
        populations,
        i18n.sorted_by_name(missing, key=names.get),
    )


def svg(
    data: MapData,
    title: str,
    highlight: str | None = None,
    list_apart: bool = True,
    link: Callable[[str], str] | None = None,
) -> str:
    """The map as an SVG document: every country drawn (hatched where the report has no figure),
    a circle for each small one with a figure, the legend and (``list_apart``: the file, whose
    reader has no page around it) the amounts not allocated to one country under it; ``link``:
    the address each country leads to (a page's map; the reader of the file has no site)."""
    drawn = world()
    classes = classify(data.measure, data.values)
    pattern = (
        '<defs><pattern id="map-no-data" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="{NO_DATA}"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c3cad3" '
        'stroke-width="2"/></pattern></defs>'
    )
    body = [pattern, f'<rect width="{drawn.width}" height="{drawn.height}" fill="#f5f9fc"/>']
    no_data_fill = "url(#map-no-data)"
    countries, markers = [], []
    for iso3 in sorted(set(drawn.shapes) | set(data.values)):
        has = iso3 in data.values
        fill = classes.colour_of[iso3] if has else no_data_fill
        tip = _label(data, iso3)
        css = "map-country" + (f" map-class-{classes.class_of[iso3]}" if has else " map-no-data")
        if iso3 == highlight:
            css += " map-highlight"
        stroke = "#1d2733" if iso3 == highlight else BORDER
        width = "1.5" if iso3 == highlight else "0.5"
        # The map's countries are a mouse's shortcut to their pages (tabindex -1): a keyboard
        # reaches the same pages from the table beside the map.
        opening = f'<a href="{escape(link(iso3))}" tabindex="-1">' if link else ""
        closing = "</a>" if link else ""
        if iso3 in drawn.shapes:
            countries.append(
                f'{opening}<path class="{css}" data-country="{escape(iso3)}" d="{drawn.shapes[iso3].path}" '
                f'fill="{fill}" stroke="{stroke}" stroke-width="{width}" fill-rule="evenodd">'
                f"<title>{escape(tip)}</title></path>{closing}"
            )
        if (has or iso3 == highlight) and drawn.tiny(iso3):
            x, y = drawn.centre(iso3)
            markers.append(
                f'{opening}<circle class="map-marker {css}" data-country="{escape(iso3)}" cx="{x:.1f}" cy="{y:.1f}" '
                f'r="{MARKER_RADIUS}" fill="{fill}" stroke="#1d2733" stroke-width="0.8">'
                f"<title>{escape(tip)}</title></circle>{closing}"
            )
    body += ['<g class="map-countries">', *countries, "</g>", '<g class="map-markers">', *markers, "</g>"]

    # Legend and the amounts shown apart, under the map.
    y = drawn.height + 18
    body.append(
        f'<text x="{MARGIN}" y="{y}" font-weight="600" fill="{charts.INK}">{escape(_legend_title(data))}</text>'
    )
    hatched = (
        _("no figure in this report, or no population figure") if data.per_person else _("no figure in this report")
    )
    entries = [*classes.entries, (no_data_fill, hatched)]
    legend, used = charts._legend(entries, MARGIN, y + 8, drawn.width - MARGIN)
    body += legend
    y += 8 + used + 12
    body.append(
        f'<text x="{MARGIN}" y="{y}" fill="{charts.MUTED}">'
        f"{escape(_('Small states and islands are also shown as circles.'))}</text>"
    )
    if data.per_person:  # the definition and the source travel with the file and its PNG
        for line in (per_person_note(data), str(population.SOURCE)):
            y += 17
            body.append(f'<text class="map-source" x="{MARGIN}" y="{y}" fill="{charts.MUTED}">{escape(line)}</text>')
        if data.no_population:
            y += 17
            names = _(
                "No population figure, not on the map: %(names)s",
                names=data.no_population_names,
            )
            body.append(
                f'<text class="map-no-population" x="{MARGIN}" y="{y}" fill="{charts.MUTED}">{escape(names)}</text>'
            )
    if data.apart and list_apart:
        y += 22
        body.append(
            f'<text x="{MARGIN}" y="{y}" font-weight="600" fill="{charts.INK}">'
            f"{escape(_('Not allocated to one country (not on the map)'))}</text>"
        )
        for label, value in data.apart:
            y += 17
            shown = "–" if value is None else figure(data.apart_measure, value, data.currency)
            body.append(
                f'<text class="map-apart" x="{MARGIN}" y="{y}" fill="{charts.MUTED}">'
                f"{escape(_('%(name)s: %(value)s', name=label, value=shown))}</text>"
            )
    drawing = charts._svg(drawn.width, y + 12, title, body)
    if link:  # an image holds no links: with them the map is a named group of its countries
        drawing = drawing.replace('role="img"', 'role="group"', 1)
    return drawing


def _label(data: MapData, iso3: str) -> str:
    name = data.names.get(iso3) or _country_name(iso3)
    if iso3 in data.no_population:
        return _("%(country)s: no population figure", country=name)
    if iso3 not in data.values:
        return _("%(country)s: no figure", country=name)
    value = figure(data.measure, data.values[iso3], data.currency)
    if data.per_person:
        people = data.populations[iso3]
        return _(
            "%(country)s: %(value)s per person (population %(year)s: %(people)s)",
            country=name,
            value=value,
            year=people.year,
            people=i18n.number(people.people),
        )
    return _("%(country)s: %(value)s", country=name, value=value)


def per_person_note(data: MapData) -> str:
    """What a figure per person divides by, for the map's notes."""
    return _(
        "Per person: the amount divided by the country's population in %(year)s (the last year of "
        "the report, or the latest year with a figure before it).",
        year=data.population_year,
    )


def _legend_title(data: MapData) -> str:
    if data.measure == "coverage":
        return _("%(measure)s (share of the need committed)", measure=measure_name(data.measure))
    if data.per_person:
        return _(
            "%(measure)s, %(currency)s (population of %(year)s)",
            measure=map_measure_name(data.measure),
            currency=data.currency,
            year=data.population_year,
        )
    return _("%(measure)s, %(currency)s", measure=measure_name(data.measure), currency=data.currency)


@lru_cache(maxsize=1)
def _registry_countries() -> dict[str, tuple[str, str | None]]:
    """iso3 -> (English name, iso2) of the registry's reference file."""
    import csv

    path = Path(__file__).resolve().parent.parent / "registry" / "data" / "countries.csv"
    with open(path, encoding="utf-8", newline="") as f:
        return {r["iso3"]: (r["name"], r["iso2"] or None) for r in csv.DictReader(f)}


def _country_name(iso3: str) -> str:
    from registry.reference_names import country_name

    english, iso2 = _registry_countries().get(iso3, (iso3, None))
    return country_name(iso2, english) if iso2 else english
