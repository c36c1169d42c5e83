"""The editable mapping files of the IATI and CRS importers, loaded and checked.

The files live in ``importers/data`` (or in the folder named by the app config
``IMPORT_MAPPING_DIR``). They are read again whenever one of them changed on disk,
so an admin's edit applies to the next import without a restart;
``flask import reload-mapping`` checks them and says what it loaded.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from flask import current_app, has_app_context

AREA_CODES = tuple(f"23{letter}" for letter in "abcdefghijkl")
FILES = (
    "dac_purpose_areas.csv",
    "area_keywords.csv",
    "crs_recipients.csv",
    "crs_donors.csv",
    "crs_currencies.csv",
)


class MappingError(ValueError):
    """A mapping file is not valid; the message names the file and the line."""


@dataclass(frozen=True)
class KeywordRule:
    """Words that, all found in a title or description, point at an area."""

    keyword: str
    terms: tuple[str, ...]
    area: str
    weight: Decimal

    def matches(self, text: str) -> bool:
        return all(_term(t).search(text) for t in self.terms)


@dataclass(frozen=True)
class Recipient:
    """A CRS / DAC recipient code: a country (ISO3), an M49 region, or unspecified."""

    code: str
    name: str
    iso3: str | None
    region: str | None


@dataclass(frozen=True)
class Donor:
    code: str
    name: str
    ref: str
    iati_ref: str
    kind: str
    country_iso3: str | None


@dataclass
class Mapping:
    """Everything the importers map through, as loaded from the data files."""

    purpose_areas: dict[str, list[tuple[str, Decimal]]] = field(default_factory=dict)
    unmapped_purposes: set[str] = field(default_factory=set)
    keywords: list[KeywordRule] = field(default_factory=list)
    recipients: dict[str, Recipient] = field(default_factory=dict)
    donors: dict[str, Donor] = field(default_factory=dict)
    currencies: dict[str, str] = field(default_factory=dict)  # DAC numeric currency code -> ISO 4217
    directory: str = ""

    def matching_rules(self, text: str) -> list[KeywordRule]:
        """The keyword rules whose terms all occur in ``text`` (each term as ``KeywordRule.matches``
        finds it; one pass over the text, see ``_found_terms``)."""
        found = _found_terms(self, text)
        if not found:
            return []
        return [rule for rule in self.keywords if rule.terms[0] in found and all(t in found for t in rule.terms)]

    def summary(self) -> dict[str, int]:
        return {
            "purpose codes": len(self.purpose_areas),
            "deliberately unmapped purpose codes": len(self.unmapped_purposes),
            "keyword rules": len(self.keywords),
            "recipient codes": len(self.recipients),
            "donor codes": len(self.donors),
            "currency codes": len(self.currencies),
        }


def mapping_dir() -> Path:
    """The folder holding the mapping files (config ``IMPORT_MAPPING_DIR`` or the shipped one)."""
    if has_app_context() and current_app.config.get("IMPORT_MAPPING_DIR"):
        return Path(current_app.config["IMPORT_MAPPING_DIR"])
    return Path(str(resources.files("importers").joinpath("data")))


@cache
def _reference_codes() -> tuple[dict[str, str], frozenset[str], frozenset[str]]:
    """ISO2 -> ISO3, the ISO3 codes and the M49 region codes the registry knows."""
    data = resources.files("registry").joinpath("data")
    countries = list(csv.DictReader(data.joinpath("countries.csv").read_text("utf-8").splitlines()))
    regions = list(csv.DictReader(data.joinpath("regions.csv").read_text("utf-8").splitlines()))
    iso2 = {row["iso2"]: row["iso3"] for row in countries}
    return iso2, frozenset(row["iso3"] for row in countries), frozenset(r["code"] for r in regions)


def iso2_to_iso3(code: str) -> str | None:
    """ISO 3166 alpha-2 (as IATI writes countries) -> alpha-3, or None when unknown.

    Kosovo, which ISO 3166-1 does not code, is XK -> XKX (the codes IATI and the World Bank use)."""
    return _reference_codes()[0].get(code.strip().upper())


@cache
def dac_list_periods() -> dict[str, tuple[tuple[dt.date, dt.date | None], ...]]:
    """ISO3 -> the periods ``[valid_from, valid_to)`` it was on the OECD DAC List of ODA Recipients."""
    data = resources.files("registry").joinpath("data")
    periods: dict[str, list[tuple[dt.date, dt.date | None]]] = {}
    for row in csv.DictReader(data.joinpath("category_memberships.csv").read_text("utf-8").splitlines()):
        if row["category"] == "DAC":
            end = dt.date.fromisoformat(row["valid_to"]) if row["valid_to"] else None
            periods.setdefault(row["iso3"], []).append((dt.date.fromisoformat(row["valid_from"]), end))
    return {iso3: tuple(sorted(spans)) for iso3, spans in periods.items()}


def on_dac_list(iso3: str, day: dt.date) -> bool:
    """Whether a country was on the DAC List of ODA Recipients on a date."""
    return any(start <= day and (end is None or day < end) for start, end in dac_list_periods().get(iso3, ()))


def known_country(iso3: str) -> bool:
    return iso3 in _reference_codes()[1]


def known_region(code: str) -> bool:
    return code in _reference_codes()[2]


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text("utf-8-sig")
    except OSError as exc:
        raise MappingError(f"{path.name}: cannot be read ({exc.strerror})") from None
    reader = csv.DictReader(text.splitlines())
    return [(i + 2, {k: (v or "").strip() for k, v in row.items()}) for i, row in enumerate(reader)]


class _Terms(NamedTuple):
    """The keyword terms compiled for one pass over a text (see :func:`_found_terms`)."""

    exact: list[tuple[str, re.Pattern]]  # the acronyms, in capitals, as whole words: each its own pattern
    loose: re.Pattern | None  # any term at a word start (one pattern: for non-ASCII word starts)
    by_prefix: dict[str, list[tuple[str, re.Pattern]]]  # first two letters -> (term, its pattern)
    anywhere: list[tuple[str, re.Pattern]]  # terms that cannot be indexed so: searched whole
    every: list[tuple[str, re.Pattern]]  # all the indexed terms (for a non-ASCII word start)


_WORD_START = re.compile(r"\b\w")


def _compiled_terms(mapping: Mapping) -> _Terms:
    terms = sorted({t for rule in mapping.keywords for t in rule.terms}, key=len, reverse=True)
    exact = [t for t in terms if t.isupper()]
    loose = [t for t in terms if not t.isupper()]
    by_prefix: dict[str, list[tuple[str, re.Pattern]]] = {}
    anywhere = []
    for term in loose:
        pattern = re.compile(re.escape(term), re.IGNORECASE)
        if len(term) >= 2 and term[:2].isascii() and re.match(r"\w", term):
            by_prefix.setdefault(term[:2].lower(), []).append((term, pattern))
        else:
            anywhere.append((term, _term(term)))
    return _Terms(
        [(term, _term(term)) for term in exact],
        re.compile(r"(?:" + "|".join(re.escape(t) for t in loose) + ")", re.IGNORECASE) if loose else None,
        by_prefix,
        anywhere,
        [c for group in by_prefix.values() for c in group],
    )


def _found_terms(mapping: Mapping, text: str) -> set[str]:
    """Every keyword term present in ``text``, as each term's own pattern finds it (``_term``),
    in one pass over the text's word starts. A word starting with two ASCII characters is looked
    up by them in lower case (exact for ASCII); another word start goes through one pattern of
    every term, which compares as the terms' own patterns do ("İnternet" is "internet" to the
    regular expression engine, not to ``str.lower``, which the look-up by prefix used to miss).
    Each candidate is confirmed by its own pattern at that place. A pattern of every term tried
    at each word start took a third longer."""
    compiled = getattr(mapping, "_patterns", None)
    if compiled is None:
        compiled = _compiled_terms(mapping)
        object.__setattr__(mapping, "_patterns", compiled)
    found: set[str] = set()
    # The acronyms are few: each searched with its own pattern (one pattern of them all missed
    # one written inside a longer one, "GOV" in "E-GOV").
    found.update(term for term, pattern in compiled.exact if pattern.search(text))
    by_prefix, loose = compiled.by_prefix, compiled.loose
    if loose is not None:
        for m in _WORD_START.finditer(text):
            at = m.start()
            head = text[at : at + 2]
            if head.isascii():
                candidates = by_prefix.get(head.lower())
            else:
                candidates = compiled.every if loose.match(text, at) else None
            if candidates:
                found.update(term for term, pattern in candidates if pattern.match(text, at))
    found.update(term for term, pattern in compiled.anywhere if pattern.search(text))
    return found


def _term(term: str) -> re.Pattern:
    # An acronym written in capitals (SME, IXP) matches only as a whole word in capitals,
    # with an optional plural "s", so "SME" does not match "smell"; other terms match
    # case-insensitively at the start of a word ("regulat" -> regulator, regulatory).
    if term.isupper():
        return re.compile(rf"\b{re.escape(term)}s?\b")
    return re.compile(rf"\b{re.escape(term)}", re.IGNORECASE)


def _load_purposes(mapping: Mapping, path: Path) -> None:
    shares: dict[str, list[tuple[str, Decimal]]] = {}
    for line, row in _rows(path):
        code = row.get("code", "")
        if not (code.isdigit() and len(code) in (3, 5)):
            raise MappingError(f"{path.name} line {line}: {code!r} is not a DAC 3- or 5-digit code")
        if not row.get("area"):
            mapping.unmapped_purposes.add(code)
            continue
        area = row["area"].lower()
        if area not in AREA_CODES:
            raise MappingError(f"{path.name} line {line}: {row['area']!r} is not an area 23a-23l")
        try:
            share = Decimal(row.get("share", ""))
        except InvalidOperation:
            raise MappingError(f"{path.name} line {line}: share {row.get('share')!r} is not a number") from None
        if not 0 < share <= 100:
            raise MappingError(f"{path.name} line {line}: share {share} must be above 0 and at most 100")
        shares.setdefault(code, []).append((area, share))
    for code, parts in shares.items():
        total = sum(s for _, s in parts)
        if total != 100:
            raise MappingError(f"{path.name}: the shares of {code} add up to {total}, not 100")
        if code in mapping.unmapped_purposes:
            raise MappingError(f"{path.name}: {code} is both mapped and marked as not mapped")
    mapping.purpose_areas = shares


def _load_keywords(mapping: Mapping, path: Path) -> None:
    for line, row in _rows(path):
        keyword, area = row.get("keyword", ""), row.get("area", "").lower()
        terms = tuple(t.strip() for t in keyword.split("+") if t.strip())
        if not terms:
            raise MappingError(f"{path.name} line {line}: empty keyword")
        if area not in AREA_CODES:
            raise MappingError(f"{path.name} line {line}: {row.get('area')!r} is not an area 23a-23l")
        try:
            weight = Decimal(row.get("weight") or "1")
        except InvalidOperation:
            raise MappingError(f"{path.name} line {line}: weight {row.get('weight')!r} is not a number") from None
        if weight <= 0:
            raise MappingError(f"{path.name} line {line}: weight must be positive")
        mapping.keywords.append(KeywordRule(keyword, terms, area, weight))


def _load_recipients(mapping: Mapping, path: Path) -> None:
    for line, row in _rows(path):
        code, kind = row.get("code", ""), row.get("kind", "")
        iso3, region = row.get("iso3") or None, row.get("m49_region") or None
        if not code.isdigit():
            raise MappingError(f"{path.name} line {line}: {code!r} is not a CRS recipient code")
        if kind == "country" and not (iso3 and known_country(iso3)):
            raise MappingError(f"{path.name} line {line}: {iso3!r} is not a country of the registry")
        if kind == "region" and not (region and known_region(region)):
            raise MappingError(f"{path.name} line {line}: {region!r} is not an M49 region of the registry")
        if kind not in ("country", "region", "unspecified"):
            raise MappingError(f"{path.name} line {line}: kind must be country, region or unspecified")
        if code in mapping.recipients:
            raise MappingError(f"{path.name} line {line}: code {code} is listed twice")
        mapping.recipients[code] = Recipient(
            code,
            row.get("name", ""),
            iso3 if kind == "country" else None,
            region if kind == "region" else None,
        )


def _load_donors(mapping: Mapping, path: Path) -> None:
    for line, row in _rows(path):
        code = row.get("code", "")
        if not code.isdigit() or not row.get("ref") or not row.get("name"):
            raise MappingError(f"{path.name} line {line}: a donor needs a numeric code, a name and a ref")
        if code in mapping.donors:
            raise MappingError(f"{path.name} line {line}: code {code} is listed twice")
        mapping.donors[code] = Donor(
            code,
            row["name"],
            row["ref"],
            row.get("iati_ref", ""),
            row.get("kind") or "donor_agency",
            row.get("country_iso3") or None,
        )


def _load_currencies(mapping: Mapping, path: Path) -> None:
    from registry.money import is_currency

    for line, row in _rows(path):
        code, iso = row.get("code", ""), row.get("iso", "").upper()
        if not code.isdigit() or not is_currency(iso):
            raise MappingError(f"{path.name} line {line}: needs a numeric DAC code and an ISO 4217 currency")
        mapping.currencies[code] = iso


def read_mapping(directory: Path) -> Mapping:
    """Read and check the mapping files of ``directory`` (raises MappingError)."""
    mapping = Mapping(directory=str(directory))
    _load_purposes(mapping, directory / "dac_purpose_areas.csv")
    _load_keywords(mapping, directory / "area_keywords.csv")
    _load_recipients(mapping, directory / "crs_recipients.csv")
    _load_donors(mapping, directory / "crs_donors.csv")
    _load_currencies(mapping, directory / "crs_currencies.csv")
    return mapping


_cache: dict[str, tuple[tuple, Mapping]] = {}


def _stamp(directory: Path) -> tuple:
    stamps = []
    for name in FILES:
        try:
            stat = (directory / name).stat()
            stamps.append((name, stat.st_mtime_ns, stat.st_size))
        except OSError:
            stamps.append((name, None, None))
    return tuple(stamps)


def load_mapping(directory: Path | None = None, *, force: bool = False) -> Mapping:
    """The current mapping, read again when a file changed since the last read (or ``force``)."""
    directory = directory or mapping_dir()
    key, stamp = str(directory), _stamp(directory)
    cached = _cache.get(key)
    if not force and cached and cached[0] == stamp:
        return cached[1]
    mapping = read_mapping(directory)
    _cache[key] = (stamp, mapping)
    return mapping
