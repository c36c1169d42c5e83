"""The stylesheets are served where the pages point to, and their colours are readable.

WCAG 2.2 AA asks 4.5:1 between text and its background (1.4.3). The guard below reads the
stylesheets as written: the custom properties of app.css's :root, then every rule that sets
a text colour or a background, and computes the contrast of each pair a reader can meet:

- a rule with both (a badge, a button): its text on its own background;
- a text colour alone: a dark one on each light surface of the pages (the page, a panel, a
  hovered row, a card's head), a light one on each dark surface (the header, the language bar);
- a background alone: the text it inherits (the body's ink and the links' blue on a light
  one, white on a dark one, as a button's variants inherit).

A translucent background is laid over the surface under it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import url_for

from registry.translate_cli import REPO

STYLESHEETS = [
    REPO / "registry" / "web" / "static" / "app.css",
    REPO / "registry" / "web" / "static" / "admin.css",
    REPO / "registry" / "web" / "static" / "finder.css",
    *sorted((REPO / "reports" / "static").glob("*.css")),
]
AA_TEXT = 4.5
# Rules whose colour carries no text a reader needs: the header's diamond is decoration
# (aria-hidden), as WCAG 1.4.3 exempts.
DECORATION = {".brand-mark"}


def test_stylesheets_are_served(app, client):
    with app.test_request_context():
        urls = [url_for("web.static", filename=name) for name in ("app.css", "finder.css", "admin.css", "menu.js")]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype in ("text/css", "text/javascript", "application/javascript"), url
        response.close()


# --- colours ------------------------------------------------------------------------------

Colour = tuple[float, float, float, float]  # r, g, b in 0-255, alpha in 0-1

NAMED = {"white": "#ffffff", "black": "#000000"}
HEX = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")
RGB = re.compile(r"rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+%?)\s*)?\)")


def parse_colour(value: str) -> Colour | None:
    """The first colour in a declaration's value (a background shorthand may hold more)."""
    value = value.strip().lower()
    for name, code in NAMED.items():
        if re.search(rf"\b{name}\b", value):
            value = value.replace(name, code)
    found = [(m.start(), m) for m in (HEX.search(value), RGB.search(value)) if m]
    if not found:
        return None
    match = min(found, key=lambda pair: pair[0])[1]
    if match.re is HEX:
        digits = match.group(0)[1:]
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16), 1.0)
    r, g, b, a = match.groups()
    alpha = 1.0 if a is None else (float(a[:-1]) / 100 if a.endswith("%") else float(a))
    return (float(r), float(g), float(b), alpha)


def luminance(colour: Colour) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b, _ = colour
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def over(top: Colour, under: Colour) -> Colour:
    a = top[3]
    return (*(t * a + u * (1 - a) for t, u in zip(top[:3], under[:3], strict=True)), 1.0)


def contrast(text: Colour, background: Colour) -> float:
    light, dark = sorted((luminance(text), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def is_light(colour: Colour) -> bool:
    return luminance(colour) > 0.4


def hex_of(colour: Colour) -> str:
    return "#" + "".join(f"{round(c):02x}" for c in colour[:3]) + ("" if colour[3] == 1 else f"/{colour[3]:g}")


# --- the stylesheets ----------------------------------------------------------------------

RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def rules(path: Path) -> list[tuple[str, dict[str, str]]]:
    """(selector, declarations) of every rule, those inside @media included."""
    text = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)
    found = []
    for selector, body in RULE.findall(text):
        declarations = {}
        for item in body.split(";"):
            name, colon, value = item.partition(":")
            if colon:
                declarations[name.strip().lower()] = value.replace("!important", "").strip()
        for one in selector.split(","):
            found.append((" ".join(one.split()), declarations))
    return found


def custom_properties() -> dict[str, str]:
    root = [d for s, d in rules(STYLESHEETS[0]) if s == ":root"]
    assert root, "app.css has no :root rule"
    return {name: value for d in root for name, value in d.items() if name.startswith("--")}


def resolve(value: str, properties: dict[str, str]) -> str:
    for _ in range(5):
        value = re.sub(r"var\(\s*(--[\w-]+)\s*(?:,[^)]*)?\)", lambda m: properties.get(m.group(1), ""), value)
    return value


def colour_pairs() -> list[tuple[str, str, Colour, Colour]]:
    """(where, selector, text, background) for every pair a reader can meet."""
    props = custom_properties()

    def prop(name: str) -> Colour:
        colour = parse_colour(props[name])
        assert colour, f"{name} is not a colour"
        return colour

    white = (255.0, 255.0, 255.0, 1.0)
    light_surfaces = [prop("--bg"), prop("--panel"), parse_colour("#f8fafc"), parse_colour("#fbfcfd")]
    dark_surfaces = [prop("--brand"), prop("--brand-dark")]
    inherited_text = [prop("--ink"), prop("--brand")]
    pairs = []
    for path in STYLESHEETS:
        where = path.relative_to(REPO).as_posix()
        for selector, declarations in rules(path):
            if selector == ":root" or any(d in selector for d in DECORATION):
                continue
            text = parse_colour(resolve(declarations.get("color", ""), props))
            background = None
            for name in ("background-color", "background"):
                if name in declarations:
                    background = parse_colour(resolve(declarations[name], props))
                    break
            if text is None and background is None:
                continue
            if text is not None and background is not None:
                surfaces = dark_surfaces if is_light(text) else light_surfaces
                for surface in surfaces if background[3] < 1 else [background]:
                    pairs.append((where, selector, text, over(background, surface)))
            elif text is not None:
                for surface in dark_surfaces if is_light(text) else light_surfaces:
                    pairs.append((where, selector, text, surface))
            elif background[3] == 1:
                for colour in [white] if not is_light(background) else inherited_text:
                    pairs.append((where, selector, colour, background))
    return pairs


def test_the_guard_reads_the_stylesheets():
    pairs = colour_pairs()
    selectors = {selector for _, selector, _, _ in pairs}
    # the badges, the coverage badges of the reports, the header's links and the grey text
    assert {".badge-warn", ".cov-mid", ".account .who", ".muted", ".button"} <= selectors
    assert contrast(parse_colour("#ffffff"), parse_colour("#000")) == pytest.approx(21)
    assert contrast(parse_colour("#777"), parse_colour("white")) == pytest.approx(4.48, abs=0.01)
    assert over(parse_colour("rgba(255,255,255,.5)"), parse_colour("#000000"))[:3] == (127.5, 127.5, 127.5)


def test_every_text_colour_reads_at_least_4_5_to_1_on_its_background():
    failing = sorted(
        {
            f"{where} {selector}: {hex_of(text)} on {hex_of(background)} = {contrast(text, background):.2f}:1"
            for where, selector, text, background in colour_pairs()
            if contrast(text, background) < AA_TEXT
        }
    )
    assert not failing, f"{len(failing)} colour pairs below {AA_TEXT}:1 (WCAG 1.4.3):\n" + "\n".join(failing)
