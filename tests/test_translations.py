"""Every message is in the catalogue, and every catalogue translates every message.

- The templates hold no text outside ``{% trans %}`` or ``_()``: text between tags and the
  attributes people read (title, alt, placeholder, aria-label, a button's value) carry no
  letters once the Jinja expressions are taken out.
- The catalogue is current: a fresh extraction of the code and templates finds no message
  that registry/translations/messages.pot lacks.
- Each of the five languages translates every message (no empty, no fuzzy entry), with the
  same placeholders as the English, in every plural form its language has.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from jinja2 import Environment

from registry.i18n import DEFAULT_LANGUAGE, LANGUAGES, TRANSLATIONS
from registry.translate_cli import KEYWORDS, REPO

TEMPLATE_ROOTS = [
    REPO / "registry" / "web" / "templates",
    REPO / "importers" / "templates",
    REPO / "reports" / "templates",
]
TEMPLATES = sorted(path for root in TEMPLATE_ROOTS for path in root.rglob("*.html"))
# Attributes whose value is read by people (or read out by screen readers).
READ_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description", "aria-roledescription", "summary"}
# Names that stay the same in the six languages: file formats and the standards' own names.
SAME_IN_EVERY_LANGUAGE = {"CSV", "XLSX", "XLS", "ODS", "JSON", "JSONL", "XML", "SVG", "PNG", "IATI", "OpenAPI", "API"}
HOLE = "\ue000"  # stands for a Jinja expression or tag: no letter
LETTER = re.compile(r"[^\W\d_]")


def template_text(source: str) -> str:
    """The template's own text with every Jinja expression, tag and translated block (trans ...
    endtrans) replaced by a hole."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    out: list[str] = []
    in_trans = False
    expect_tag = False
    for _, kind, value in env.lex(source):
        if kind == "block_begin":
            expect_tag = True
            continue
        if expect_tag and kind == "name":
            in_trans = {"trans": True, "pluralize": True, "endtrans": False}.get(value, in_trans)
            expect_tag = False
        if kind == "data" and not in_trans:
            out.append(value)
        elif not out or out[-1] != HOLE:
            out.append(HOLE)
    return "".join(out)


def has_words(text: str) -> bool:
    words = re.findall(r"[^\W\d_][\w.-]*", text)
    return any(LETTER.search(w) and w.strip(".-") not in SAME_IN_EVERY_LANGUAGE for w in words)


class TextFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        attrs = dict(attrs)
        for name, value in attrs.items():
            readable = name in READ_ATTRIBUTES or (
                name == "value" and tag == "input" and attrs.get("type") in ("submit", "button", "reset")
            )
            if readable and value and has_words(value):
                self.found.append(f'<{tag} {name}="{value}">')

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and has_words(data):
            self.found.append(data.strip())


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(REPO)))
def test_template_has_no_text_outside_the_catalogue(template: Path):
    finder = TextFinder()
    finder.feed(template_text(template.read_text(encoding="utf-8")))
    finder.close()
    assert not finder.found, "text to put in {% trans %} or _(): " + " | ".join(
        t.replace(HOLE, "…") for t in finder.found
    )


def test_the_scanner_finds_text_and_accepts_translated_text():
    finder = TextFinder()
    finder.feed(
        template_text(
            '<p>{{ _("Projects") }} {{ n }}</p><h1>Funding gap</h1><a title="Exact figure" href="{{ x }}">CSV</a>'
            '{% trans %}Read {{ n }} rows{% endtrans %}<input type=submit value="Save">'
        )
    )
    assert finder.found == ["Funding gap", '<a title="Exact figure">', '<input value="Save">']


def catalogue(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def test_the_catalogue_holds_every_message_of_the_code_and_templates(tmp_path):
    from babel.messages.frontend import CommandLineInterface

    fresh = tmp_path / "messages.pot"
    keywords = [arg for k in KEYWORDS for arg in ("-k", k)]
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(REPO / "babel.cfg"), *keywords, "--no-location", "-o", str(fresh),
         str(REPO)]
    )  # fmt: skip
    wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue(fresh) if m.id}
    held = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue(TRANSLATIONS / "messages.pot") if m.id}
    missing = sorted(wanted - held)
    assert not missing, f"{len(missing)} messages not in messages.pot (run `make translate-update`): {missing[:20]}"


PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != DEFAULT_LANGUAGE])
def test_every_message_is_translated(language: str):
    path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    assert path.is_file(), f"no catalogue for {language}"
    template = {m.id for m in catalogue(TRANSLATIONS / "messages.pot") if m.id}
    po = catalogue(path)
    problems: list[str] = []
    seen = set()
    for message in po:
        if not message.id:
            continue
        seen.add(message.id)
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if message.fuzzy:
            problems.append(f"fuzzy: {ids[0]!r}")
        if not all(strings) or (len(ids) > 1 and len(strings) < po.num_plurals):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        wanted = sorted(set(PLACEHOLDER.findall(ids[-1])))
        for text in strings:
            got = sorted(set(PLACEHOLDER.findall(text)))
            # a plural form for exactly one may spell out its number ("un projet")
            if got != wanted and not (len(ids) > 1 and set(got) < set(wanted)):
                problems.append(f"placeholders {got} for {wanted} in {ids[0]!r}")
    missing = template - seen
    problems += [f"missing: {m if isinstance(m, str) else m[0]!r}" for m in sorted(missing, key=str)]
    assert not problems, f"{language}: {len(problems)} problems: " + "; ".join(problems[:30])
