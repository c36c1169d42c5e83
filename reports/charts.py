"""Charts drawn as SVG on the server: no script, no internet, the same file for page and download."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from decimal import Decimal

from flask_babel import gettext as _
from markupsafe import escape

from registry import i18n

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
    """An amount as read at a glance, as the reader's locale abbreviates it: 6.75 bn, 12.3 m,
    12,346 (the exact figure is in the element's hover title)."""
    return i18n.compact_number(Decimal(value))


def _svg(width: int, height: int, title: str, body: list[str], desc: str | None = None) -> str:
    described = f"<desc>{escape(desc)}</desc>" if desc else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" font-family="{FONT}" font-size="12">'
        f"<title>{escape(title)}</title>{described}"
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>' + "".join(body) + "</svg>"
    )


def _nothing(x: float, y: float) -> str:
    """What a chart shows when no flow passes the filters."""
    return f'<text x="{x}" y="{y}" fill="{MUTED}">{escape(_("No flows match the filters."))}</text>'


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text_width(text: str, size: float = 12) -> float:
    """About how wide a text is drawn (wide CJK characters count double): for laying out legends."""
    return sum(size * (1.0 if unicodedata.east_asian_width(c) in "WF" else 0.58) for c in text)


def _legend(entries: Sequence[tuple[str, str]], x: float, y: float, width: float) -> tuple[list[str], float]:
    """Coloured swatches with their names, in lines that wrap at ``width``; (svg, height used)."""
    out: list[str] = []
    cx, cy = x, y
    for color, name in entries:
        step = 16 + _text_width(name) + 18
        if cx > x and cx + step > width:
            cx, cy = x, cy + 16
        out.append(
            f'<rect x="{cx:.1f}" y="{cy}" width="10" height="10" fill="{color}"/>'
            f'<text x="{cx + 14:.1f}" y="{cy + 9}" fill="{MUTED}">{escape(name)}</text>'
        )
        cx += step
    return out, (cy - y + 16) if entries else 0


def _label(x: float, y: float, text: str, limit: int, anchor: str = "end", size: int | None = None) -> str:
    """A label cut to ``limit`` characters, the whole of it on hover when cut."""
    shown = _truncate(text, limit)
    hover = f"<title>{escape(text)}</title>" if shown != text else ""
    font = f' font-size="{size}"' if size else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{font} fill="{INK}">{hover}{escape(shown)}</text>'


def bar_chart(
    items: Sequence[tuple[str, Decimal, Decimal | None]],
    title: str,
    currency: str,
    series: tuple[str, str] | None = None,
) -> str:
    """Horizontal bars, one row per item, each labelled: a main bar and an optional wider,
    lighter comparison bar behind it (commitments and need)."""
    series = series or (_("Commitments"), _("Need"))
    label_w, right_pad, row_h = 200, 70, 30
    width = 600
    entries = [(BRAND, _("%(series)s (%(currency)s)", series=series[0], currency=currency))]
    if any(c is not None for _, _, c in items):
        entries.append((SOFT, series[1]))
    legend, legend_h = _legend(entries, label_w, 28, width)
    top = 28 + legend_h
    height = top + row_h * max(1, len(items)) + 36
    plot_w = width - label_w - right_pad
    top_value = max([abs(v) for _, v, _ in items] + [abs(c) for _, _, c in items if c is not None] + [Decimal(1)])
    body = [f'<text x="0" y="18" font-size="15" font-weight="700" fill="{INK}">{escape(title)}</text>', *legend]
    for i, (name, value, compare) in enumerate(items):
        y = top + i * row_h
        body.append(_label(label_w - 8, y + 18, name, 27))
        if compare is not None and compare > 0:
            w = float(compare / top_value) * plot_w
            body.append(
                f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" rx="3" '
                f'fill="{SOFT}" opacity=".55"/>'
            )
        w = max(1.0, float(abs(value) / top_value) * plot_w)
        body.append(f'<rect x="{label_w}" y="{y + 8}" width="{w:.1f}" height="{row_h - 18}" rx="2" fill="{BRAND}"/>')
        end = max(w, float((compare or 0) / top_value) * plot_w if compare else 0)
        body.append(_amount(label_w + end + 6, y + 18, value, currency))
    if not items:
        body.append(_nothing(label_w, top + 18))
    return _svg(width, height, title, body)


