"""Build reports/data/world-110m.json, the country shapes the reports' maps are drawn from.

Input: the npm package world-atlas 2.0.2 (Natural Earth admin 0 countries as TopoJSON), unpacked
(``npm pack world-atlas@2.0.2`` then ``tar xzf world-atlas-2.0.2.tgz``):

    python tools/world_shapes.py path/to/package > reports/data/world-110m.json

Output: the 1:110m TopoJSON's countries decoded to longitude/latitude rings (two decimals),
keyed by the registry's ISO 3166 alpha-3 code through the numeric column of
registry/data/countries.csv; and, for the countries and territories too small to be in the 1:110m
file, one point each: the centre of their largest island in the 1:10m file, or entered by hand
(POINTS_BY_HAND) where Natural Earth draws them as part of another country.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COUNTRIES = ROOT / "registry" / "data" / "countries.csv"

# Natural Earth features without an ISO numeric code: Kosovo has its own shape; the other two
# are drawn as part of the UN member state they belong to.
BY_NAME = {"Kosovo": "XKX", "Somaliland": "SOM", "N. Cyprus": "CYP"}
LEFT_OUT = {"ATA"}  # Antarctica: no recipient, and it would take a fifth of the drawing
# Centres of the main island (longitude, latitude), for territories that Natural Earth's
# 1:10m countries draw inside another country (France, the Netherlands, Australia, Norway...).
POINTS_BY_HAND = {
    "BES": (-68.26, 12.18),  # Bonaire
    "BVT": (3.36, -54.42),  # Bouvet Island
    "CCK": (96.87, -12.16),  # Cocos (Keeling) Islands
    "CXR": (105.62, -10.49),  # Christmas Island
    "GLP": (-61.55, 16.25),  # Guadeloupe (Basse-Terre and Grande-Terre)
    "GUF": (-53.13, 3.93),  # French Guiana
    "MTQ": (-61.02, 14.64),  # Martinique
    "MYT": (45.14, -12.83),  # Mayotte
    "REU": (55.53, -21.12),  # Réunion
    "SJM": (15.6, 78.2),  # Svalbard
    "TKL": (-171.85, -9.2),  # Tokelau (Atafu, Nukunonu, Fakaofo)
}


def decode(topology: dict) -> dict[str, list]:
    """iso3 -> polygons (lists of rings of [lon, lat]) of the topology's countries object."""
    numeric = {}
    with open(COUNTRIES, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["numeric"]:
                numeric[row["numeric"]] = row["iso3"]
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:  # delta-encoded, quantised positions
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append([round(x * sx + tx, 2), round(y * sy + ty, 2)])
        arcs.append(points)

    def ring(indexes: list[int]) -> list:
        out: list = []
        for i in indexes:
            points = arcs[i] if i >= 0 else arcs[~i][::-1]
            out.extend(points if not out else points[1:])
        return out

    shapes: dict[str, list] = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        iso3 = numeric.get(geometry.get("id")) or BY_NAME.get(geometry["properties"].get("name", ""))
        if iso3 is None or iso3 in LEFT_OUT:
            continue
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        for polygon in polygons:
            shapes.setdefault(iso3, []).extend(split_at_antimeridian([ring(r) for r in polygon]))
    return shapes


def split_at_antimeridian(polygon: list) -> list:
    """A polygon whose rings jump from 180° to -180° (Fiji, Chukotka) as two polygons, one on
    each side of the map, each clamped to its edge; any other polygon unchanged."""
    if not any(abs(a[0] - b[0]) > 180 for r in polygon for a, b in zip(r, r[1:], strict=False)):
        return [polygon]
    east = [[[min(lon if lon >= 0 else lon + 360, 180), lat] for lon, lat in r] for r in polygon]
    west = [[[max(lon if lon <= 0 else lon - 360, -180), lat] for lon, lat in r] for r in polygon]
    # a side the polygon does not reach is a line along the edge: left out
    return [p for p in (east, west) if any(abs(lon) < 180 for lon, _lat in p[0])]


def area_and_centre(polygon: list) -> tuple[float, tuple[float, float]]:
    """The plane area and centroid of a polygon's outer ring (longitude, latitude as x, y)."""
    outer = polygon[0]
    a = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(outer, outer[1:] + outer[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(a) < 1e-12:
        xs, ys = [p[0] for p in outer], [p[1] for p in outer]
        return 0.0, (sum(xs) / len(xs), sum(ys) / len(ys))
    return abs(a) / 2, (cx / (3 * a), cy / (3 * a))


def main(package: Path) -> None:
    coarse = decode(json.loads((package / "countries-110m.json").read_text(encoding="utf-8")))
    fine = decode(json.loads((package / "countries-10m.json").read_text(encoding="utf-8")))
    with open(COUNTRIES, encoding="utf-8", newline="") as f:
        registry = [row["iso3"] for row in csv.DictReader(f)]
    points = {}
    for iso3 in registry:
        if iso3 in coarse or iso3 in LEFT_OUT:
            continue
        if iso3 in fine:
            _area, (x, y) = max(area_and_centre(p) for p in fine[iso3])
            points[iso3] = [round(x, 2), round(y, 2)]
        elif iso3 in POINTS_BY_HAND:
            points[iso3] = list(POINTS_BY_HAND[iso3])
        else:
            raise SystemExit(f"no shape nor point for {iso3}")
    out = {
        "source": "world-atlas 2.0.2 (npm, ISC licence): Natural Earth 1:110m and 1:10m admin 0 countries "
        "(public domain); see reports/data/SOURCES.md",
        "shapes": dict(sorted(coarse.items())),
        "points": dict(sorted(points.items())),
    }
    json.dump(out, sys.stdout, separators=(",", ":"), ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
