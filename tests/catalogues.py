"""A small French catalogue for a test, in place of the shipped one: the test says exactly which
messages are translated and how, so it proves a message is looked up in the reader's language
without depending on the shipped wording."""

from __future__ import annotations

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from registry import i18n

FRENCH_READER = {"Accept-Language": "fr-FR, fr;q=0.9, en;q=0.5"}


def use_french_catalogue(app, folder, monkeypatch, messages: dict) -> None:
    """Point the app at a catalogue in ``folder`` that translates ``messages`` (English to
    French; a pair (one, other) for a plural message)."""
    catalogue = Catalog(locale="fr", domain="messages")
    for english, french in messages.items():
        if isinstance(french, tuple):  # French has three plural forms (one, many, other)
            french = (french[0], *[french[1]] * (catalogue.num_plurals - 1))
        catalogue.add(english, french)
    target = folder / "fr" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as handle:
        write_mo(handle, catalogue)
    monkeypatch.setattr(app.extensions["babel"], "translation_directories", [str(folder)])
    # the translations loaded so far (the shipped ones) are cached by locale: start afresh
    monkeypatch.setattr(i18n.babel.domain_instance, "cache", {})