def _amount(x: float, y: float, value: Decimal, currency: str, anchor: str = "start", **attrs: str) -> str:
    """An amount written small on a chart, the exact figure on hover."""
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{MUTED}"{extra}>'
        f"<title>{escape(exact(value, currency))}</title>{escape(_short(value))}</text>"
    )


def exact(value: Decimal, currency: str) -> str:
    """The exact figure of an amount to its currency's minor unit (the hover text of a chart's
    amounts): 6,750,123,456.78 USD."""
    return i18n.money(value, currency)


def heat_map(
    rows: Sequence[tuple[object, str]],
    cols: Sequence[tuple[object, str]],
    values: dict[tuple, Decimal],
    title: str,
    currency: str,
) -> str:
    """A matrix of coloured cells (darker = more), with the amounts written in.

    ``rows`` and ``cols`` are (key, label); ``values`` are by (row key, column key). A column
    is headed by its code when it has a short one (23a, KEN), else by its label (slanted when
    long); a legend under the matrix names each column its header does not name in full."""
    label_w, cell_w, cell_h, top = 230, 52, 30, 70
    heads = [_column_head(key, label, j) for j, (key, label) in enumerate(cols)]
    slanted = max((len(h) for h in heads), default=0) > 5
    if slanted:
        top += 5 * max(len(h) for h in heads)
    named = [(head, label) for head, (_key, label) in zip(heads, cols, strict=True) if head != label]
    legend_top = top + cell_h * max(1, len(rows)) + 24
    width = max(label_w + cell_w * max(1, len(cols)) + 20 + (60 if slanted else 0), 600 if named else 0)
    height = legend_top + (16 * len(named) + 10 if named else 6)
    peak = max([v for v in values.values() if v > 0] + [Decimal(1)])
    body = [
        f'<text x="0" y="18" font-size="15" font-weight="700" fill="{INK}">{escape(title)}</text>',
        f'<text x="0" y="36" fill="{MUTED}">'
        f"{escape(_('%(currency)s; darker cells carry more money', currency=currency))}</text>",
    ]
    for j, ((_key, label), head) in enumerate(zip(cols, heads, strict=True)):
        x = label_w + j * cell_w + cell_w / 2
        hover = f"<title>{escape(label)}</title>"
        if slanted:
            body.append(
                f'<text x="{x:.1f}" y="{top - 8}" transform="rotate(-40 {x:.1f} {top - 8})" font-weight="600" '
                f'fill="{INK}">{hover}{escape(head)}</text>'
            )
        else:
            body.append(
                f'<text x="{x:.1f}" y="{top - 8}" text-anchor="middle" font-weight="600" fill="{INK}">'
                f"{hover}{escape(head)}</text>"
            )
    for i, (row_key, row_label) in enumerate(rows):
        y = top + i * cell_h
        body.append(_label(label_w - 8, y + 19, row_label, 34))
        for j, (col_key, col_label) in enumerate(cols):
            value = values.get((row_key, col_key), Decimal(0))
            share = float(value / peak) if value > 0 else 0.0
            # interpolate from the page background to the brand colour
            r = int(245 + (11 - 245) * share)
            g = int(247 + (93 - 247) * share)
            b = int(250 + (122 - 250) * share)
            x = label_w + j * cell_w
            body.append(
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" rx="3" '
                f'fill="rgb({r},{g},{b})">'
                f"<title>{escape(row_label)} · {escape(col_label)}: {escape(exact(value, currency))}</title></rect>"
            )
            if value > 0:
                color = "#ffffff" if share > 0.5 else INK
                body.append(
                    f'<text x="{x + cell_w / 2:.1f}" y="{y + 19}" text-anchor="middle" font-size="10" fill="{color}">'
                    f"{escape(_short(value).replace(' ', ''))}</text>"
                )
    for n, (head, label) in enumerate(named):
        y = legend_top + n * 16
        if label.startswith(head + " "):  # "23a Capacity building": the code once
            label = label[len(head) :].strip()
        body.append(
            f'<text x="{label_w}" y="{y}" font-size="11" fill="{INK}"><tspan font-weight="600">{escape(head)}</tspan>'
            f'<tspan dx="8" fill="{MUTED}">{escape(_truncate(label, 80))}</tspan></text>'
        )
    return _svg(width, height, title, body)


