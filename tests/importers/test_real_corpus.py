"""Regression over real IATI files: every activity lands, and every cent lands where IATI says.

The files are real exports published by others (``../shared/fixtures/iati/``, see its
SOURCES.md): single publishers, multi-publisher d-portal exports and the ``corpus/`` of eight
more. Each is imported into an empty registry as a user would (``import_iati`` without
``--org``: one batch per publisher), then compared with a reading of the XML written here
from IATI's own rules, independently of the importer:

- every ``iati-activity`` is a project, every ``transaction`` a flow with the same type
  (2.03 codes, or 1.x letters), amount, currency (``value/@currency``, else the activity's
  ``default-currency``), value date (``value/@value-date``, else ``transaction-date``) and
  own recipient;
- each country's commitments and disbursements in the report by country equal, to the cent,
  the flows' US dollar values allocated as IATI says: a transaction's own recipient wins;
  otherwise the activity's ``recipient-country`` and ``recipient-region`` percentages apply
  together, divided by their sum when they do not add up to 100, a region's share staying
  with the region and an empty or unknown code's share with no country.

The US dollar value of each flow is the one the registry stored (conversion has tests of its
own, against published rates); what this checks is that no money is dropped, duplicated or
moved between countries. Skips when the shared fixtures are absent; ``REGISTRY_IATI_CORPUS``
names a folder of more files to run it over.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pycountry
import pytest
from lxml import etree
from sqlalchemy import select

from importers.interop import import_iati
from registry.errors import ValidationError
from registry.extensions import db
from registry.models import Project, Transaction
from registry.models.types import Role
from registry.services.actor import Actor
from reports.flows import flows_report
from tests.conftest import FIXTURES
from tests.importers.iati_codes import ANY_TYPE_CODE

IATI = FIXTURES / "iati"
# More real files to check by hand: REGISTRY_IATI_CORPUS=folder runs the same test over its *.xml.
EXTRA = Path(os.environ["REGISTRY_IATI_CORPUS"]) if os.environ.get("REGISTRY_IATI_CORPUS") else None
FILES = sorted(
    [
        *IATI.glob("*.xml"),
        *IATI.glob("corpus/*.xml"),
        *IATI.glob("large/*.xml"),
        *(EXTRA.glob("*.xml") if EXTRA else []),
    ],
    key=lambda p: p.stat().st_size,
)
ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)
pytestmark = pytest.mark.fixtures  # a skip fails when the shared fixtures are present

COMMITMENT, DISBURSEMENT = "commitment", "disbursement"


def iso3(code: str | None) -> str | None:
    """ISO 3166 alpha-2 -> alpha-3 (Kosovo, XK in IATI, is XKX); None for an unknown code."""
    code = (code or "").strip().upper()
    if code == "XK":
        return "XKX"
    country = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    return country.alpha_3 if country else None


# ISO 4217 minor units where they are not 2 (the currencies of these files and their neighbours).
MINOR_UNITS = {"JPY": 0, "KRW": 0, "XOF": 0, "XAF": 0, "VND": 0, "ISK": 0, "UGX": 0, "RWF": 0,
               "JOD": 3, "KWD": 3, "BHD": 3, "OMR": 3, "TND": 3, "LYD": 3, "IQD": 3}  # fmt: skip


def stored_amount(text: str, currency: str) -> Decimal:
    """The amount as ISO 4217 lets it be kept: rounded half-even to the currency's minor unit."""
    return Decimal(text.strip().replace(",", "")).quantize(Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2)))


def day(text: str | None) -> str | None:
    return text.strip()[:10] if text and text.strip() else None


def value_date(value, date_elem) -> str | None:
    """``value/@value-date``, else ``transaction-date/@iso-date``; a value date that is no
    plausible date (a typo such as 1010-12-09: before 1900) gives way to the transaction date."""
    given = day(value.get("value-date"))
    on = day(date_elem.get("iso-date") if date_elem is not None else None)
    if given and given[:4].isdigit() and int(given[:4]) < 1900 and on and on[:4].isdigit() and int(on[:4]) >= 1900:
        return on
    return given or on


def activity_allocation(act) -> dict[str, Fraction]:
    """Key -> fraction of the activity's flows: a country's ISO3, 'REGION', or 'NONE'.

    An element repeated exactly (same code, vocabulary and percentage: real exports repeat
    them) says the same thing twice and counts once."""
    entries: list[tuple[str, Decimal | None]] = []
    seen: set[tuple] = set()
    for elem in [*act.findall("recipient-country"), *act.findall("recipient-region")]:
        said = (elem.tag, elem.get("code"), elem.get("vocabulary"), elem.get("percentage"))
        if said in seen:
            continue
        seen.add(said)
        key = (iso3(elem.get("code")) or "NONE") if elem.tag == "recipient-country" else "REGION"
        entries.append((key, _pct(elem)))
    if not entries:
        return {"NONE": Fraction(1)}
    given = [p for _, p in entries if p is not None]
    missing = len(entries) - len(given)
    if not given:
        weights = [Fraction(1)] * len(entries)
    else:
        rest = max(Fraction(100) - sum(Fraction(p) for p in given), Fraction(0))
        weights = [Fraction(p) if p is not None else rest / missing for _, p in entries]
    total = sum(weights)
    if total == 0:
        weights, total = [Fraction(1)] * len(entries), Fraction(len(entries))
    out: dict[str, Fraction] = defaultdict(Fraction)
    for (key, _), weight in zip(entries, weights, strict=True):
        out[key] += weight / total
    return dict(out)


def _pct(elem) -> Decimal | None:
    text = (elem.get("percentage") or "").strip()
    return Decimal(text) if text else None


