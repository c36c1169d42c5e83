"""`flask --app wsgi translate extract|update|compile|init LANG`: the gettext catalogues.

English is the source language: ``extract`` reads the code and templates (babel.cfg) into
registry/translations/messages.pot, ``update`` merges it into each language's messages.po,
``compile`` writes the messages.mo the app reads (``make install`` runs it), ``init`` starts a
new language. Translations are written in the .po files by translators; nothing here makes them.
"""

from __future__ import annotations

from pathlib import Path

import click
from babel.messages.frontend import CommandLineInterface
from flask.cli import AppGroup

from registry.i18n import DEFAULT_LANGUAGE, LANGUAGES, TRANSLATIONS

REPO = TRANSLATIONS.parents[1]
POT = TRANSLATIONS / "messages.pot"
KEYWORDS = (
    "_", "gettext", "ngettext:1,2", "lazy_gettext", "_l", "N_",
    "pgettext:1c,2", "lazy_pgettext:1c,2", "npgettext:1c,2,3",
)  # fmt: skip

translate_cli = AppGroup("translate", help="The catalogues of the six UN languages (Babel).")


def pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract() -> None:
    keywords = [arg for k in KEYWORDS for arg in ("-k", k)]
    pybabel(
        "extract", "-F", str(REPO / "babel.cfg"), *keywords, "--no-location", "--sort-output",
        "--project", "ict4d-registry", "--copyright-holder", "ICT4D Funding Registry contributors",
        "--msgid-bugs-address", "translations@ict4d-registry.invalid",
        "-o", str(POT), str(REPO),
    )  # fmt: skip


def compile_catalogues(directory: Path = TRANSLATIONS) -> None:
    pybabel("compile", "-d", str(directory))


@translate_cli.command("extract")
def extract_command() -> None:
    """Read every message of the code and templates into messages.pot."""
    extract()
    click.echo(f"Wrote {POT.relative_to(REPO)}")


@translate_cli.command("update")
def update_command() -> None:
    """Extract, then merge the new and changed messages into each language's catalogue."""
    extract()
    pybabel("update", "-i", str(POT), "-d", str(TRANSLATIONS), "--no-wrap", "--ignore-obsolete")
    click.echo("Updated " + ", ".join(code for code in LANGUAGES if code != DEFAULT_LANGUAGE))


@translate_cli.command("compile")
def compile_command() -> None:
    """Write the messages.mo files the application reads."""
    compile_catalogues()


@translate_cli.command("init")
@click.argument("language")
def init_command(language: str) -> None:
    """Start the catalogue of a new language from messages.pot."""
    extract()
    pybabel("init", "-i", str(POT), "-d", str(TRANSLATIONS), "-l", language, "--no-wrap")
