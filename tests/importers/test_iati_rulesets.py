"""The IATI export against the IATI Rulesets' standard rules.

Source of the rules: IATI/IATI-Rulesets, ``rulesets/standard.json`` at commit
2cd1a14f6c584000ae6d76e708c73ddcc12b6c40 (the JSON ruleset of the IATI Validator V2; the rule
kinds are described in ``SPEC_JS.rst`` of the same commit). ``RULES`` below is our own
encoding of every rule of that file whose context is an activity file (``iati-activity`` and
the elements inside it): its id, severity, context, kind and the XPath expressions of its
case. The rules of organisation files (``/iati-organisations/...``) are left out. The
messages are our words.

The evaluator (``check``) implements the kinds these rules use, over lxml, as the spec and the
reference validator define them, with three deliberate differences, all stricter:
- ``date_order`` compares every date its paths match (the reference validator takes the first
  only, so it checks the first transaction's date and no other);
- ``idCondition`` (apply the rule only to identifiers that are not registered publishers'
  identifiers) is taken as always true: the list of registered publishers is outside the file;
- in a ``loop``, ``$1`` is replaced in every expression of the case (for rule 2.1.2 on non-DAC
  vocabularies the ruleset names only ``paths`` for substitution, which leaves its condition
  comparing with the text "$1", so the reference validator never applies it).
Expressions are evaluated with XPath 1.0 semantics (``boolean(...)``): in the reference
validator a node-set result is always "true" in ``if_then``, which makes rule 3.7.1 inert.

Rule 1.14.8 (the reporting organisation's identifier starts with a registration agency code
from org-id.guide) needs that external list: it is reported as not evaluated.
"""

# ruff: noqa: E501  (XPath expressions and inline XML read best on one line each)

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from importers.iati_export import write_iati
from registry.extensions import db
from registry.models import Project, ProjectRecipient
from registry.money import from_minor

RULESET = "IATI/IATI-Rulesets rulesets/standard.json @ 2cd1a14f6c584000ae6d76e708c73ddcc12b6c40"
SCHEMA = next(
    (
        p / "shared" / "fixtures" / "iati-schema-2.03" / "iati-activities-schema.xsd"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "fixtures" / "iati-schema-2.03" / "iati-activities-schema.xsd").is_file()
    ),
    None,
)

ACT = "/iati-activities/iati-activity"
FORBIDDEN = r"^[^/&|?]+$"  # the rules' identifier pattern: none of / & | ?
DAC = "@vocabulary = '1' or @vocabulary = '' or not(@vocabulary)"
INDICATOR_QUANT = f"{ACT}/result/indicator[@measure='1' or @measure='2' or @measure='3' or @measure='4']"
INDICATOR_QUAL = f"{ACT}/result/indicator[@measure='5']"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # "error" or "warning", as the ruleset grades it
    context: str  # XPath selecting the elements the rule is checked on
    kind: str
    case: dict = field(hash=False)


def _loop(id, severity, foreach, kind, case):
    return Rule(id, severity, ACT, "loop", {"foreach": foreach, "kind": kind, "case": case})


