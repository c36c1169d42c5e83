"""A deterministic demonstration data set, every record flagged ``demo``.

The names are invented; the structure is realistic: donors of every kind, funding
sources of every kind (the Digital Solidarity Fund and regional funds among them),
400 projects over more than 70 countries in every region and all twelve priority
areas, with pledges, commitments and disbursements in several currencies from 2005
to 2025, and pipeline projects that state a need and have no funding yet.
Running it twice changes nothing: every record is found by its natural key first.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from registry.extensions import db
from registry.models import Country, FundingSource, Organisation, PriorityArea
from registry.services import accounts, funding, organisations, projects
from registry.services.actor import SEED
from registry.services.projects import find_project

SEED_NUMBER = 2005
DEMO_PASSWORD = "demo-password"

# ref, name, kind, country, currency used for its flows
ORGANISATIONS: list[tuple[str, str, str, str | None, str]] = [
    ("DEMO-NCA", "Nordic Connectivity Agency", "donor_agency", "SWE", "SEK"),
    ("DEMO-ADA", "Alpine Development Agency", "donor_agency", "CHE", "CHF"),
    ("DEMO-BDC", "Britannic Digital Cooperation Office", "donor_agency", "GBR", "GBP"),
    ("DEMO-RDA", "Rhine Development Agency", "donor_agency", "DEU", "EUR"),
    ("DEMO-SEA", "Seine Expertise Agency", "donor_agency", "FRA", "EUR"),
    ("DEMO-MPC", "Maple Partnership Canada", "donor_agency", "CAN", "CAD"),
    ("DEMO-RSI", "Rising Sun International Cooperation Agency", "donor_agency", "JPN", "JPY"),
    ("DEMO-HAN", "Han River Cooperation Agency", "donor_agency", "KOR", "KRW"),
    ("DEMO-FJD", "Fjord Development Directorate", "donor_agency", "NOR", "NOK"),
    ("DEMO-DDA", "Danube Aid Office", "donor_agency", "AUT", "EUR"),
    ("DEMO-SCA", "Southern Cross Aid", "donor_agency", "AUS", "AUD"),
    ("DEMO-USA", "Liberty Development Agency", "donor_agency", "USA", "USD"),
    ("DEMO-WDB", "World Digital Bank", "multilateral", None, "USD"),
    ("DEMO-ITF", "International Telecommunication Facility", "multilateral", None, "USD"),
    ("DEMO-UDP", "United Development Programme", "multilateral", None, "USD"),
    ("DEMO-EDF", "European Digital Facility", "multilateral", None, "EUR"),
    ("DEMO-GEF", "Global Education Fund", "multilateral", None, "USD"),
    ("DEMO-IFC", "Investment Finance Corporation", "multilateral", None, "USD"),
    ("DEMO-AFB", "African Digital Development Bank", "regional_bank", "CIV", "USD"),
    ("DEMO-ASB", "Asian Infrastructure Bank", "regional_bank", "PHL", "USD"),
    ("DEMO-IAB", "Inter-American Connectivity Bank", "regional_bank", "USA", "USD"),
    ("DEMO-CDB", "Caribbean Development Fund Bank", "regional_bank", "BRB", "USD"),
    ("DEMO-DSF", "Digital Solidarity Fund", "fund", "CHE", "EUR"),
    ("DEMO-PIF", "Pacific Islands Connectivity Fund", "fund", "FJI", "AUD"),
    ("DEMO-ARF", "Arab Regional ICT Fund", "fund", "KWT", "USD"),
    ("DEMO-GTF", "Global Broadband Trust Fund", "fund", None, "USD"),
    ("DEMO-SSC", "South-South Digital Cooperation Fund", "fund", "BRA", "USD"),
    ("DEMO-GOV-NPL", "Ministry of Communication and Information Technology (Nepal)", "government", "NPL", "NPR"),
    ("DEMO-GOV-KEN", "Ministry of ICT and Digital Economy (Kenya)", "government", "KEN", "KES"),
    ("DEMO-GOV-HTI", "Ministry of Public Works and Communications (Haiti)", "government", "HTI", "HTG"),
    ("DEMO-GOV-BOL", "Ministry of Public Works and Telecommunications (Bolivia)", "government", "BOL", "BOB"),
    ("DEMO-GOV-SEN", "Ministry of Communication and Digital Economy (Senegal)", "government", "SEN", "XOF"),
    ("DEMO-GOV-VUT", "Office of the Government CIO (Vanuatu)", "government", "VUT", "VUV"),
    ("DEMO-GOV-KHM", "Ministry of Posts and Telecommunications (Cambodia)", "government", "KHM", "KHR"),
    ("DEMO-USF-GHA", "Ghana Investment Fund for Electronic Communications", "government", "GHA", "GHS"),
    ("DEMO-NGO-OPN", "Open Networks Initiative", "ngo", "NLD", "EUR"),
    ("DEMO-NGO-CMN", "Community Mesh Networks", "ngo", "ZAF", "ZAR"),
    ("DEMO-NGO-DLA", "Digital Literacy Alliance", "ngo", "IND", "INR"),
    ("DEMO-PRV-SAT", "Equatorial Satellite Operators", "private", "LUX", "EUR"),
    ("DEMO-PRV-FIB", "Continental Fibre Holdings", "private", "MUS", "USD"),
    ("DEMO-IMP-TEL", "TeleImplement Consulting", "implementer", "DNK", "DKK"),
]

# ref, name, kind, managing org, instruments, eligibility, areas, min, max, currency, window
SOURCES: list[dict] = [
    {
        "ref": "DEMO-FS-NCA-ODA",
        "name": "Nordic bilateral ICT programme",
        "kind": "bilateral_oda",
        "org": "DEMO-NCA",
        "instruments": ["grant", "technical_assistance"],
        "categories": ["LDC"],
        "areas": ["23a", "23f", "23j"],
        "min": "500000",
        "max": "20000000",
        "cur": "SEK",
    },
    {
        "ref": "DEMO-FS-ADA-ODA",
        "name": "Alpine e-governance grants",
        "kind": "bilateral_oda",
        "org": "DEMO-ADA",
        "instruments": ["grant"],
        "areas": ["23j", "23k", "23l"],
        "min": "200000",
        "max": "5000000",
        "cur": "CHF",
    },
    {
        "ref": "DEMO-FS-BDC-ODA",
        "name": "Britannic Digital Access Programme",
        "kind": "bilateral_oda",
        "org": "DEMO-BDC",
        "instruments": ["grant", "technical_assistance"],
        "regions": ["202", "034"],
        "areas": ["23b", "23d", "23f"],
        "min": "1000000",
        "max": "30000000",
        "cur": "GBP",
    },
    {
        "ref": "DEMO-FS-RDA-ODA",
        "name": "Rhine digital transformation partnership",
        "kind": "bilateral_oda",
        "org": "DEMO-RDA",
        "instruments": ["grant", "concessional_loan", "technical_assistance"],
        "areas": ["23a", "23c", "23d", "23h"],
        "min": "1000000",
        "max": "50000000",
        "cur": "EUR",
    },
    {
        "ref": "DEMO-FS-SEA-ODA",
        "name": "Francophone digital skills facility",
        "kind": "bilateral_oda",
        "org": "DEMO-SEA",
        "instruments": ["grant", "concessional_loan"],
        "regions": ["002"],
        "areas": ["23a", "23f", "23i"],
        "min": "300000",
        "max": "15000000",
        "cur": "EUR",
    },
    {
        "ref": "DEMO-FS-RSI-ODA",
        "name": "Rising Sun ICT infrastructure loans",
        "kind": "bilateral_oda",
        "org": "DEMO-RSI",
        "instruments": ["concessional_loan", "technical_assistance"],
        "regions": ["142", "009"],
        "areas": ["23b", "23c", "23d"],
        "min": "100000000",
        "max": "10000000000",
        "cur": "JPY",
    },
    {
        "ref": "DEMO-FS-USA-ODA",
        "name": "Liberty digital connectivity initiative",
        "kind": "bilateral_oda",
        "org": "DEMO-USA",
        "instruments": ["grant", "guarantee"],
        "areas": ["23b", "23d", "23h"],
        "min": "1000000",
        "max": "40000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-WDB-IDA",
        "name": "World Digital Bank concessional window",
        "kind": "multilateral",
        "org": "DEMO-WDB",
        "instruments": ["concessional_loan", "grant"],
        "categories": ["LDC", "HIPC"],
        "areas": ["23b", "23c", "23d", "23j"],
        "min": "5000000",
        "max": "250000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-WDB-IBRD",
        "name": "World Digital Bank lending",
        "kind": "multilateral",
        "org": "DEMO-WDB",
        "instruments": ["non_concessional_loan", "guarantee"],
        "areas": ["23c", "23d", "23g"],
        "min": "20000000",
        "max": "500000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-ITF-TA",
        "name": "Telecommunication regulatory assistance",
        "kind": "multilateral",
        "org": "DEMO-ITF",
        "instruments": ["technical_assistance", "grant"],
        "areas": ["23a", "23j"],
        "min": "50000",
        "max": "2000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-UDP-TF",
        "name": "Digital inclusion multi-partner trust fund",
        "kind": "trust_fund",
        "org": "DEMO-UDP",
        "instruments": ["grant"],
        "categories": ["LDC", "SIDS", "LLDC"],
        "areas": ["23e", "23f", "23l"],
        "min": "250000",
        "max": "10000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-EDF-GW",
        "name": "European Digital Gateway",
        "kind": "multilateral",
        "org": "DEMO-EDF",
        "instruments": ["grant", "concessional_loan", "guarantee"],
        "regions": ["002", "019", "142"],
        "areas": ["23c", "23d", "23g"],
        "min": "5000000",
        "max": "100000000",
        "cur": "EUR",
    },
    {
        "ref": "DEMO-FS-GEF-ED",
        "name": "Connected schools challenge",
        "kind": "multilateral",
        "org": "DEMO-GEF",
        "instruments": ["grant"],
        "areas": ["23f", "23l", "23a"],
        "min": "100000",
        "max": "5000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-IFC-EQ",
        "name": "Digital infrastructure equity facility",
        "kind": "private",
        "org": "DEMO-IFC",
        "instruments": ["equity", "non_concessional_loan"],
        "areas": ["23c", "23d", "23h", "23i"],
        "min": "10000000",
        "max": "150000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-AFB-ADF",
        "name": "African Digital Development Fund",
        "kind": "regional_fund",
        "org": "DEMO-AFB",
        "instruments": ["grant", "concessional_loan"],
        "regions": ["002"],
        "areas": ["23b", "23c", "23d", "23g"],
        "min": "2000000",
        "max": "80000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-AFB-SME",
        "name": "African tech SME window",
        "kind": "regional_fund",
        "org": "DEMO-AFB",
        "instruments": ["concessional_loan", "equity", "guarantee"],
        "regions": ["002"],
        "areas": ["23h", "23i"],
        "min": "100000",
        "max": "5000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-ASB-CON",
        "name": "Asian connectivity facility",
        "kind": "regional_fund",
        "org": "DEMO-ASB",
        "instruments": ["concessional_loan", "non_concessional_loan", "technical_assistance"],
        "regions": ["142"],
        "areas": ["23b", "23c", "23d"],
        "min": "5000000",
        "max": "200000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-IAB-DIG",
        "name": "Americas digital agenda fund",
        "kind": "regional_fund",
        "org": "DEMO-IAB",
        "instruments": ["grant", "concessional_loan", "technical_assistance"],
        "regions": ["419"],
        "areas": ["23f", "23j", "23k"],
        "min": "500000",
        "max": "30000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-CDB-RES",
        "name": "Caribbean resilient networks fund",
        "kind": "regional_fund",
        "org": "DEMO-CDB",
        "instruments": ["grant", "concessional_loan"],
        "regions": ["029"],
        "categories": ["SIDS"],
        "areas": ["23b", "23g"],
        "min": "250000",
        "max": "15000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-ARF-ICT",
        "name": "Arab regional ICT development fund",
        "kind": "regional_fund",
        "org": "DEMO-ARF",
        "instruments": ["concessional_loan", "grant"],
        "regions": ["015", "145"],
        "areas": ["23c", "23d", "23f"],
        "min": "1000000",
        "max": "50000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-PIF-CAB",
        "name": "Pacific submarine cable fund",
        "kind": "regional_fund",
        "org": "DEMO-PIF",
        "instruments": ["grant", "guarantee"],
        "regions": ["009"],
        "categories": ["SIDS"],
        "areas": ["23b", "23c"],
        "min": "1000000",
        "max": "60000000",
        "cur": "AUD",
    },
    {
        "ref": "DEMO-FS-DSF-LOC",
        "name": "Digital Solidarity Fund: local digital needs",
        "kind": "digital_solidarity_fund",
        "org": "DEMO-DSF",
        "instruments": ["grant"],
        "categories": ["LDC", "LLDC", "SIDS"],
        "areas": ["23l", "23b", "23f", "23a"],
        "min": "20000",
        "max": "1000000",
        "cur": "EUR",
    },
    {
        "ref": "DEMO-FS-DSF-CIT",
        "name": "Digital Solidarity Fund: cities and local authorities",
        "kind": "digital_solidarity_fund",
        "org": "DEMO-DSF",
        "instruments": ["grant", "technical_assistance"],
        "areas": ["23l", "23k"],
        "min": "10000",
        "max": "500000",
        "cur": "EUR",
        "until": "2015-12-31",
    },
    {
        "ref": "DEMO-FS-DSF-SOL",
        "name": "Digital Solidarity Fund: one per cent solidarity levy",
        "kind": "digital_solidarity_fund",
        "org": "DEMO-DSF",
        "instruments": ["grant", "in_kind"],
        "categories": ["LDC"],
        "areas": ["23b", "23e", "23l"],
        "min": "50000",
        "max": "2000000",
        "cur": "EUR",
    },
    {
        "ref": "DEMO-FS-USF-GHA",
        "name": "Ghana universal access fund",
        "kind": "universal_service_fund",
        "org": "DEMO-USF-GHA",
        "instruments": ["grant", "in_kind"],
        "countries": ["GHA"],
        "areas": ["23b", "23l"],
        "min": "10000",
        "max": "3000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-USF-KEN",
        "name": "Kenya universal service fund",
        "kind": "universal_service_fund",
        "org": "DEMO-GOV-KEN",
        "instruments": ["grant"],
        "countries": ["KEN"],
        "areas": ["23b", "23f", "23l"],
        "min": "20000",
        "max": "2000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-USF-NPL",
        "name": "Nepal rural telecommunications fund",
        "kind": "universal_service_fund",
        "org": "DEMO-GOV-NPL",
        "instruments": ["grant", "in_kind"],
        "countries": ["NPL"],
        "areas": ["23b", "23d"],
        "min": "10000",
        "max": "5000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-PRV-SAT",
        "name": "Satellite capacity for schools",
        "kind": "private",
        "org": "DEMO-PRV-SAT",
        "instruments": ["in_kind", "equity"],
        "areas": ["23b", "23f"],
        "min": "50000",
        "max": "4000000",
        "cur": "EUR",
    },
    {
        "ref": "DEMO-FS-PRV-FIB",
        "name": "Continental fibre co-investment",
        "kind": "private",
        "org": "DEMO-PRV-FIB",
        "instruments": ["equity", "non_concessional_loan"],
        "regions": ["202"],
        "areas": ["23c", "23d"],
        "min": "5000000",
        "max": "120000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-SSC-BRA",
        "name": "South-South digital government exchange",
        "kind": "south_south",
        "org": "DEMO-SSC",
        "instruments": ["technical_assistance", "grant"],
        "areas": ["23j", "23k", "23a"],
        "min": "50000",
        "max": "3000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-SSC-IND",
        "name": "South-South ICT training partnership",
        "kind": "south_south",
        "org": "DEMO-NGO-DLA",
        "instruments": ["technical_assistance", "in_kind"],
        "areas": ["23a", "23i"],
        "min": "10000",
        "max": "1000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-DS-SWAP",
        "name": "Debt-for-digital swap programme",
        "kind": "debt_swap",
        "org": "DEMO-RDA",
        "instruments": ["debt_swap"],
        "categories": ["HIPC"],
        "areas": ["23b", "23d", "23g"],
        "min": "5000000",
        "max": "100000000",
        "cur": "EUR",
    },
    {
        "ref": "DEMO-FS-DS-NOR",
        "name": "Nordic debt conversion for connectivity",
        "kind": "debt_swap",
        "org": "DEMO-FJD",
        "instruments": ["debt_swap", "grant"],
        "categories": ["LDC"],
        "areas": ["23b", "23l"],
        "min": "10000000",
        "max": "300000000",
        "cur": "NOK",
        "from": "2018-01-01",
    },
    {
        "ref": "DEMO-FS-GTF-BB",
        "name": "Global broadband trust fund",
        "kind": "trust_fund",
        "org": "DEMO-GTF",
        "instruments": ["grant", "guarantee"],
        "areas": ["23d", "23e", "23g"],
        "min": "1000000",
        "max": "25000000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-GTF-SEED",
        "name": "ICT entrepreneurship seed capital",
        "kind": "trust_fund",
        "org": "DEMO-GTF",
        "instruments": ["equity", "grant"],
        "areas": ["23h", "23i"],
        "min": "25000",
        "max": "500000",
        "cur": "USD",
    },
    {
        "ref": "DEMO-FS-NGO-OPN",
        "name": "Open community networks grants",
        "kind": "other",
        "org": "DEMO-NGO-OPN",
        "instruments": ["grant", "in_kind"],
        "areas": ["23l", "23b"],
        "min": "5000",
        "max": "250000",
        "cur": "EUR",
    },
    {
        "ref": "DEMO-FS-MCF",
        "name": "Microfinance for rural telecentres",
        "kind": "other",
        "org": "DEMO-NGO-CMN",
        "instruments": ["concessional_loan"],
        "regions": ["202"],
        "areas": ["23h", "23l"],
        "min": "1000",
        "max": "100000",
        "cur": "USD",
    },
]

TITLES = {
    "23a": ["Regulator training programme", "Public-sector digital skills academy", "ICT teacher training"],
    "23b": ["Rural connectivity extension", "Last-mile wireless for remote districts", "Island connectivity"],
    "23c": ["Regional backbone link", "National Internet exchange point", "Cross-border fibre corridor"],
    "23d": ["Affordable broadband capacity", "Broadband capacity upgrade", "Wholesale open-access network"],
    "23e": ["Coordinated donor ICT programme", "Joint connectivity financing platform"],
    "23f": ["Telemedicine network", "Digital agriculture advisory", "E-learning content for schools"],
    "23g": ["ICT infrastructure maintenance fund", "Sustainable operation of community telecentres"],
    "23h": ["Digital SME finance window", "Micro-enterprise e-commerce support"],
    "23i": ["Local software industry development", "Local device assembly pilot"],
    "23j": ["Telecom regulatory reform", "Data protection law support", "Spectrum management reform"],
    "23k": ["E-government process redesign", "Digital transformation unit"],
    "23l": ["Municipal digital services", "Community multimedia centres", "Local e-health kiosks"],
}
ACTION_LINES = {
    "23a": "C4",
    "23b": "C2",
    "23c": "C2",
    "23d": "C2",
    "23e": "C11",
    "23f": "C7",
    "23g": "C2",
    "23h": "C7",
    "23i": "C7",
    "23j": "C6",
    "23k": "C1",
    "23l": "C3",
}
PURPOSE = {
    "23a": "22040",
    "23b": "22020",
    "23c": "22020",
    "23d": "22020",
    "23e": "22040",
    "23f": "22040",
    "23g": "22020",
    "23h": "22040",
    "23i": "22040",
    "23j": "22010",
    "23k": "22010",
    "23l": "22030",
}
REGIONAL_RECIPIENTS = ["202", "419", "009", "142"]


@dataclass
class SeedResult:
    created: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    accounts: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n
        self.created += n

    def summary(self) -> str:
        return ", ".join(f"{n} {what}" for what, n in self.counts.items())


def _recipient_countries(rng: random.Random) -> list[str]:
    """About 90 DAC recipients spread over every region (deterministic)."""
    rows = db.session.execute(
        select(Country.iso3, Country.region_code).where(Country.dac_recipient.is_(True)).order_by(Country.iso3)
    ).all()
    by_region: dict[str, list[str]] = {}
    for iso3, region in rows:
        by_region.setdefault(region or "", []).append(iso3)
    chosen: list[str] = []
    quota = {"002": 36, "142": 26, "019": 16, "009": 8, "150": 6}
    for region, n in quota.items():
        pool = by_region.get(region, [])
        chosen.extend(rng.sample(pool, min(n, len(pool))))
    return sorted(chosen)


def _money(rng: random.Random, low: int, high: int, currency: str) -> Decimal:
    """A round-ish amount between low and high USD equivalents, in the given currency."""
    scale = {
        "JPY": 150,
        "KRW": 1300,
        "SEK": 10,
        "NOK": 10,
        "DKK": 7,
        "XOF": 600,
        "VUV": 120,
        "KHR": 4100,
        "NPR": 130,
        "KES": 130,
        "HTG": 130,
        "BOB": 7,
        "GHS": 12,
        "INR": 80,
        "ZAR": 17,
    }.get(currency, 1)
    value = rng.randint(low, high) * scale
    return Decimal(value - value % 1000)


def seed_demo(progress: Callable[[str, int], None] | None = None) -> SeedResult:
    """Create the demo data set; records that already exist are left unchanged."""
    rng = random.Random(SEED_NUMBER)
    result = SeedResult()
    report = progress or (lambda label, n: None)

    orgs: dict[str, Organisation] = {}
    org_currency: dict[str, str] = {}
    for ref, name, kind, country, currency in ORGANISATIONS:
        org_currency[ref] = currency
        org = organisations.find_organisation(ref)
        if org is None:
            org = organisations.create_organisation(
                SEED,
                {
                    "ref": ref,
                    "name": name,
                    "kind": kind,
                    "country_iso3": country,
                    "description": "Demonstration organisation (invented).",
                },
                demo=True,
            )
            result.add("organisations")
        orgs[ref] = org
    report("organisations", len(orgs))

    sources: dict[str, FundingSource] = {}
    for spec in SOURCES:
        source = funding.find_funding_source(spec["ref"])
        if source is None:
            source = funding.create_funding_source(
                SEED,
                {
                    "ref": spec["ref"],
                    "name": spec["name"],
                    "kind": spec["kind"],
                    "managing_org_id": orgs[spec["org"]].id,
                    "instruments": spec["instruments"],
                    "countries": spec.get("countries", []),
                    "regions": spec.get("regions", []),
                    "categories": spec.get("categories", []),
                    "areas": spec["areas"],
                    "min_amount": spec["min"],
                    "max_amount": spec["max"],
                    "amount_currency": spec["cur"],
                    "window_from": dt.date.fromisoformat(spec["from"]) if "from" in spec else None,
                    "window_until": dt.date.fromisoformat(spec["until"]) if "until" in spec else None,
                    "description": "Demonstration funding source (invented rules and amounts).",
                },
                demo=True,
            )
            result.add("funding sources")
        sources[spec["ref"]] = source
    report("funding sources", len(sources))

    countries = _recipient_countries(rng)
    areas = [a.code for a in db.session.scalars(select(PriorityArea).order_by(PriorityArea.code))]
    funders = [
        ref for ref, _, kind, _, _ in ORGANISATIONS if kind in {"donor_agency", "multilateral", "regional_bank", "fund"}
    ]
    sources_by_org: dict[str, list[FundingSource]] = {}
    for spec in SOURCES:
        sources_by_org.setdefault(spec["org"], []).append(sources[spec["ref"]])
    governments = [ref for ref, _, kind, _, _ in ORGANISATIONS if kind == "government"]

    created_projects = 0
    for number in range(1, 401):
        pipeline = number % 12 == 0
        org_ref = rng.choice(governments) if pipeline else funders[number % len(funders)]
        org = orgs[org_ref]
        reference = f"DEMO-{number:04d}"
        n_areas = rng.choice([1, 1, 2, 2, 3])
        chosen_areas = rng.sample(areas, n_areas) if number > 12 else [areas[number - 1]]
        if pipeline and org.country_iso3:
            recipients = [{"country": org.country_iso3}]
        elif number % 37 == 0:
            recipients = [{"region": rng.choice(REGIONAL_RECIPIENTS)}]
        elif number % 53 == 0:
            recipients = []  # global programme
        else:
            k = rng.choice([1, 1, 1, 2, 3])
            recipients = [{"country": c} for c in rng.sample(countries, k)]
        start_year = rng.randint(2026, 2027) if pipeline else rng.randint(2005, 2023)
        start = dt.date(start_year, rng.randint(1, 12), 1)
        end = dt.date(start_year + rng.randint(2, 5), start.month, 1)
        status = (
            "pipeline"
            if pipeline
            else ("completed" if end.year < 2025 else rng.choice(["active", "active", "suspended"]))
        )
        if number % 97 == 0 and not pipeline:
            status = "cancelled"
        currency = org_currency[org_ref]
        need = _money(rng, 300_000, 40_000_000, "USD" if pipeline else currency)
        area0 = chosen_areas[0]
        shares_areas = _split(rng, len(chosen_areas))
        shares_recipients = _split(rng, len(recipients))
        data = {
            "reference": reference,
            "title": f"{rng.choice(TITLES[area0])} ({number})",
            "description": "Demonstration project: invented for trying the registry.",
            "status": status,
            "planned_start": start,
            "planned_end": end,
            "actual_start": start if status in {"active", "completed", "suspended"} else None,
            "actual_end": end if status == "completed" else None,
            "need": {"amount": need, "currency": "USD" if pipeline else currency},
            "recipients": [dict(r, share=s) for r, s in zip(recipients, shares_recipients, strict=True)],
            "areas": [{"code": a, "share": s} for a, s in zip(chosen_areas, shares_areas, strict=True)],
            "sectors": sorted({PURPOSE[a] for a in chosen_areas}),
            "wsis_action_lines": sorted({ACTION_LINES[a] for a in chosen_areas}),
        }
        if pipeline:
            data["instrument_sought"] = rng.choice(["grant", "concessional_loan", "technical_assistance"])
            data["contact_name"] = "Demo contact"
            data["contact_email"] = f"pipeline{number}@demo.invalid"
        project = find_project(org.id, reference)
        if project is not None:
            # Consume the same random draws as a fresh run would, so numbering stays stable.
            _transactions(rng, None, org_ref, sources_by_org, sources, currency, need, start, status)
            continue
        project = projects.create_project(SEED, org, data, demo=True)
        created_projects += 1
        _transactions(rng, project, org_ref, sources_by_org, sources, currency, need, start, status)
        if number % 50 == 0:
            report("projects", number)
    if created_projects:
        result.add("projects", created_projects)

    result.accounts = _demo_accounts(orgs, result)
    return result


def _split(rng: random.Random, n: int) -> list[Decimal]:
    if n == 0:
        return []
    if n == 1:
        return [Decimal(100)]
    cuts = sorted(rng.sample(range(10, 90, 5), n - 1))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    return [Decimal(p) for p in parts]


def _transactions(rng, project, org_ref, sources_by_org, sources, currency, need, start, status) -> None:
    """Pledges, commitments and disbursements for a project (none for pipeline ones)."""
    if status == "pipeline":
        return
    own = sources_by_org.get(org_ref) or [sources[rng.choice(sorted(sources))]]
    source = rng.choice(own)
    coverage = Decimal(rng.choice([40, 60, 75, 90, 100, 100, 110])) / 100
    committed = (need * coverage).quantize(Decimal(1000))
    plan = []
    if rng.random() < 0.35:
        plan.append(("pledge", committed, dt.date(max(start.year - 1, 2005), rng.randint(1, 12), rng.randint(1, 28))))
    first = (committed * Decimal(rng.choice([50, 60, 100, 100])) / 100).quantize(Decimal(1000))
    plan.append(("commitment", first, dt.date(start.year, start.month, rng.randint(1, 28))))
    if first < committed:
        year = min(start.year + 1, 2025)
        plan.append(("commitment", committed - first, dt.date(year, rng.randint(1, 12), rng.randint(1, 28))))
    paid_share = {"completed": 100, "active": rng.choice([20, 40, 60, 80]), "suspended": 30, "cancelled": 10}[status]
    to_pay = (committed * paid_share / 100).quantize(Decimal(1000))
    years = max(1, min(2025, start.year + 4) - start.year + 1)
    for i in range(years):
        part = (
            (to_pay / years).quantize(Decimal(1000))
            if i < years - 1
            else to_pay - (to_pay / years).quantize(Decimal(1000)) * (years - 1)
        )
        if part <= 0:
            continue
        day = dt.date(min(start.year + i, 2025), rng.randint(1, 12), rng.randint(1, 28))
        plan.append(("disbursement", part, day))
    flow = "10"
    finance = "110" if "grant" in source.instruments else "421"
    if project is None:
        return
    for kind, amount, day in plan:
        projects.add_transaction(
            SEED,
            project,
            {
                "type": kind,
                "amount": amount,
                "currency": currency,
                "value_date": day,
                "funding_source_id": source.id,
                "provider_org_id": project.org_id,
                "flow_type": flow,
                "finance_type": finance,
                "description": "",
            },
        )


def _demo_accounts(orgs: dict[str, Organisation], result: SeedResult) -> list[tuple[str, str, str]]:
    """One account per role, labelled demo, all with the same published password."""
    wanted = [
        ("admin@demo.invalid", "admin", None, None, "Demo administrator"),
        ("donor@demo.invalid", "donor", "DEMO-NCA", None, "Demo donor editor (Nordic Connectivity Agency)"),
        ("government@demo.invalid", "government", "DEMO-GOV-NPL", "NPL", "Demo government user (Nepal)"),
        ("analyst@demo.invalid", "analyst", None, None, "Demo analyst"),
    ]
    out = []
    for email, role, org_ref, country, name in wanted:
        if accounts.find_user(email) is None:
            accounts.create_user(
                SEED,
                email,
                role,
                password=DEMO_PASSWORD,
                org=orgs.get(org_ref) if org_ref else None,
                country_iso3=country,
                name=name,
                demo=True,
            )
            result.add("accounts")
        out.append((email, role, DEMO_PASSWORD))
    return out
