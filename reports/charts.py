"""Charts drawn as SVG on the server: no script, no internet, the same file for page and download."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from flask_babel import gettext as _
from markupsafe import escape

BRAND = "#0b5d7a"
ACCENT = "#e07a1f"
SOFT = "#9db6c4"
INK = "#1d2733"
MUTED = "#6b7887"
LINE = "#dfe4ea"
PALETTE = (
    "#0b5d7a",
    "#e07a1f",
    "#2a9d8f",
    "#8a5cf5",
    "#d1495b",
    "#5c7cfa",
    "#66a61e",
    "#b8860b",
    "#7a4300",
    "#4a5867",
)
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Liberation Sans', sans-serif"


def _short(value: Decimal | float | int) -> str:
    """Compact amount: 1.2 bn, 35.4 m, 12 k."""
    v = Decimal(value)
    sign = "-" if v < 0 else ""
    v = abs(v)
    for size, suffix in (
        (Decimal(10) ** 9, " bn"),
        (Decimal(10) ** 6, " m"),
        (Decimal(10) ** 3, " k"),
    ):
        if v >= size:
            return f"{sign}{v / size:,.1f}{suffix}"
    return f"{sign}{v:,.0f}"


def short_amount(value: Decimal | None) -> str:
    """Compact amount for headline figures (6.75 bn); the exact one goes in a tooltip."""
    if value is None:
        return "–"
    v = Decimal(value)
    for size, suffix in ((Decimal(10) ** 9, " bn"), (Decimal(10) ** 6, " m")):
        if abs(v) >= size:
            return f"{v / size:,.2f}{suffix}"
    return f"{v:,.0f}"


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" font-family="{FONT}" font-size="12">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>' + "".join(body) + "</svg>"
    )


def _nothing(x: float, y: float) -> str:
    """What a chart shows when no flow passes the filters."""
    return f'<text x="{x}" y="{y}" fill="{MUTED}">{escape(_("No flows match the filters."))}</text>'


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(
    items: Sequence[tuple[str, Decimal, Decimal | None]],
    title: str,
    currency: str,
    series: tuple[str, str] | None = None,
) -> str:
    """Horizontal bars: one row per item with a main bar and an optional thinner comparison bar behind it."""
    series = series or (_("Commitments"), _("Need"))
    label_w, right_pad, row_h, top = 200, 70, 30, 44
    width = 600
    height = top + row_h * max(1, len(items)) + 36
    plot_w = width - label_w - right_pad
    top_value = max([abs(v) for _, v, _ in items] + [abs(c) for _, _, c in items if c is not None] + [Decimal(1)])
    body = [
        f'<text x="0" y="18" font-size="15" font-weight="700" fill="{INK}">{escape(title)}</text>',
        f'<rect x="{label_w}" y="28" width="10" height="10" fill="{BRAND}"/>'
        f'<text x="{label_w + 14}" y="37" fill="{MUTED}">{escape(series[0])} ({escape(currency)})</text>',
    ]
    if any(c is not None for _, _, c in items):
        body.append(
            f'<rect x="{label_w + 170}" y="28" width="10" height="10" fill="{SOFT}"/>'
            f'<text x="{label_w + 184}" y="37" fill="{MUTED}">{escape(series[1])}</text>'
        )
    for i, (name, value, compare) in enumerate(items):
        y = top + i * row_h
        body.append(
            f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" fill="{INK}">{escape(_truncate(name, 27))}</text>'
        )
        if compare is not None and compare > 0:
            w = float(compare / top_value) * plot_w
            body.append(
                f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" rx="3" '
                f'fill="{SOFT}" opacity=".55"/>'
            )
        w = max(1.0, float(abs(value) / top_value) * plot_w)
        body.append(f'<rect x="{label_w}" y="{y + 8}" width="{w:.1f}" height="{row_h - 18}" rx="2" fill="{BRAND}"/>')
        end = max(w, float((compare or 0) / top_value) * plot_w if compare else 0)
        body.append(f'<text x="{label_w + end + 6:.1f}" y="{y + 18}" fill="{MUTED}">{escape(_short(value))}</text>')
    if not items:
        body.append(_nothing(label_w, top + 18))
    return _svg(width, height, title, body)


def heat_map(
    rows: Sequence[str],
    cols: Sequence[str],
    values: dict[tuple[str, str], Decimal],
    title: str,
    currency: str,
) -> str:
    """A matrix of coloured cells (darker = more), with the amounts written in."""
    label_w, cell_w, cell_h, top = 230, 44, 30, 70
    # Column labels longer than a cell ("Unallocated") are written slanted, with room above.
    slanted = max((len(_truncate(c, 16)) for c in cols), default=0) > 5
    if slanted:
        top += 5 * max(len(_truncate(c, 16)) for c in cols)
    width = label_w + cell_w * max(1, len(cols)) + 20 + (60 if slanted else 0)
    height = top + cell_h * max(1, len(rows)) + 30
    peak = max([v for v in values.values() if v > 0] + [Decimal(1)])
    body = [
        f'<text x="0" y="18" font-size="15" font-weight="700" fill="{INK}">{escape(title)}</text>',
        f'<text x="0" y="36" fill="{MUTED}">'
        f"{escape(_('%(currency)s; darker cells carry more money', currency=currency))}</text>",
    ]
    for j, col in enumerate(cols):
        x = label_w + j * cell_w + cell_w / 2
        if slanted:
            body.append(
                f'<text x="{x:.1f}" y="{top - 8}" transform="rotate(-40 {x:.1f} {top - 8})" font-weight="600" '
                f'fill="{INK}">{escape(_truncate(col, 16))}</text>'
            )
        else:
            body.append(
                f'<text x="{x:.1f}" y="{top - 8}" text-anchor="middle" font-weight="600" fill="{INK}">'
                f"{escape(col)}</text>"
            )
    for i, row in enumerate(rows):
        y = top + i * cell_h
        body.append(
            f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end" fill="{INK}">{escape(_truncate(row, 34))}</text>'
        )
        for j, col in enumerate(cols):
            value = values.get((row, col), Decimal(0))
            share = float(value / peak) if value > 0 else 0.0
            # interpolate from the page background to the brand colour
            r = int(245 + (11 - 245) * share)
            g = int(247 + (93 - 247) * share)
            b = int(250 + (122 - 250) * share)
            x = label_w + j * cell_w
            body.append(
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" rx="3" '
                f'fill="rgb({r},{g},{b})">'
                f"<title>{escape(row)} · {escape(col)}: {escape(_short(value))} {escape(currency)}</title></rect>"
            )
            if value > 0:
                color = "#ffffff" if share > 0.5 else INK
                body.append(
                    f'<text x="{x + cell_w / 2:.1f}" y="{y + 19}" text-anchor="middle" font-size="10" fill="{color}">'
                    f"{escape(_short(value).replace(' ', ''))}</text>"
                )
    return _svg(width, height, title, body)


def line_chart(
    points: Sequence[tuple[str, Decimal, Decimal]],
    title: str,
    currency: str,
    series: tuple[str, str] | None = None,
) -> str:
    """Two lines over the years (e.g. commitments and disbursements)."""
    series = series or (_("Commitments"), _("Disbursements"))
    width, height = 1000, 320
    left, right, top, bottom = 70, 20, 50, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([p[1] for p in points] + [p[2] for p in points] + [Decimal(1)])
    body = [f'<text x="0" y="18" font-size="15" font-weight="700" fill="{INK}">{escape(title)}</text>']
    for k, (name, color) in enumerate(zip(series, (BRAND, ACCENT), strict=True)):
        body.append(
            f'<rect x="{left + k * 170}" y="28" width="14" height="4" fill="{color}"/>'
            f'<text x="{left + k * 170 + 20}" y="35" fill="{MUTED}">{escape(name)} ({escape(currency)})</text>'
        )
    for t in range(5):
        value = peak * t / 4
        y = top + plot_h - plot_h * t / 4
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{LINE}"/>')
        body.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">{escape(_short(value))}</text>'
        )
    if not points:
        body.append(_nothing(left + 10, top + 30))
        return _svg(width, height, title, body)
    step = plot_w / max(1, len(points) - 1)
    every = max(1, -(-len(points) // 12))
    for index, color in ((1, BRAND), (2, ACCENT)):
        coords = [
            (
                left + i * step if len(points) > 1 else left + plot_w / 2,
                top + plot_h - float(p[index] / peak) * plot_h,
            )
            for i, p in enumerate(points)
        ]
        path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(coords))
        body.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2.5" stroke-linejoin="round"/>')
        for (x, y), p in zip(coords, points, strict=True):
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.2" fill="{color}">'
                f"<title>{escape(p[0])}: {escape(_short(p[index]))}</title></circle>"
            )
    for i, p in enumerate(points):
        if i % every == 0 or i == len(points) - 1:
            x = left + i * step if len(points) > 1 else left + plot_w / 2
            body.append(
                f'<text x="{x:.1f}" y="{height - 16}" text-anchor="middle" fill="{MUTED}">{escape(p[0])}</text>'
            )
    return _svg(width, height, title, body)


def sankey(
    first: Sequence[tuple[str, str, Decimal]],
    second: Sequence[tuple[str, str, Decimal]],
    title: str,
    currency: str,
    columns: tuple[str, str, str] | None = None,
) -> str:
    """A three-column flow diagram: links first[a -> b] and second[b -> c], widths proportional to money."""
    columns = columns or (_("Source kind"), _("Priority area"), _("Region"))
    width, height = 1000, 540
    top, bottom, node_w, gap = 56, 16, 14, 6
    xs = (210, width // 2 - node_w // 2, width - 240)
    levels: list[dict[str, Decimal]] = [{}, {}, {}]
    for a, b, v in first:
        levels[0][a] = levels[0].get(a, Decimal(0)) + v
        levels[1][b] = levels[1].get(b, Decimal(0)) + v
    for _b, c, v in second:
        levels[2][c] = levels[2].get(c, Decimal(0)) + v
    total = max([sum(level.values(), Decimal(0)) for level in levels] + [Decimal(1)])
    body = [f'<text x="0" y="18" font-size="15" font-weight="700" fill="{INK}">{escape(title)}</text>']
    for x, name in zip(xs, columns, strict=True):
        body.append(
            f'<text x="{x + node_w / 2}" y="42" text-anchor="middle" font-weight="600" '
            f'fill="{MUTED}">{escape(name)}</text>'
        )
    positions: list[dict[str, list[float]]] = []
    for level in levels:
        names = sorted(level, key=lambda n: -level[n])
        avail = height - top - bottom - gap * max(0, len(names) - 1)
        scale = avail / float(total)
        y = float(top)
        pos: dict[str, list[float]] = {}
        for n in names:
            h = max(1.5, float(level[n]) * scale)
            pos[n] = [y, h, y, y]  # top, height, next out-offset, next in-offset
            y += h + gap
        positions.append(pos)
    color_of = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(positions[0])}
    area_color = {n: PALETTE[(i + 3) % len(PALETTE)] for i, n in enumerate(positions[1])}

    def link(level: int, a: str, b: str, value: Decimal, color: str) -> None:
        scale = (positions[level][a][1] / float(levels[level][a])) if levels[level][a] else 0
        h = float(value) * scale
        if h <= 0:
            return
        y0 = positions[level][a][2]
        positions[level][a][2] += h
        y1 = positions[level + 1][b][3]
        positions[level + 1][b][3] += h
        x0, x1 = xs[level] + node_w, xs[level + 1]
        mid = (x0 + x1) / 2
        body.append(
            f'<path d="M{x0},{y0 + h / 2:.1f} C{mid},{y0 + h / 2:.1f} {mid},{y1 + h / 2:.1f} {x1},{y1 + h / 2:.1f}" '
            f'fill="none" stroke="{color}" stroke-opacity=".35" stroke-width="{max(h, 0.8):.1f}">'
            f"<title>{escape(a)} → {escape(b)}: {escape(_short(value))} {escape(currency)}</title></path>"
        )

    for a, b, v in sorted(first, key=lambda t: (-levels[0][t[0]], -levels[1][t[1]])):
        if a in positions[0] and b in positions[1]:
            link(0, a, b, v, color_of[a])
    for b, c, v in sorted(second, key=lambda t: (-levels[1].get(t[0], 0), -levels[2][t[1]])):
        if b in positions[1] and c in positions[2]:
            link(1, b, c, v, area_color[b])
    for level, (x, pos) in enumerate(zip(xs, positions, strict=True)):
        for n, (y, h, _o, _i) in pos.items():
            fill = color_of.get(n) if level == 0 else area_color.get(n) if level == 1 else BRAND
            body.append(
                f'<rect x="{x}" y="{y:.1f}" width="{node_w}" height="{h:.1f}" fill="{fill}">'
                f"<title>{escape(n)}</title></rect>"
            )
            if h >= 9:
                anchor, tx = ("end", x - 6) if level == 0 else ("start", x + node_w + 6)
                body.append(
                    f'<text x="{tx}" y="{y + h / 2 + 4:.1f}" text-anchor="{anchor}" font-size="11" fill="{INK}">'
                    f"{escape(_truncate(n, 28))} · {escape(_short(levels[level][n]))}</text>"
                )
    if not first:
        body.append(_nothing(xs[0], top + 30))
    return _svg(width, height, title, body)