RULES: list[Rule] = [
    # -- identifiers ------------------------------------------------------------------
    Rule("1.1.3", "error", ACT, "unique", {"paths": ["reporting-org/@ref", "iati-identifier"]}),
    Rule(
        "1.1.21",
        "warning",
        ACT,
        "startswith",
        {
            "prefix": ["reporting-org/@ref", "other-identifier[@type='B1']/@ref"],
            "separator": "-",
            "paths": ["iati-identifier"],
        },
    ),
    Rule(
        "1.14.8",
        "warning",
        ACT,
        "startswith",
        {"idCondition": "NOT_EXISTING_ORG_ID", "prefix": ["ORG-ID-PREFIX"], "paths": ["reporting-org/@ref"]},
    ),
    Rule(
        "1.3.13",
        "warning",
        ACT,
        "regex_matches",
        {"idCondition": "NOT_EXISTING_ORG_ID_PREFIX", "regex": FORBIDDEN, "paths": ["iati-identifier"]},
    ),
    Rule(
        "1.14.13",
        "warning",
        ACT,
        "regex_matches",
        {"idCondition": "NOT_EXISTING_ORG_ID", "regex": FORBIDDEN, "paths": ["reporting-org/@ref"]},
    ),
    Rule("1.3.1", "warning", ACT, "no_spaces", {"paths": ["iati-identifier"]}),
    Rule("1.14.1", "warning", ACT, "no_spaces", {"paths": ["reporting-org/@ref"]}),
    Rule("1.16.1", "warning", ACT, "no_spaces", {"paths": ["other-identifier[@type='B1']/@ref"]}),
    Rule("1.6.1", "warning", ACT, "no_spaces", {"paths": ["other-identifier[@type='A3']/@ref"]}),
    Rule("1.7.1", "warning", ACT, "no_spaces", {"paths": ["related-activity/@ref"]}),
    # -- information, dates ------------------------------------------------------------
    Rule("6.11.1", "error", ACT, "atleast_one", {"paths": ["activity-date[@type='1' or @type='2']"]}),
    Rule("6.2.2", "error", ACT, "atleast_one", {"paths": ["sector", "transaction/sector"]}),
    Rule("4.1.1", "error", ACT, "one_or_all", {"one": "@xml:lang", "all": "lang"}),
    Rule("6.7.2", "error", ACT, "one_or_all", {"one": "sector", "all": "sector"}),
    Rule("7.8.1", "error", ACT, "one_or_all", {"one": "@default-currency", "all": "currency"}),
    Rule("11.1.1", "error", ACT, "date_now", {"date": "@last-updated-datetime"}),
    Rule(
        "11.1.2",
        "error",
        ACT,
        "date_order",
        {"less": "activity-date[@type='1']/@iso-date", "more": "activity-date[@type='3']/@iso-date"},
    ),
    Rule(
        "11.1.3",
        "error",
        ACT,
        "date_order",
        {"less": "activity-date[@type='2']/@iso-date", "more": "activity-date[@type='4']/@iso-date"},
    ),
    Rule("11.1.4", "error", ACT, "date_order", {"less": "activity-date[@type='2']/@iso-date", "more": "NOW"}),
    Rule("11.1.5", "error", ACT, "date_order", {"less": "activity-date[@type='4']/@iso-date", "more": "NOW"}),
    Rule("11.2.1", "error", ACT, "date_order", {"less": "transaction/transaction-date/@iso-date", "more": "NOW"}),
    Rule("11.2.2", "error", ACT, "date_order", {"less": "transaction/value/@value-date", "more": "NOW"}),
    # -- sectors and recipients, per vocabulary -----------------------------------------
    _loop(
        "2.1.2",
        "error",
        "sector[@vocabulary != '1']/@vocabulary",
        "strict_sum",
        {
            "condition": "count(sector[@vocabulary = '$1']) > 1",
            "paths": ["sector[@vocabulary = '$1']/@percentage"],
            "sum": 100,
        },
    ),
    _loop(
        "3.4.1",
        "error",
        "recipient-region/@vocabulary",
        "if_then",
        {
            "if": "count(recipient-region[@vocabulary = '$1']) > 1",
            "then": "count(recipient-region[@vocabulary = '$1']) = count(recipient-region[@vocabulary = '$1']/@percentage)",
        },
    ),
    _loop(
        "3.4.4",
        "error",
        "recipient-region/@vocabulary",
        "if_then",
        {
            "if": "count(recipient-region[@vocabulary = '$1']) = 1 and not(recipient-country)",
            "then": "not(recipient-region[@vocabulary = '$1']/@percentage) or recipient-region[@vocabulary = '$1']/@percentage = 100",
        },
    ),
    _loop(
        "3.4.2",
        "error",
        "recipient-region/@vocabulary",
        "strict_sum",
        {
            "condition": "count(recipient-region[@vocabulary = '$1']) + count(recipient-country) > 1",
            "paths": ["recipient-region[@vocabulary = '$1']/@percentage", "recipient-country/@percentage"],
            "sum": 100,
        },
    ),
    _loop(
        "7.9.2",
        "warning",
        "country-budget-items/@vocabulary",
        "strict_sum",
        {
            "condition": "count(country-budget-items[@vocabulary = '$1']/budget-item) > 1",
            "paths": ["country-budget-items[@vocabulary = '$1']/budget-item/@percentage"],
            "sum": 100,
        },
    ),
    _loop(
        "7.9.1",
        "warning",
        "country-budget-items/@vocabulary",
        "atleast_one",
        {
            "condition": "count(country-budget-items[@vocabulary = '$1']/budget-item) > 1",
            "paths": ["country-budget-items[@vocabulary = '$1']/budget-item/@percentage"],
        },
    ),
    _loop(
        "7.9.4",
        "warning",
        "country-budget-items/@vocabulary",
        "if_then",
        {
            "if": "count(country-budget-items[@vocabulary = '$1']/budget-item) = 1",
            "then": "not(country-budget-items[@vocabulary = '$1']/budget-item/@percentage) or country-budget-items[@vocabulary = '$1']/budget-item/@percentage = 100",
        },
    ),
    _loop(
        "107.1.2",
        "warning",
        "default-aid-type[@vocabulary != 1]/@vocabulary",
        "no_more_than_one",
        {"paths": ["default-aid-type[@vocabulary = '$1']"]},
    ),
    _loop(
        "2.1.1",
        "error",
        "sector[@vocabulary != '1']/@vocabulary",
        "if_then",
        {
            "if": "count(sector[@vocabulary = '$1']) > 1",
            "then": "count(sector[@vocabulary = '$1']) = count(sector[@vocabulary = '$1']/@percentage)",
        },
    ),
    _loop(
        "2.1.4",
        "error",
        "sector[@vocabulary != '1']/@vocabulary",
        "if_then",
        {
            "if": "count(sector[@vocabulary = '$1']) = 1",
            "then": "not(sector[@vocabulary = '$1']/@percentage) or sector[@vocabulary = '$1']/@percentage = 100",
        },
    ),
    Rule("107.1.2", "warning", ACT, "no_more_than_one", {"paths": [f"default-aid-type[{DAC}]"]}),
    Rule(
        "2.1.2",
        "error",
        ACT,
        "strict_sum",
        {"condition": f"count(sector[{DAC}]/@percentage) > 1", "paths": [f"sector[{DAC}]/@percentage"], "sum": 100},
    ),
    Rule(
        "3.1.2",
        "error",
        ACT,
        "strict_sum",
        {
            "condition": "count(recipient-country) > 1 and not(recipient-region)",
            "paths": ["recipient-country/@percentage"],
            "sum": 100,
        },
    ),
    Rule("12.1.1", "error", ACT, "range", {"paths": ["recipient-country/@percentage"], "min": 0, "max": 100}),
    Rule("12.1.1", "error", ACT, "range", {"paths": ["recipient-region/@percentage"], "min": 0, "max": 100}),
    Rule("12.3.1", "error", ACT, "range", {"paths": ["sector/@percentage"], "min": 0, "max": 100}),
    Rule("12.2.1", "error", ACT, "range", {"paths": ["capital-spend/@percentage"], "min": 0, "max": 100}),
    Rule(
        "12.2.1",
        "error",
        ACT,
        "range",
        {"paths": ["country-budget-items/budget-item/@percentage"], "min": 0, "max": 100},
    ),
    Rule(
        "2.2.1",
        "error",
        ACT,
        "if_then",
        {
            "if": "count(sector[@vocabulary=98 or @vocabulary=99]) > 0",
            "then": "count(sector[@vocabulary=98 or @vocabulary=99]/narrative) >= count(sector[@vocabulary=98 or @vocabulary=99])",
        },
    ),
    Rule(
        "102.1.1",
        "warning",
        ACT,
        "if_then",
        {
            "if": "count(sector[not(@vocabulary='')]) + count(sector[not(@vocabulary='1')]) > 0",
            "then": f"count(sector[{DAC}]) > 0",
        },
    ),
    Rule(
        "2.1.1",
        "error",
        ACT,
        "if_then",
        {"if": f"count(sector[{DAC}]) > 1", "then": f"count(sector[{DAC}]) = count(sector[{DAC}]/@percentage)"},
    ),
    Rule(
        "2.1.4",
        "error",
        ACT,
        "if_then",
        {
            "if": f"count(sector[{DAC}]) = 1",
            "then": f"not(sector[{DAC}]/@percentage) or sector[{DAC}]/@percentage = 100",
        },
    ),
    Rule(
        "107.1.1",
        "warning",
        ACT,
        "if_then",
        {
            "if": "count(default-aid-type[not(@vocabulary='')]) + count(default-aid-type[not(@vocabulary='1')]) > 0",
            "then": f"count(default-aid-type[{DAC}]) > 0",
        },
    ),
    Rule(
        "107.2.1",
        "warning",
        ACT,
        "if_then",
        {
            "if": "count(transaction/aid-type[not(@vocabulary='')]) + count(transaction/aid-type[not(@vocabulary='1')]) > 0",
            "then": f"count(transaction/aid-type[{DAC}]) > 0",
        },
    ),
    Rule("6.6.2", "error", ACT, "if_then", {"if": "count(sector) > 0", "then": "count(transaction/sector) < 1"}),
    Rule(
        "3.6.2",
        "error",
        ACT,
        "if_then",
        {
            "if": "recipient-country or recipient-region",
            "then": "not(transaction/recipient-country or transaction/recipient-region)",
        },
    ),
    Rule(
        "3.7.1",
        "error",
        ACT,
        "if_then",
        {
            "if": "not(recipient-country or recipient-region)",
            "then": "transaction[recipient-country or recipient-region]",
        },
    ),
    Rule(
        "3.7.2",
        "error",
        ACT,
        "if_then",
        {
            "if": "not(recipient-country or recipient-region)",
            "then": "not(transaction[not(recipient-country or recipient-region)])",
        },
    ),
    Rule(
        "3.1.1",
        "error",
        ACT,
        "if_then",
        {
            "if": "count(recipient-country) > 1 and not(recipient-region)",
            "then": "count(recipient-country) = count(recipient-country/@percentage)",
        },
    ),
    Rule(
        "3.1.4",
        "error",
        ACT,
        "if_then",
        {
            "if": "count(recipient-country) = 1 and not(recipient-region)",
            "then": "not(recipient-country/@percentage) or recipient-country/@percentage = 100",
        },
    ),
    # -- inside the activity -------------------------------------------------------------
    Rule("107.2.2", "warning", f"{ACT}/transaction", "no_more_than_one", {"paths": [f"aid-type[{DAC}]"]}),
    Rule(
        "107.2.2",
        "warning",
        f"{ACT}/transaction",
        "loop",
        {
            "foreach": "aid-type[@vocabulary != 1]/@vocabulary",
            "kind": "no_more_than_one",
            "case": {"paths": ["aid-type[@vocabulary = '$1']"]},
        },
    ),
    Rule("6.8.1", "error", f"{ACT}/other-identifier/owner-org", "atleast_one", {"paths": ["@ref", "narrative"]}),
    Rule("1.11.1", "warning", f"{ACT}/other-identifier/owner-org", "no_spaces", {"paths": ["@ref"]}),
    Rule(
        "1.11.13",
        "warning",
        f"{ACT}/other-identifier/owner-org",
        "regex_matches",
        {"idCondition": "NOT_EXISTING_ORG_ID", "regex": FORBIDDEN, "paths": ["@ref"]},
    ),
    Rule(
        "6.9.1",
        "error",
        f"{ACT}/transaction/provider-org | {ACT}/planned-disbursement/provider-org",
        "atleast_one",
        {"paths": ["@ref", "narrative"]},
    ),
    Rule(
        "1.10.13",
        "warning",
        f"{ACT}/transaction/provider-org | {ACT}/planned-disbursement/provider-org",
        "regex_matches",
        {"idCondition": "NOT_EXISTING_ORG_ID", "regex": FORBIDDEN, "paths": ["@ref"]},
    ),
    Rule(
        "1.10.1",
        "warning",
        f"{ACT}/transaction/provider-org | {ACT}/planned-disbursement/provider-org",
        "no_spaces",
        {"paths": ["@ref"]},
    ),
    Rule(
        "1.4.1",
        "warning",
        f"{ACT}/transaction/provider-org | {ACT}/planned-disbursement/provider-org",
        "no_spaces",
        {"paths": ["@provider-activity-id"]},
    ),
    Rule(
        "6.9.2",
        "error",
        f"{ACT}/transaction/receiver-org | {ACT}/planned-disbursement/receiver-org",
        "atleast_one",
        {"paths": ["@ref", "narrative"]},
    ),
    Rule(
        "1.15.1",
        "warning",
        f"{ACT}/transaction/receiver-org | {ACT}/planned-disbursement/receiver-org",
        "no_spaces",
        {"paths": ["@ref"]},
    ),
    Rule(
        "1.5.1",
        "warning",
        f"{ACT}/transaction/receiver-org | {ACT}/planned-disbursement/receiver-org",
        "no_spaces",
        {"paths": ["@receiver-activity-id"]},
    ),
    Rule(
        "1.15.13",
        "warning",
        f"{ACT}/transaction/receiver-org | {ACT}/planned-disbursement/receiver-org",
        "regex_matches",
        {"idCondition": "NOT_EXISTING_ORG_ID", "regex": FORBIDDEN, "paths": ["@ref"]},
    ),
    Rule(
        "6.14.1",
        "error",
        f"{ACT}/policy-marker",
        "atleast_one",
        {"condition": "@vocabulary='1' or @vocabulary = '' or not(@vocabulary)", "paths": ["@significance"]},
    ),
    Rule(
        "6.13.1",
        "error",
        f"{ACT}/policy-marker",
        "atleast_one",
        {"condition": "@vocabulary='99'", "paths": ["narrative"]},
    ),
    Rule("6.10.1", "error", f"{ACT}/participating-org", "atleast_one", {"paths": ["@ref", "narrative"]}),
    Rule(
        "1.8.13",
        "warning",
        f"{ACT}/participating-org",
        "regex_matches",
        {"idCondition": "NOT_EXISTING_ORG_ID", "regex": FORBIDDEN, "paths": ["@ref"]},
    ),
    Rule("1.8.1", "warning", f"{ACT}/participating-org", "no_spaces", {"paths": ["@ref"]}),
    Rule("1.9.1", "warning", f"{ACT}/participating-org", "no_spaces", {"paths": ["@activity-id"]}),
    Rule(
        "8.6.3",
        "error",
        f"{ACT}/planned-disbursement",
        "date_order",
        {"less": "period-start/@iso-date", "more": "period-end/@iso-date"},
    ),
    Rule(
        "8.6.3",
        "error",
        f"{ACT}/budget",
        "date_order",
        {"less": "period-start/@iso-date", "more": "period-end/@iso-date"},
    ),
    Rule(
        "7.5.3",
        "error",
        f"{ACT}/budget",
        "time_limit",
        {"start": "period-start/@iso-date", "end": "period-end/@iso-date"},
    ),
    Rule(
        "8.11.1", "error", f"{ACT}/result/indicator", "no_more_than_one", {"paths": ["reference[1]", "../reference[1]"]}
    ),
    Rule(
        "8.6.1",
        "error",
        f"{ACT}/result/indicator/period",
        "date_order",
        {"less": "period-start/@iso-date", "more": "period-end/@iso-date"},
    ),
    Rule("8.8.1", "error", f"{INDICATOR_QUANT}/baseline", "atleast_one", {"paths": ["@value"]}),
    Rule(
        "8.8.2",
        "warning",
        f"{INDICATOR_QUANT}/baseline",
        "if_then",
        {"if": "@value", "then": "number(@value) = @value"},
    ),
    Rule("8.8.3", "warning", f"{INDICATOR_QUAL}/baseline", "if_then", {"if": "@value", "then": "not(@value)"}),
    Rule("8.9.1", "error", f"{INDICATOR_QUANT}/period/target", "atleast_one", {"paths": ["@value"]}),
    Rule(
        "8.9.2",
        "warning",
        f"{INDICATOR_QUANT}/period/target",
        "if_then",
        {"if": "@value", "then": "number(@value) = @value"},
    ),
    Rule("8.9.3", "warning", f"{INDICATOR_QUAL}/period/target", "if_then", {"if": "@value", "then": "not(@value)"}),
    Rule("8.10.1", "error", f"{INDICATOR_QUANT}/period/actual", "atleast_one", {"paths": ["@value"]}),
    Rule(
        "8.10.2",
        "warning",
        f"{INDICATOR_QUANT}/period/actual",
        "if_then",
        {"if": "@value", "then": "number(@value) = @value"},
    ),
    Rule("8.10.3", "warning", f"{INDICATOR_QUAL}/period/actual", "if_then", {"if": "@value", "then": "not(@value)"}),
    Rule("4.3.1", "error", "//title", "atleast_one", {"paths": ["narrative/text()"]}),
    Rule("4.4.1", "error", "//description", "atleast_one", {"paths": ["narrative/text()"]}),
]
# Needs a list from outside the file (org-id.guide's registration agencies).
NOT_EVALUATED = {"1.14.8"}


