"""A deterministic demonstration data set, every record flagged ``demo``.

The names are invented; the structure is realistic: donors of every kind, funding
sources of every kind (the Digital Solidarity Fund and regional funds among them),
400 projects over more than 70 countries in every region and all twelve priority
areas, with pledges, commitments and disbursements in several currencies from 2005
to 2025, and pipeline projects that state a need and have no funding yet. The projects with
disbursements in 2024 or 2025 have planned disbursements for those years (so that their
predictability shows), and one active or suspended project in three a forward plan of the
next three years with a committed budget.
Running it twice changes nothing: every record is found by its natural key first.

The data set itself (organisations, funding sources and their rules, project titles,
the codes each priority area carries, the demo accounts) is data: registry/data/demo.json.
This module draws the projects and their flows from it with a fixed random seed.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources

from sqlalchemy import select

from registry.extensions import db
from registry.models import Country, FundingSource, Organisation, PriorityArea
from registry.services import accounts, funding, organisations, plans, projects
from registry.services.actor import SEED
from registry.services.projects import find_project

SEED_NUMBER = 2005
DEMO_PASSWORD = "demo-password"


def _load_data_set() -> dict:
    """The demo data set as shipped in registry/data/demo.json (see SOURCES.md there)."""
    text = resources.files("registry").joinpath("data", "demo.json").read_text(encoding="utf-8")
    return json.loads(text)


DATA = _load_data_set()
# ref, name, kind, country, currency used for its flows
ORGANISATIONS: list[tuple[str, str, str, str | None, str]] = [
    (o["ref"], o["name"], o["kind"], o["country"], o["currency"]) for o in DATA["organisations"]
]
# ref, name, kind, managing org, instruments, eligibility, areas, min, max, currency, window
SOURCES: list[dict] = DATA["funding_sources"]
TITLES: dict[str, list[str]] = DATA["titles"]  # priority area -> titles to draw from
ACTION_LINES: dict[str, str] = DATA["action_lines"]  # priority area -> WSIS action line
PURPOSE: dict[str, str] = DATA["purpose_codes"]  # priority area -> DAC purpose code
REGIONAL_RECIPIENTS: list[str] = DATA["regional_recipients"]
USD_SCALE: dict[str, int] = DATA["usd_scale"]  # rough units of a currency per US dollar
ACCOUNTS: list[dict] = DATA["accounts"]


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
    scale = USD_SCALE.get(currency, 1)
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
        if not pipeline:
            # Tied status by the project's number (no random draw: the numbering stays stable):
            # mostly untied, some partially tied or tied, one in ten unknown.
            data["default_tied_status"] = DEMO_TIED_STATUS[number % len(DEMO_TIED_STATUS)]
            # A few triangular activities (IATI CollaborationType 8) and a few directions set by
            # hand with their reason, so that every direction and the override show.
            if number % 19 == 0:
                data["collaboration_type"] = "8"
            elif number % 29 == 0:
                data["direction_override"] = "south_south"
                data["direction_reason"] = DEMO_DIRECTION_REASON
        data.update(_cross_border(chosen_areas, recipients))
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
        if status in {"active", "suspended", "completed"}:
            ahead = number % 3 == 0 and status != "completed"
            if _plans(random.Random(SEED_NUMBER + number), project, currency, ahead):
                result.add("projects with plans")
        if number % 50 == 0:
            report("projects", number)
    if created_projects:
        result.add("projects", created_projects)

    result.accounts = _demo_accounts(orgs, result)
    return result


DEMO_DIRECTION_REASON = (
    "Demonstration: the funds pass through a northern trust fund, but the partner country's own "
    "agency designs and runs the activity with its peers."
)
# IATI TiedStatus codes of the demo projects' flows, by project number (None: unknown).
DEMO_TIED_STATUS = ("5", "5", "5", "5", "5", "3", "3", "4", "5", None)


def _cross_border(chosen_areas: list[str], recipients: list[dict]) -> dict:
    """Scope and infrastructure of the demo's cross-border works, from what the project already
    is (no random draw, so the rest of the data set stays the same): regional backbones over
    several countries, exchange points for a region, cables for broadband over several countries."""
    several = len(recipients) > 1
    regional = len(recipients) == 1 and "region" in recipients[0]
    if chosen_areas[0] == "23c" and several:
        return {"infrastructure": "backbone"}  # the scope is derived: multi-country
    if chosen_areas[0] == "23c" and regional:
        return {"infrastructure": "ixp", "scope": "regional"}
    if chosen_areas[0] == "23d" and several:
        return {"infrastructure": "submarine_cable"}
    return {}


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


PLAN_PAST = (2024, 2025)  # years of flows the plans cover, so that predictability shows
PLAN_AHEAD = 3  # and the next three years


def _plans(rng: random.Random, project, currency: str, ahead: bool) -> bool:
    """Plans drawn apart from the flows (their own random draws: the flows stay as they were):
    planned disbursements of 2024 and 2025 near what was disbursed in those years (so that the
    in-year ratio compares like with like); with ``ahead``, planned disbursements of the next
    three years sharing what is committed and not yet paid, and an original committed budget of
    next year (revised for some). Returns whether the project has any."""
    by_year: dict[int, Decimal] = {}
    committed = paid = Decimal(0)
    for tx in project.transactions:
        if tx.type.value == "disbursement":
            paid += tx.amount
            by_year[tx.value_date.year] = by_year.get(tx.value_date.year, Decimal(0)) + tx.amount
        elif tx.type.value == "commitment":
            committed += tx.amount
    planned = []
    for year in PLAN_PAST:
        if by_year.get(year):
            factor = Decimal(rng.choice([80, 90, 100, 100, 110, 125])) / 100
            planned.append(_year(year, (by_year[year] * factor).quantize(Decimal(1000)), currency))
    first = dt.date.today().year + 1
    unpaid = max(committed - paid, Decimal(0)) or (committed / 4).quantize(Decimal(1000))
    forward = []
    for k in range(PLAN_AHEAD if ahead else 0):
        part = (unpaid * Decimal(rng.choice([25, 30, 35, 40])) / 100).quantize(Decimal(1000))
        if part > 0:
            forward.append(_year(first + k, part, currency))
    planned += forward
    budgets = []
    if forward:
        amount = forward[0]["amount"]
        budgets.append({**_year(first, amount, currency), "kind": "original", "status": "committed"})
        if rng.random() < 0.3:
            revised = (amount * Decimal("1.1")).quantize(Decimal(1000))
            budgets.append({**_year(first, revised, currency), "kind": "revised", "status": "committed"})
    if not planned:
        return False
    plans.set_plans(SEED, project, budgets=budgets, planned=planned, summary="Demo forward plan")
    return True


def _year(year: int, amount: Decimal, currency: str) -> dict:
    return {
        "period_start": dt.date(year, 1, 1),
        "period_end": dt.date(year, 12, 31),
        "amount": amount,
        "currency": currency,
    }


def _demo_accounts(orgs: dict[str, Organisation], result: SeedResult) -> list[tuple[str, str, str]]:
    """One account per role, labelled demo, all with the same published password."""
    out = []
    for account in ACCOUNTS:
        email, role, org_ref = account["email"], account["role"], account["org"]
        if accounts.find_user(email) is None:
            accounts.create_user(
                SEED,
                email,
                role,
                password=DEMO_PASSWORD,
                org=orgs.get(org_ref) if org_ref else None,
                country_iso3=account["country"],
                name=account["name"],
                demo=True,
            )
            result.add("accounts")
        out.append((email, role, DEMO_PASSWORD))
    return out
