"""The real IATI files of ../shared/fixtures: every activity lands, and every recipient's
money per type and currency equals an independent reading of the XML.

The reading is written here from IATI's rules, not from the importer's code: a flow's own
recipient wins; else the activity's countries and regions share it by their percentages
divided by their sum (equal shares when none is given, the rest of 100 % for the ones
without one); an exact repetition of an element counts once; a code the registry cannot
place (empty, unknown, DAC 998) is unallocated. Countries come from the registry's
reference table (ISO alpha-2 -> alpha-3) and DAC regions from the published mapping file
importers/data/crs_recipients.csv. Skips cleanly without the fixtures."""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from importers.interop import import_iati
from registry import money
from registry.extensions import db
from registry.models import Country, Project, ProjectRecipient, Region, Transaction
from registry.models.types import Role
from registry.services.actor import Actor
from tests.importers.iati_codes import ANY_TYPE_CODE

FIXTURES = next(
    (p / "shared" / "fixtures" for p in Path(__file__).resolve().parents if (p / "shared" / "fixtures").is_dir()),
    Path("/nonexistent"),
)
FILES = sorted((FIXTURES / "iati").glob("*.xml")) + sorted((FIXTURES / "iati" / "corpus").glob("*.xml"))
DAC_REGIONS = Path(__file__).resolve().parents[2] / "importers" / "data" / "crs_recipients.csv"
ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)
UNALLOCATED = ""