def read_flows(path: Path) -> tuple[set[str], list[dict]]:
    """Every activity identifier and every transaction of the file, read by IATI's rules."""
    identifiers: set[str] = set()
    flows: list[dict] = []
    for act in etree.parse(str(path)).getroot().iterfind("iati-activity"):
        identifier = " ".join((act.findtext("iati-identifier") or "").split())
        identifiers.add(identifier)
        default_currency = (act.get("default-currency") or "").strip().upper()
        allocation = activity_allocation(act)
        for tx in act.findall("transaction"):
            type_elem = tx.find("transaction-type")
            kind = ANY_TYPE_CODE.get((type_elem.get("code") or "").strip().upper()) if type_elem is not None else None
            value = tx.find("value")
            date_elem = tx.find("transaction-date")
            own = tx.find("recipient-country")
            own_region = tx.find("recipient-region")
            if own is not None:
                recipient = ("country", iso3(own.get("code"))) if iso3(own.get("code")) else None
                shares = {iso3(own.get("code")) or "NONE": Fraction(1)}
            elif own_region is not None:
                recipient = None  # a region, or a code no region list knows: never a country's
                shares = {"REGION": Fraction(1)}
            else:
                recipient, shares = None, allocation
            if value is None or not (value.text or "").strip():
                continue  # no amount to read: the importer reports the transaction (an error)
            currency = (value.get("currency") or "").strip().upper() or default_currency
            flows.append(
                {
                    "activity": identifier,
                    "type": kind,
                    "amount": stored_amount(value.text, currency),
                    "currency": currency,
                    "date": value_date(value, date_elem),
                    "recipient": recipient,
                    "shares": shares,
                }
            )
    return identifiers, flows


def flow_key(activity: str, kind: str, currency: str, amount: Decimal, date: str, recipient) -> tuple:
    return (activity, kind, currency, Decimal(amount).normalize(), date, recipient)


@pytest.mark.slow
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_cent_of_a_real_file_lands_where_iati_says(app, path):
    if not path.is_file():
        pytest.skip("the shared IATI fixtures are not here")
    try:
        identifiers, flows = read_flows(path)
    except etree.XMLSyntaxError:
        # Not XML at all (an empty download): refused with a reason, nothing written.
        with pytest.raises(ValidationError, match="not well-formed XML|no iati-activities"):
            import_iati(path, ADMIN)
        assert db.session.scalar(select(Project.id)) is None
        return
    result = import_iati(path, ADMIN)
    failed = [p for b in result.batches for p in (b.problems or []) if p["severity"] == "error"]
    assert result.ok, failed[:5]

    # Every activity is a project.
    stored = set(db.session.scalars(select(Project.iati_identifier)))
    assert identifiers <= stored, sorted(identifiers - stored)[:5]

    # Every transaction is a flow, as the file gives it.
    rows = db.session.execute(
        select(
            Project.iati_identifier,
            Transaction.type,
            Transaction.currency,
            Transaction.amount_minor,
            Transaction.value_date,
            Transaction.recipient_country_iso3,
            Transaction.recipient_region_code,
            Transaction.usd_minor,
        ).join(Project, Project.id == Transaction.project_id)
    ).all()
    landed: Counter = Counter()
    usd: dict[tuple, int | None] = {}
    for ident, kind, cur, minor, value_date, country, _region, usd_minor in rows:
        amount = Transaction(amount_minor=minor, currency=cur).amount
        recipient = ("country", country) if country else None
        key = flow_key(ident, kind.value, cur, amount, value_date.isoformat(), recipient)
        landed[key] += 1
        usd[key] = usd_minor
    expected = Counter(
        flow_key(f["activity"], f["type"], f["currency"], f["amount"], f["date"], f["recipient"]) for f in flows
    )
    assert landed == expected, (sorted((expected - landed).items())[:3], sorted((landed - expected).items())[:3])

    # Each country's commitments and disbursements, to the cent.
    by_country: dict[str, dict[str, Fraction]] = defaultdict(lambda: defaultdict(Fraction))
    for f in flows:
        if f["type"] not in (COMMITMENT, DISBURSEMENT):
            continue
        key = flow_key(f["activity"], f["type"], f["currency"], f["amount"], f["date"], f["recipient"])
        if usd[key] is None:
            continue  # not convertible: listed in the report's note instead (checked below)
        for where, fraction in f["shares"].items():
            if where not in ("NONE", "REGION"):
                by_country[where][f["type"]] += Fraction(usd[key], 100) * fraction
    report = flows_report(by=["country"], measures=[COMMITMENT, DISBURSEMENT])
    got = {row["country"]: row for row in report.rows if row.get("country") in by_country or iso3_like(row)}
    for country, sums in by_country.items():
        for measure in (COMMITMENT, DISBURSEMENT):
            exact = sums.get(measure, Fraction(0))
            shown = Fraction(got.get(country, {}).get(measure) or 0)
            assert abs(shown - exact) < Fraction(1, 100), (country, measure, float(exact), float(shown))
    # No country in the report that the file does not give money to.
    extra = {
        c: row
        for c, row in got.items()
        if c not in by_country and any((row.get(m) or 0) != 0 for m in (COMMITMENT, DISBURSEMENT))
    }
    assert not extra, sorted(extra)[:5]
    unconverted = {
        f["currency"]
        for f in flows
        if usd[flow_key(f["activity"], f["type"], f["currency"], f["amount"], f["date"], f["recipient"])] is None
    }
    for currency in unconverted:
        assert any(currency in note for note in report.notes), (currency, report.notes)


def iso3_like(row: dict) -> bool:
    code = row.get("country")
    return isinstance(code, str) and len(code) == 3 and code.isalpha() and code.isupper()