def _column_head(key: object, label: str, index: int) -> str:
    """What heads a heat map's column: its code (23a, KEN, 2024), else its label when short, else
    its number (the legend names it)."""
    if isinstance(key, str) and 0 < len(key) <= 6:
        return key
    if len(label) <= 16:
        return label
    return str(index + 1)


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Decimal]]],
    title: str,
    currency: str,
) -> str:
    """Lines over the years: one per series (name, a value per label), each in the legend."""
    width = 1000
    left, right, bottom = 70, 20, 40
    entries = [(PALETTE[k % len(PALETTE)], name) for k, (name, _values) in enumerate(series)]
    legend, legend_h = _legend(entries, left, 28, width - right)
    top = 34 + max(legend_h, 16)
    height = top + 230 + bottom
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for _name, values in series for v in values] + [Decimal(1)])
    body = [
        f'<text x="0" y="18" font-size="15" font-weight="700" fill="{INK}">{escape(title)}</text>',
        *legend,
    ]
    for t in range(5):
        value = peak * t / 4
        y = top + plot_h - plot_h * t / 4
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{LINE}"/>')
        body.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">{escape(_short(value))}</text>'
        )
    if not labels:
        body.append(_nothing(left + 10, top + 30))
        return _svg(width, height, title, body)
    step = plot_w / max(1, len(labels) - 1)

    def x_of(i: int) -> float:
        return left + i * step if len(labels) > 1 else left + plot_w / 2

    every = max(1, -(-len(labels) // 12))
    for k, (name, values) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        coords = [(x_of(i), top + plot_h - float(v / peak) * plot_h) for i, v in enumerate(values)]
        path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(coords))
        body.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2.5" stroke-linejoin="round"/>')
        for (x, y), label, v in zip(coords, labels, values, strict=True):
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.2" fill="{color}">'
                f"<title>{escape(name)}, {escape(label)}: {escape(exact(v, currency))}</title></circle>"
            )
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            body.append(
                f'<text x="{x_of(i):.1f}" y="{height - 16}" text-anchor="middle" fill="{MUTED}">{escape(label)}</text>'
            )
    return _svg(width, height, title, body)


def sankey(
    first: Sequence[tuple[str, str, Decimal]],
    second: Sequence[tuple[str, str, Decimal]],
    title: str,
    currency: str,
    columns: tuple[str, str, str] | None = None,
) -> str:
    """A three-column flow diagram: links first[a -> b] and second[b -> c], widths proportional
    to money; every node labelled with its name and amount (a small node keeps room for its label)."""
    columns = columns or (_("Source kind"), _("Priority area"), _("Region"))
    width, min_height = 1000, 540
    top, bottom, node_w, gap, slot = 56, 16, 14, 6, 14
    xs = (210, width // 2 - node_w // 2, width - 240)
    levels: list[dict[str, Decimal]] = [{}, {}, {}]
    for a, b, v in first:
        levels[0][a] = levels[0].get(a, Decimal(0)) + v
        levels[1][b] = levels[1].get(b, Decimal(0)) + v
    for _b, c, v in second:
        levels[2][c] = levels[2].get(c, Decimal(0)) + v
    total = max([sum(level.values(), Decimal(0)) for level in levels] + [Decimal(1)])
    busiest = max(len(level) for level in levels)
    # room for the links' widths, and for a label beside each node however small
    scale = max(min_height - top - bottom - (gap + slot) * busiest, 160) / float(total)
    positions: list[dict[str, list[float]]] = []
    for level in levels:
        y = float(top)
        pos: dict[str, list[float]] = {}
        for n in sorted(level, key=lambda n: -level[n]):
            h = max(1.5, float(level[n]) * scale)
            pos[n] = [y, h, y, y]  # top, height, next out-offset, next in-offset
            y += max(h, slot) + gap
        positions.append(pos)
    height = int(max([min_height] + [p[1][0] + max(p[1][1], slot) + bottom for pos in positions for p in pos.items()]))
    body = [f'<text x="0" y="18" font-size="15" font-weight="700" fill="{INK}">{escape(title)}</text>']
    for x, name in zip(xs, columns, strict=True):
        body.append(
            f'<text x="{x + node_w / 2}" y="42" text-anchor="middle" font-weight="600" '
            f'fill="{MUTED}">{escape(name)}</text>'
        )
    color_of = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(positions[0])}
    middle_color = {n: PALETTE[(i + 3) % len(PALETTE)] for i, n in enumerate(positions[1])}

    def link(level: int, a: str, b: str, value: Decimal, color: str) -> None:
        share = (positions[level][a][1] / float(levels[level][a])) if levels[level][a] else 0
        h = float(value) * share
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
            f"<title>{escape(a)} → {escape(b)}: {escape(exact(value, currency))}</title></path>"
        )

    for a, b, v in sorted(first, key=lambda t: (-levels[0][t[0]], -levels[1][t[1]])):
        if a in positions[0] and b in positions[1]:
            link(0, a, b, v, color_of[a])
    for b, c, v in sorted(second, key=lambda t: (-levels[1].get(t[0], 0), -levels[2][t[1]])):
        if b in positions[1] and c in positions[2]:
            link(1, b, c, v, middle_color[b])
    for level, (x, pos) in enumerate(zip(xs, positions, strict=True)):
        for n, (y, h, _o, _i) in pos.items():
            fill = color_of.get(n) if level == 0 else middle_color.get(n) if level == 1 else BRAND
            amount = levels[level][n]
            body.append(
                f'<rect x="{x}" y="{y:.1f}" width="{node_w}" height="{h:.1f}" fill="{fill}">'
                f"<title>{escape(n)}: {escape(exact(amount, currency))}</title></rect>"
            )
            anchor, tx = ("end", x - 6) if level == 0 else ("start", x + node_w + 6)
            shown = f"{_truncate(n, 28 if level < 2 else 24)} · {_short(amount)}"
            body.append(_label(tx, y + h / 2 + 4, shown, 40, anchor, 11))
    if not first:
        body.append(_nothing(xs[0], top + 30))
    return _svg(width, height, title, body)