def _places() -> tuple[dict[str, str], dict[str, str], set[str]]:
    countries = dict(db.session.execute(select(Country.iso2, Country.iso3)).all())
    regions = set(db.session.scalars(select(Region.code)))
    dac = {}
    with open(DAC_REGIONS, encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            dac[row["code"]] = row["iso3"] or row["m49_region"] or UNALLOCATED
    return countries, dac, regions


def _place(elem, countries: dict, dac: dict, regions: set) -> str:
    code = (elem.get("code") or "").strip()
    if elem.tag.endswith("recipient-country"):
        return countries.get(code.upper(), UNALLOCATED)
    vocabulary = (elem.get("vocabulary") or "1").strip()
    if vocabulary == "1":
        return dac.get(code, UNALLOCATED)
    if vocabulary == "2" and code.zfill(3) in regions:
        return code.zfill(3)
    return UNALLOCATED


def _shares(act, countries, dac, regions) -> dict[str, Decimal]:
    """Place -> fraction of the activity's flows (adding up to 1)."""
    seen, entries = set(), []
    for elem in act:
        if elem.tag not in ("recipient-country", "recipient-region"):
            continue
        key = (elem.tag, elem.get("code"), elem.get("vocabulary"), elem.get("percentage"))
        if key in seen:
            continue
        seen.add(key)
        pct = elem.get("percentage")
        entries.append((_place(elem, countries, dac, regions), Decimal(pct) if pct and pct.strip() else None))
    if not entries:
        return {}
    given = [p for _, p in entries if p is not None]
    if not given:
        weights = [Decimal(1)] * len(entries)
    elif len(given) < len(entries):
        rest = Decimal(100) - sum(given)
        fill = rest / (len(entries) - len(given)) if rest > 0 else Decimal(0)
        weights = [p if p is not None else fill for _, p in entries]
    else:
        weights = [p for _, p in entries]
    total = sum(weights)
    out: dict[str, Decimal] = defaultdict(Decimal)
    for (place, _), weight in zip(entries, weights, strict=True):
        out[place] += weight / total
    return out


def reading(path: Path) -> tuple[dict, dict, int]:
    """(place, type, currency) -> amount; the same key -> a tolerance for the 4-decimal shares;
    and the number of activities."""
    countries, dac, regions = _places()
    totals: dict = defaultdict(Decimal)
    slack: dict = defaultdict(Decimal)
    activities = 0
    for act in etree.parse(str(path)).getroot().iter("iati-activity"):
        activities += 1
        shares = _shares(act, countries, dac, regions)
        for tx in act.iter("transaction"):
            kind = ANY_TYPE_CODE.get((tx.find("transaction-type").get("code") or "").strip().upper())
            value = tx.find("value")
            if kind is None or value is None:
                continue
            currency = (value.get("currency") or act.get("default-currency") or "").strip().upper()
            amount = money.quantize(Decimal(value.text.strip().replace(",", "")), currency)
            named = [
                _place(e, countries, dac, regions) for e in tx if e.tag in ("recipient-country", "recipient-region")
            ]
            own = next((p for p in named if p), UNALLOCATED) if named else None
            if own:
                totals[(own, kind, currency)] += amount
            elif shares:
                for place, fraction in shares.items():
                    totals[(place, kind, currency)] += amount * fraction
                    # A share is stored to 4 decimals of a percent (whole millionths): a
                    # percentage with more decimals is off by less than a millionth.
                    slack[(place, kind, currency)] += abs(amount) / 1_000_000
            else:
                totals[(UNALLOCATED, kind, currency)] += amount
    return totals, slack, activities


def stored() -> dict:
    """The same totals from the registry: a flow's own recipient, else the project's shares."""
    out: dict = defaultdict(Decimal)
    own = db.session.execute(
        select(
            func.coalesce(Transaction.recipient_country_iso3, Transaction.recipient_region_code),
            Transaction.type,
            Transaction.currency,
            func.sum(Transaction.amount_minor),
        )
        .where((Transaction.recipient_country_iso3.is_not(None)) | (Transaction.recipient_region_code.is_not(None)))
        .group_by(
            func.coalesce(Transaction.recipient_country_iso3, Transaction.recipient_region_code),
            Transaction.type,
            Transaction.currency,
        )
    ).all()
    for place, kind, currency, minor in own:
        out[(place, kind.value, currency)] += money.from_minor(minor, currency)
    # A project's shares are divided by their sum (100 %, or the file's percentages as given).
    totals = (
        select(ProjectRecipient.project_id, func.sum(ProjectRecipient.share_ppm).label("whole"))
        .group_by(ProjectRecipient.project_id)
        .subquery()
    )
    shared = db.session.execute(
        select(
            func.coalesce(ProjectRecipient.country_iso3, ProjectRecipient.region_code, UNALLOCATED),
            Transaction.type,
            Transaction.currency,
            Transaction.amount_minor,
            ProjectRecipient.share_ppm,
            totals.c.whole,
        )
        .join(ProjectRecipient, ProjectRecipient.project_id == Transaction.project_id)
        .join(totals, totals.c.project_id == Transaction.project_id)
        .where(Transaction.recipient_country_iso3.is_(None), Transaction.recipient_region_code.is_(None))
    ).all()
    for place, kind, currency, minor, ppm, whole in shared:
        out[(place, kind.value, currency)] += money.from_minor(minor, currency) * ppm / whole
    unplaced = db.session.execute(
        select(Transaction.type, Transaction.currency, func.sum(Transaction.amount_minor))
        .where(
            Transaction.recipient_country_iso3.is_(None),
            Transaction.recipient_region_code.is_(None),
            ~select(ProjectRecipient.id).where(ProjectRecipient.project_id == Transaction.project_id).exists(),
        )
        .group_by(Transaction.type, Transaction.currency)
    ).all()
    for kind, currency, minor in unplaced:
        out[(UNALLOCATED, kind.value, currency)] += money.from_minor(minor, currency)
    return out


@pytest.mark.slow
@pytest.mark.fixtures  # a skip fails where the shared fixtures are present
@pytest.mark.skipif(not FILES, reason="real fixtures absent")
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_activity_lands_and_every_recipient_gets_its_money(app, path):
    # A flow in a currency no rate source has is kept in its own currency (and compared so):
    # it is a reason to land, never a reason to skip the file.
    result = import_iati(path, ADMIN)
    assert result.ok, [p for b in result.batches for p in b.problems if p["severity"] == "error"][:3]
    expected, slack, activities = reading(path)
    assert db.session.scalar(select(func.count(Project.id))) == activities
    got = stored()
    keys = {k for k, v in expected.items() if v} | {k for k, v in got.items() if v}
    for key in sorted(keys):
        # To the cent, but for the rounding of each share to 4 decimals of a percent.
        assert abs(got.get(key, 0) - expected.get(key, 0)) <= slack.get(key, 0) + Decimal("0.01"), key
