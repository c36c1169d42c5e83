"""Spreadsheet headers read by meaning: the words of a header against a vocabulary kept as data.

A header no column map names exactly ("Date of commitment", "Montant engagé", "Fecha de
compromiso", "Disbursed 2023") reaches this module as its normalised words (lower case,
accents off, units, currencies and years already taken out by ``importers.sheets.columns``). Each
word is dropped as a stop word or looked up as a CONCEPT (``importers/column_maps/meaning.json``:
"engage", "compromiso" and "committed" are all COMMIT; "fecha" and "date" are DATE). A
field is a candidate when one of its core concept sets is all in the header, and it MATCHES
when every concept of the header is in that core or among the field's optional concepts.
The match with the largest core wins; a tie, or a header whose concepts reach two fields
that none of them covers whole ("Committed and disbursed"), is a question for the user,
never a guess. A word the vocabulary does not know makes no match: a header is read by
meaning only when all of it is understood.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Fields whose columns carry amounts: a header that may mean two of them is always asked about.
MONEY_FIELDS = frozenset(("amount", "commitment", "disbursement", "expenditure", "pledge", "need_amount"))


@dataclass(frozen=True)
class Meaning:
    """What a header's words mean: one field, or the candidates to ask about, or nothing."""

    field: str | None = None
    candidates: tuple[str, ...] = ()
    concepts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Field:
    cores: tuple[frozenset[str], ...]
    optional: frozenset[str]


@cache
def _vocabulary() -> tuple[frozenset[str], dict[str, str], dict[str, _Field]]:
    data = json.loads(resources.files("importers").joinpath("column_maps/meaning.json").read_text("utf-8"))
    stop = frozenset(data["stop_words"])
    words: dict[str, str] = {}
    for concept, spelt in data["concepts"].items():
        for word in spelt:
            if word in words and words[word] != concept:
                raise ValueError(f"meaning.json: {word!r} is both {words[word]} and {concept}")
            words[word] = concept
    fields = {
        name: _Field(tuple(frozenset(core) for core in spec["core"]), frozenset(spec.get("optional", ())))
        for name, spec in data["fields"].items()
    }
    for name, spec in fields.items():
        for concept in set().union(*spec.cores, spec.optional):
            if concept not in data["concepts"]:
                raise ValueError(f"meaning.json: field {name} names an unknown concept {concept}")
    return stop, words, fields


def _concept(word: str, words: dict[str, str]) -> str | None:
    """The concept of a word, its plural tried off (commitments, countries, países) and a French
    elided article (d', l') too."""
    forms = [word]
    if word.endswith("ies"):
        forms.append(word[:-3] + "y")
    if word.endswith("s"):
        forms.append(word[:-1])
    if word.endswith("es"):
        forms.append(word[:-2])
    for form in forms:
        if form in words:
            return words[form]
    if word[:1] in ("d", "l") and len(word) > 3:
        # French elision, its apostrophe taken out by the normalising: d'engagement, l'opération.
        return _concept(word[1:], words)
    return None


@cache
def meaning(words: tuple[str, ...]) -> Meaning:
    """The field the header words name (see the module docstring); cached per header."""
    stop, vocabulary, fields = _vocabulary()
    concepts: set[str] = set()
    for word in words:
        if word in stop:
            continue
        concept = _concept(word, vocabulary)
        if concept is None:
            return Meaning()
        concepts.add(concept)
    if not concepts:
        return Meaning()
    found = frozenset(concepts)
    full: dict[str, int] = {}
    partial: list[str] = []
    for name, spec in fields.items():
        for core in spec.cores:
            if core <= found:
                if found <= core | spec.optional:
                    full[name] = max(full.get(name, 0), len(core))
                elif name not in partial:
                    partial.append(name)
    if full:
        best = max(full.values())
        top = tuple(name for name, size in full.items() if size == best)
        return Meaning(top[0], (), found) if len(top) == 1 else Meaning(None, top, found)
    return Meaning(None, tuple(partial) if len(partial) > 1 else (), found)