# -- the evaluator ------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    identifier: str  # the activity's iati-identifier
    rule: str
    severity: str


def _boolean(node, expression: str) -> bool:
    return bool(node.xpath(f"boolean({expression})"))


def _matches(node, paths: list[str]) -> list:
    return [m for path in paths for m in node.xpath(path)]


def _text(match) -> str:
    return "".join(match.itertext()) if isinstance(match, etree._Element) else str(match)


def _moment(text: str) -> dt.datetime | None:
    """A date or datetime as an aware datetime (a date is its midnight UTC); None if unreadable."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _one_or_all(node, case: dict) -> bool:
    if node.xpath(case["one"]):
        return True
    if case["all"] == "lang":
        return all(n.xpath("@xml:lang") for n in node.xpath("descendant::narrative"))
    if case["all"] == "sector":
        return all(t.xpath("sector") for t in node.xpath("transaction"))
    if case["all"] == "currency":
        return all(
            v.get("currency") for v in node.xpath("descendant::value | descendant::forecast | descendant::loan-status")
        )
    raise AssertionError(f"unknown one_or_all case {case['all']}")


def _dates(node, path: str, now: dt.datetime) -> list[dt.datetime]:
    if path == "NOW":
        return [now]
    return [d for d in (_moment(_text(m)) for m in node.xpath(path)) if d is not None]


def _passes(node, kind: str, case: dict, now: dt.datetime) -> bool:
    """True when ``node`` meets the case (or the case does not apply to it)."""
    if "condition" in case and not _boolean(node, case["condition"]):
        return True
    texts = [_text(m) for m in _matches(node, case.get("paths", []))]
    if kind == "atleast_one":
        return len(texts) >= 1
    if kind == "no_more_than_one":
        return len(texts) <= 1
    if kind == "unique":
        return len(texts) == len(set(texts))
    if kind == "no_spaces":
        return all(t == t.strip() for t in texts)
    if kind == "regex_matches":
        return all(t == "" or re.search(case["regex"], t) for t in texts)
    if kind == "startswith":
        prefixes = [_text(m) for m in _matches(node, case["prefix"])]
        return all(any(t.startswith(p + case.get("separator", "")) for p in prefixes) for t in texts)
    if kind == "strict_sum":
        numbers = [_number(t) for t in texts]
        return None not in numbers and sum(numbers, Decimal(0)) == Decimal(case["sum"])
    if kind == "range":
        numbers = [_number(t) for t in texts]
        return all(n is not None and case["min"] <= n <= case["max"] for n in numbers)
    if kind == "if_then":
        return not _boolean(node, case["if"]) or _boolean(node, case["then"])
    if kind == "one_or_all":
        return _one_or_all(node, case)
    if kind == "date_now":
        return all(d <= now for d in _dates(node, case["date"], now))
    if kind == "date_order":
        less, more = _dates(node, case["less"], now), _dates(node, case["more"], now)
        return not less or not more or max(less) <= min(more)
    if kind == "time_limit":
        start, end = _dates(node, case["start"], now), _dates(node, case["end"], now)
        return not start or not end or (end[0] - start[0]).days <= 365
    raise AssertionError(f"rule kind {kind} is not implemented")


def check(doc, now: dt.datetime | None = None) -> set[Failure]:
    """Every (activity, rule) that the document fails, by the encoded rules."""
    now = now or dt.datetime.now(dt.UTC)
    failures = set()
    for rule in RULES:
        if rule.id in NOT_EVALUATED:
            continue
        for node in doc.xpath(rule.context):
            if rule.kind == "loop":
                case = rule.case
                values = dict.fromkeys(_text(v) for v in node.xpath(case["foreach"]))
                ok = all(_passes(node, case["kind"], _substitute(case["case"], value), now) for value in values)
            else:
                ok = _passes(node, rule.kind, rule.case, now)
            if not ok:
                identifier = node.xpath("string(ancestor-or-self::iati-activity[1]/iati-identifier)")
                failures.add(Failure(identifier, rule.id, rule.severity))
    return failures


def _substitute(case: dict, value: str) -> dict:
    def sub(x):
        if isinstance(x, str):
            return x.replace("$1", value)
        if isinstance(x, list):
            return [sub(v) for v in x]
        return x

    return {k: sub(v) for k, v in case.items()}


def failed(doc) -> set[tuple[str, str]]:
    return {(f.identifier, f.rule) for f in check(doc)}


# -- the evaluator against small hand-written activities ---------------------------------

BASE = {
    "attrs": 'xml:lang="en" default-currency="EUR" last-updated-datetime="2020-01-01T00:00:00"',
    "identifier": "<iati-identifier>XM-DAC-1-P1</iati-identifier>",
    "reporting": '<reporting-org ref="XM-DAC-1" type="10"><narrative>Org</narrative></reporting-org>',
    "title": "<title><narrative>Title</narrative></title>",
    "description": "<description><narrative>Words</narrative></description>",
    "participating": '<participating-org ref="XM-DAC-1" role="1"><narrative>Org</narrative></participating-org>',
    "other": "",
    "dates": '<activity-date type="1" iso-date="2020-01-01"/><activity-date type="3" iso-date="2021-12-31"/>',
    "recipients": '<recipient-country code="KE" percentage="100"/>',
    "sectors": '<sector vocabulary="1" code="22040" percentage="100"/>',
    "aid": "",
    "budgets": '<budget><period-start iso-date="2020-01-01"/><period-end iso-date="2020-12-31"/><value value-date="2020-01-01">10</value></budget>',
    "planned": "",
    "transactions": '<transaction><transaction-type code="2"/><transaction-date iso-date="2020-02-01"/><value value-date="2020-02-01">5</value><provider-org ref="XM-DAC-1"><narrative>Org</narrative></provider-org></transaction>',
    "more": "",
}
TX = '<transaction><transaction-type code="3"/><transaction-date iso-date="{date}"/><value value-date="{date}">1</value>{extra}</transaction>'


def activity(**parts) -> etree._Element:
    p = BASE | parts
    xml = (
        f'<iati-activities version="2.03"><iati-activity {p["attrs"]}>{p["identifier"]}{p["reporting"]}{p["title"]}'
        f'{p["description"]}{p["participating"]}{p["other"]}<activity-status code="2"/>{p["dates"]}{p["recipients"]}'
        f"{p['sectors']}{p['aid']}{p['budgets']}{p['planned']}{p['transactions']}{p['more']}</iati-activity></iati-activities>"
    )
    return etree.fromstring(xml)


def test_a_sound_activity_meets_every_rule():
    assert failed(activity()) == set()


CASES = [
    ("identifier", {"identifier": "<iati-identifier> XM-DAC-1-P1</iati-identifier>"}, {"1.3.1", "1.1.21"}),
    ("identifier", {"identifier": "<iati-identifier>XM-DAC-1-P/1</iati-identifier>"}, {"1.3.13"}),
    ("identifier", {"identifier": "<iati-identifier>XM-DAC-1</iati-identifier>"}, {"1.1.3", "1.1.21"}),
    ("identifier", {"identifier": "<iati-identifier>XM-OLD-P1</iati-identifier>"}, {"1.1.21"}),
    (
        "identifier",
        {
            "identifier": "<iati-identifier>XM-OLD-P1</iati-identifier>",
            "other": '<other-identifier ref="XM-OLD" type="B1"/>',
        },
        set(),
    ),
    (
        "identifier",
        {"other": '<other-identifier ref="XM-OLD " type="B1"/><other-identifier ref=" P0" type="A3"/>'},
        {"1.16.1", "1.6.1"},
    ),
    ("identifier", {"other": '<other-identifier ref="X" type="A9"><owner-org/></other-identifier>'}, {"6.8.1"}),
    (
        "identifier",
        {
            "reporting": '<reporting-org ref="XM-DAC-1 " type="10"><narrative>Org</narrative></reporting-org>',
            "identifier": "<iati-identifier>XM-DAC-1 -P1</iati-identifier>",
        },
        {"1.14.1"},
    ),
    (
        "identifier",
        {
            "reporting": '<reporting-org ref="XM&amp;1" type="10"><narrative>O</narrative></reporting-org>',
            "identifier": "<iati-identifier>XM&amp;1-P1</iati-identifier>",
        },
        {"1.14.13", "1.3.13"},
    ),
    ("identifier", {"more": '<related-activity ref=" XM-DAC-1-P0" type="1"/>'}, {"1.7.1"}),
    ("language", {"attrs": 'default-currency="EUR" last-updated-datetime="2020-01-01T00:00:00"'}, {"4.1.1"}),
    ("currency", {"attrs": 'xml:lang="en" last-updated-datetime="2020-01-01T00:00:00"'}, {"7.8.1"}),
    (
        "updated",
        {"attrs": 'xml:lang="en" default-currency="EUR" last-updated-datetime="2999-01-01T00:00:00"'},
        {"11.1.1"},
    ),
    ("dates", {"dates": '<activity-date type="3" iso-date="2021-12-31"/>'}, {"6.11.1"}),
    (
        "dates",
        {"dates": '<activity-date type="1" iso-date="2022-01-01"/><activity-date type="3" iso-date="2021-12-31"/>'},
        {"11.1.2"},
    ),
    (
        "dates",
        {"dates": '<activity-date type="2" iso-date="2021-01-01"/><activity-date type="4" iso-date="2020-12-31"/>'},
        {"11.1.3"},
    ),
    ("dates", {"dates": '<activity-date type="2" iso-date="2999-01-01"/>'}, {"11.1.4"}),
    (
        "dates",
        {"dates": '<activity-date type="1" iso-date="2020-01-01"/><activity-date type="4" iso-date="2999-01-01"/>'},
        {"11.1.5"},
    ),
    (
        "transaction",
        {"more": TX.format(date="2020-03-01", extra="") + TX.format(date="2999-01-01", extra="")},
        {"11.2.1", "11.2.2"},
    ),
    (
        "transaction",
        {"more": TX.format(date="2020-03-01", extra='<aid-type code="C01"/><aid-type code="D01"/>')},
        {"107.2.2"},
    ),
    (
        "transaction",
        {
            "more": TX.format(
                date="2020-03-01", extra='<aid-type vocabulary="2" code="1"/><aid-type vocabulary="2" code="2"/>'
            )
        },
        {"107.2.2", "107.2.1"},
    ),
    ("transaction", {"more": TX.format(date="2020-03-01", extra="<provider-org/><receiver-org/>")}, {"6.9.1", "6.9.2"}),
    (
        "transaction",
        {
            "more": TX.format(
                date="2020-03-01", extra='<provider-org ref=" A/B"/><receiver-org ref="C?" receiver-activity-id=" X"/>'
            )
        },
        {"1.10.1", "1.10.13", "1.15.13", "1.5.1"},
    ),
    ("transaction", {"more": TX.format(date="2020-03-01", extra="<description><narrative/></description>")}, {"4.4.1"}),
    ("sectors", {"sectors": ""}, {"6.2.2", "6.7.2"}),
    ("sectors", {"more": TX.format(date="2020-03-01", extra='<sector code="22040"/>')}, {"6.6.2"}),
    ("sectors", {"sectors": '<sector code="22040" percentage="50"/><sector code="22020" percentage="30"/>'}, {"2.1.2"}),
    ("sectors", {"sectors": '<sector code="22040" percentage="50"/><sector code="22020"/>'}, {"2.1.1"}),
    ("sectors", {"sectors": '<sector code="22040" percentage="50"/>'}, {"2.1.4"}),
    ("sectors", {"sectors": '<sector code="22040" percentage="150"/>'}, {"2.1.4", "12.3.1"}),
    ("sectors", {"sectors": '<sector code="22040"/><sector vocabulary="99" code="23a" percentage="100"/>'}, {"2.2.1"}),
    ("sectors", {"sectors": '<sector vocabulary="99" code="23a"><narrative>A</narrative></sector>'}, {"102.1.1"}),
    (
        "sectors",
        {
            "sectors": '<sector code="22040"/><sector vocabulary="99" code="23a" percentage="50"><narrative>A</narrative></sector><sector vocabulary="99" code="23b" percentage="30"><narrative>B</narrative></sector>'
        },
        {"2.1.2"},
    ),
    (
        "sectors",
        {
            "sectors": '<sector code="22040"/><sector vocabulary="99" code="23a" percentage="50"><narrative>A</narrative></sector><sector vocabulary="99" code="23b"><narrative>B</narrative></sector>'
        },
        {"2.1.1", "2.1.2"},
    ),
    (
        "sectors",
        {
            "sectors": '<sector code="22040"/><sector vocabulary="99" code="23a" percentage="60"><narrative>A</narrative></sector>'
        },
        {"2.1.4"},
    ),
    (
        "recipients",
        {"recipients": '<recipient-country code="KE" percentage="60"/><recipient-country code="UG" percentage="60"/>'},
        {"3.1.2"},
    ),
    (
        "recipients",
        {"recipients": '<recipient-country code="KE" percentage="60"/><recipient-country code="UG"/>'},
        {"3.1.1", "3.1.2"},
    ),
    ("recipients", {"recipients": '<recipient-country code="KE" percentage="50"/>'}, {"3.1.4"}),
    (
        "recipients",
        {"recipients": '<recipient-country code="KE" percentage="-5"/><recipient-country code="UG" percentage="105"/>'},
        {"12.1.1"},
    ),
    (
        "recipients",
        {
            "recipients": '<recipient-country code="KE" percentage="50"/><recipient-region code="014" vocabulary="2" percentage="40"/>'
        },
        {"3.4.2"},
    ),
    (
        "recipients",
        {
            "recipients": '<recipient-country code="KE" percentage="50"/><recipient-region code="014" vocabulary="2" percentage="50"/>'
        },
        set(),
    ),
    ("recipients", {"recipients": '<recipient-region code="014" vocabulary="2" percentage="50"/>'}, {"3.4.4"}),
    (
        "recipients",
        {
            "recipients": '<recipient-region code="014" vocabulary="2" percentage="50"/><recipient-region code="017" vocabulary="2"/>'
        },
        {"3.4.1", "3.4.2"},
    ),
    ("recipients", {"more": TX.format(date="2020-03-01", extra='<recipient-country code="UG"/>')}, {"3.6.2"}),
    ("recipients", {"recipients": ""}, {"3.7.1", "3.7.2"}),
    (
        "recipients",
        {"recipients": "", "more": TX.format(date="2020-03-01", extra='<recipient-country code="UG"/>')},
        {"3.7.2"},
    ),
    (
        "budgets",
        {
            "budgets": '<budget><period-start iso-date="2020-01-01"/><period-end iso-date="2021-01-01"/><value value-date="2020-01-01">1</value></budget>'
        },
        {"7.5.3"},
    ),
    (
        "budgets",
        {
            "budgets": '<budget><period-start iso-date="2020-02-29"/><period-end iso-date="2021-02-28"/><value value-date="2020-01-01">1</value></budget>'
        },
        set(),
    ),
    (
        "budgets",
        {
            "budgets": '<budget><period-start iso-date="2020-06-01"/><period-end iso-date="2020-05-31"/><value value-date="2020-01-01">1</value></budget>'
        },
        {"8.6.3"},
    ),
    (
        "planned",
        {
            "planned": '<planned-disbursement><period-start iso-date="2020-06-01"/><period-end iso-date="2020-05-31"/><value value-date="2020-01-01">1</value></planned-disbursement>'
        },
        {"8.6.3"},
    ),
    ("aid", {"aid": '<default-aid-type code="C01"/><default-aid-type code="D01"/>'}, {"107.1.2"}),
    ("aid", {"aid": '<default-aid-type vocabulary="2" code="1"/>'}, {"107.1.1"}),
    (
        "texts",
        {"title": "<title><narrative/></title>", "description": "<description><narrative></narrative></description>"},
        {"4.3.1", "4.4.1"},
    ),
    (
        "others",
        {"participating": '<participating-org role="1"/><participating-org ref="A|B " role="4"/>'},
        {"6.10.1", "1.8.13", "1.8.1"},
    ),
    ("others", {"more": '<policy-marker code="1"/><policy-marker vocabulary="99" code="1"/>'}, {"6.14.1", "6.13.1"}),
    (
        "others",
        {
            "more": '<country-budget-items vocabulary="1"><budget-item code="1.1.1" percentage="50"/><budget-item code="1.1.2" percentage="20"/></country-budget-items>'
        },
        {"7.9.2"},
    ),
    (
        "results",
        {
            "more": '<result type="1"><indicator measure="1"><baseline year="2020"/><period><period-start iso-date="2021-01-01"/><period-end iso-date="2020-01-01"/><target value="ten"/></period></indicator></result>'
        },
        {"8.8.1", "8.6.1", "8.9.2"},
    ),
]


@pytest.mark.parametrize(("topic", "parts", "rules"), CASES, ids=[f"{c[0]}-{sorted(c[2])}" for c in CASES])
def test_the_evaluator_finds_each_broken_rule(topic, parts, rules):
    assert {rule for _, rule in failed(activity(**parts))} == rules


# -- our export against the rules -------------------------------------------------------


@functools.cache
def _schema():
    return etree.XMLSchema(etree.parse(str(SCHEMA))) if SCHEMA else None


def export(*projects: Project) -> etree._Element:
    """The projects exported, checked against the 2.03 schema when the schema is at hand."""
    db.session.flush()
    buffer = io.BytesIO()
    write_iati(list(projects), buffer)
    doc = etree.fromstring(buffer.getvalue())
    if _schema() is not None:
        _schema().assertValid(doc)
    return doc


def ident(doc, n: int = 0) -> str:
    return doc.findall("iati-activity")[n].findtext("iati-identifier")


@pytest.fixture
def sound_project(make_project):
    """A project with what the rules ask of every activity (a description, a DAC sector)."""

    def make(**overrides):
        return make_project(**({"description": "Fibre and training.", "sectors": ["22040"]} | overrides))

    return make


def unallocated(project: Project, percent: int) -> None:
    """Give ``percent`` of the project's first recipient's share to an unallocated row."""
    first = project.recipients[0]
    first.share_ppm -= percent * 10_000
    project.recipients.append(ProjectRecipient(country_iso3=None, region_code=None, share_ppm=percent * 10_000))


def test_the_demo_data_exported_meets_every_rule_the_data_allows(runner, tmp_path):
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "demo.xml"
    result = runner.invoke(args=["export", "iati", str(out)])
    assert result.exit_code == 0, result.output
    assert "Wrote 400 activities" in result.output
    doc = etree.parse(str(out))
    if _schema() is not None:
        _schema().assertValid(doc)
    projects = db.session.scalars(select(Project).where(Project.demo.is_(True))).all()
    # The demo's global programmes name no recipient: IATI wants one on the activity or on
    # every transaction (3.7.1, 3.7.2), and the data has none to give.
    global_programmes = [p for p in projects if not p.recipients]
    assert global_programmes
    expected = {(f"{p.org.ref}-{p.reference}", "3.7.1") for p in global_programmes}
    expected |= {(f"{p.org.ref}-{p.reference}", "3.7.2") for p in global_programmes if p.transactions}
    assert failed(doc) == expected
    # Budgets of a year at most that add up to each project's need, to the cent; a project
    # with a forward plan gives its own budgets as stored (original and revised).
    needs = {f"{p.org.ref}-{p.reference}": (p.need_minor, p.need_currency) for p in projects}
    stored = {f"{p.org.ref}-{p.reference}": p.budgets for p in projects if p.budgets}
    assert stored  # the demo has forward plans
    for act in doc.findall("iati-activity"):
        values = [b.find("value") for b in act.findall("budget")]
        identifier = act.findtext("iati-identifier")
        if identifier in stored:
            assert sorted((Decimal(v.text), v.get("currency")) for v in values) == sorted(
                (b.amount, b.currency) for b in stored[identifier]
            )
            continue
        assert {v.get("currency") for v in values} == {needs[identifier][1]}
        minor, currency = needs[identifier]
        assert sum(Decimal(v.text) for v in values) == from_minor(minor, currency)


def test_recipients_stay_on_the_flows_that_name_their_own(make_org, sound_project, make_transaction):
    donor = make_org(ref="DONOR-F", iati_ref="XM-DAC-7")
    project = sound_project(
        org=donor,
        recipients=[{"country": "KEN", "share": Decimal(50)}, {"country": "UGA", "share": Decimal(50)}],
        sectors=["22040"],
    )
    make_transaction(project, type="commitment", amount=Decimal("1000.01"), value_date=dt.date(2020, 2, 1))
    own = make_transaction(project, type="disbursement", amount=Decimal("400.00"), value_date=dt.date(2020, 3, 1))
    own.recipient_country_iso3 = "NGA"
    regional = make_transaction(project, type="expenditure", amount=Decimal("99.99"), value_date=dt.date(2020, 4, 1))
    regional.recipient_region_code = "014"
    doc = export(project)
    act = doc.find("iati-activity")
    assert act.findall("recipient-country") == [] and act.findall("recipient-region") == []
    written = sorted(
        (
            t.find("transaction-type").get("code"),
            t.xpath("string(recipient-country/@code | recipient-region/@code)"),
            t.findtext("value"),
        )
        for t in act.findall("transaction")
    )
    # 1000.01 split half and half: 500.005 each, the odd cent to the first recipient.
    assert written == [("2", "KE", "500.01"), ("2", "UG", "500.00"), ("3", "NG", "400.00"), ("4", "014", "99.99")]
    assert failed(doc) == set()


def test_an_unallocated_share_is_not_written_and_says_so(sound_project, make_transaction):
    single = sound_project(recipients=[{"country": "KEN", "share": Decimal(100)}])
    unallocated(single, 40)
    pair = sound_project(
        recipients=[{"country": "KEN", "share": Decimal(50)}, {"country": "UGA", "share": Decimal(50)}]
    )
    unallocated(pair, 20)
    flows = sound_project(recipients=[{"country": "KEN", "share": Decimal(100)}])
    unallocated(flows, 40)
    make_transaction(flows, type="commitment", amount=Decimal("100.00"))
    own = make_transaction(flows, type="disbursement", amount=Decimal("10.00"))
    own.recipient_country_iso3 = "UGA"
    doc = export(single, pair, flows)
    first, second, third = doc.findall("iati-activity")
    assert [(c.get("code"), c.get("percentage")) for c in first.findall("recipient-country")] == [("KE", "60")]
    assert [(c.get("code"), c.get("percentage")) for c in second.findall("recipient-country")] == [
        ("KE", "30"),
        ("UG", "50"),
    ]
    assert "40 % of the recipient shares is unallocated" in "".join(c.text for c in first.xpath("comment()"))
    values = sorted(
        (t.xpath("string(recipient-country/@code)"), t.findtext("value")) for t in third.findall("transaction")
    )
    assert values == [("", "40.00"), ("KE", "60.00"), ("UG", "10.00")]
    # The percentages cannot add up to 100 without handing the unallocated share to someone.
    assert failed(doc) == {(ident(doc, 0), "3.1.4"), (ident(doc, 1), "3.1.2"), (ident(doc, 2), "3.7.2")}


def test_shares_off_by_a_rounding_are_written_to_exactly_100(sound_project):
    project = sound_project(
        recipients=[{"country": c, "share": Decimal("33.33")} for c in ("KEN", "UGA", "TZA")],
        sectors=["22020", "22040"],
    )
    project.sectors[0].share_ppm = project.sectors[1].share_ppm = 600_000
    doc = export(project)
    act = doc.find("iati-activity")
    assert [c.get("percentage") for c in act.findall("recipient-country")] == ["33.3334", "33.3333", "33.3333"]
    assert [s.get("percentage") for s in act.findall("sector[@vocabulary='1']")] == ["50", "50"]
    assert failed(doc) == set()


def test_budgets_are_calendar_years_of_the_need_to_the_cent(sound_project):
    spread = sound_project(
        planned_start=dt.date(2020, 7, 1),
        planned_end=dt.date(2022, 6, 30),
        need={"amount": "1000000.00", "currency": "EUR"},
    )
    yen = sound_project(
        planned_start=dt.date(2020, 1, 1),
        planned_end=dt.date(2022, 12, 31),
        need={"amount": "1000000", "currency": "JPY"},
    )
    open_ended = sound_project(planned_start=dt.date(2020, 2, 29), need={"amount": "10.00", "currency": "USD"})
    doc = export(spread, yen, open_ended)

    def budgets(n):
        act = doc.findall("iati-activity")[n]
        return [
            (b.find("period-start").get("iso-date"), b.find("period-end").get("iso-date"), b.findtext("value"))
            for b in act.findall("budget")
        ]

    # 184, 365 and 181 days of 730: 252054.7945..., 500000, 247945.2054...; the missing cent
    # goes to the largest remainder.
    assert budgets(0) == [
        ("2020-07-01", "2020-12-31", "252054.79"),
        ("2021-01-01", "2021-12-31", "500000.00"),
        ("2022-01-01", "2022-06-30", "247945.21"),
    ]
    # 366, 365 and 365 days of 1096 yen-wise: 333941.6..., 333029.1..., 333029.1...
    assert budgets(1) == [
        ("2020-01-01", "2020-12-31", "333942"),
        ("2021-01-01", "2021-12-31", "333029"),
        ("2022-01-01", "2022-12-31", "333029"),
    ]
    # No end date: the need is one budget of a year from the start.
    assert budgets(2) == [("2020-02-29", "2021-02-28", "10.00")]
    assert failed(doc) == set()


def test_what_lies_after_the_export_day_is_no_fact(sound_project, make_transaction):
    today = dt.datetime.now(dt.UTC).date()
    later = today + dt.timedelta(days=40)
    project = sound_project(planned_start=None, actual_start=today + dt.timedelta(days=10))
    make_transaction(project, type="commitment", amount=Decimal("50.00"), value_date=dt.date(2020, 1, 1))
    make_transaction(project, type="disbursement", amount=Decimal("20.00"), value_date=later)
    doc = export(project)
    act = doc.find("iati-activity")
    # The actual start to come is the planned start; the disbursement to come is planned.
    assert [(d.get("type"), d.get("iso-date")) for d in act.findall("activity-date")] == [
        ("1", (today + dt.timedelta(days=10)).isoformat())
    ]
    assert [t.find("transaction-type").get("code") for t in act.findall("transaction")] == ["2"]
    planned = act.find("planned-disbursement")
    assert (planned.find("period-start").get("iso-date"), planned.findtext("value")) == (later.isoformat(), "20.00")
    assert failed(doc) == set()
    # A commitment dated later stays a transaction (its money is not left out): the data breaks
    # the rule, and the activity says so.
    make_transaction(project, type="commitment", amount=Decimal("5.00"), value_date=later)
    doc = export(project)
    assert failed(doc) == {(ident(doc), "11.2.1"), (ident(doc), "11.2.2")}
    assert "after the export day: written as a transaction" in "".join(c.text for c in doc.xpath("//comment()"))


def test_a_project_without_a_start_gets_the_earliest_date_known(sound_project, make_transaction):
    project = sound_project(planned_start=None, planned_end=dt.date(2022, 12, 31))
    make_transaction(project, value_date=dt.date(2021, 5, 1))
    doc = export(project)
    dates = [(d.get("type"), d.get("iso-date")) for d in doc.find("iati-activity").findall("activity-date")]
    assert dates == [("1", "2021-05-01"), ("3", "2022-12-31")]
    assert failed(doc) == set()