def stacked_bars(
    items: Sequence[tuple[str, Sequence[Decimal]]],
    series: Sequence[str],
    title: str,
    currency: str,
    desc: str | None = None,
    empty: str | None = None,
    colours: Sequence[str] | None = None,
    proportional: bool = False,
    ends: Sequence[str] | None = None,
) -> str:
    """Horizontal bars, one row per item, each split into its series (the years of a forward
    plan) in the legend's colours, its total written at its end; every part's exact figure on
    hover. ``desc``: what the chart shows, in words (its SVG description); ``empty``: what it
    says when there is nothing to draw; ``colours``: one a series (else the palette's);
    ``proportional``: every bar full width, its parts as shares of it; ``ends``: the text at the
    end of each bar instead of its total."""
    label_w, right_pad, row_h, width = 200, 70, 30, 600
    palette = tuple(colours) if colours else PALETTE
    entries = [(palette[k % len(palette)], name) for k, name in enumerate(series)]
    legend, legend_h = _legend(entries, label_w, 28, width)
    top = 28 + legend_h
    height = top + row_h * max(1, len(items)) + 36
    plot_w = width - label_w - right_pad
    peak = max([sum(values, Decimal(0)) for _name, values in items] + [Decimal(1)])
    if proportional:
        plot_w = width - label_w - right_pad - 10
    body = [f'<text x="0" y="18" font-size="15" font-weight="700" fill="{INK}">{escape(title)}</text>', *legend]
    for i, (name, values) in enumerate(items):
        y = top + i * row_h
        body.append(_label(label_w - 8, y + 18, name, 27))
        x = float(label_w)
        whole = (sum(values, Decimal(0)) or Decimal(1)) if proportional else peak
        for k, value in enumerate(values):
            if value <= 0:
                continue
            w = float(value / whole) * plot_w
            body.append(
                f'<rect x="{x:.1f}" y="{y + 6}" width="{max(w, 1.0):.1f}" height="{row_h - 14}" '
                f'fill="{palette[k % len(palette)]}"><title>{escape(name)}, {escape(series[k])}: '
                f"{escape(exact(value, currency))}</title></rect>"
            )
            x += w
        if ends is not None:
            body.append(f'<text x="{x + 6:.1f}" y="{y + 18}" font-size="12" fill="{INK}">{escape(ends[i])}</text>')
        else:
            body.append(_amount(x + 6, y + 18, sum(values, Decimal(0)), currency))
    if not items:
        nothing = empty or _("No flows match the filters.")
        body.append(f'<text x="{label_w}" y="{top + 18}" fill="{MUTED}">{escape(nothing)}</text>')
    return _svg(width, height, title, body, desc)
