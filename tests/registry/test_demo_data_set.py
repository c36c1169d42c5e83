"""The demo data set is data (registry/data/demo.json), and `seed demo` writes the same
database it always wrote.

The figures below were read from a seeded database when the data set was still written
as Python literals; every record the seed writes (organisations, funding sources and
their rules, projects with their recipients, areas and sectors, flows, accounts) goes
into the digest, so a change to the data file or to the code that reads it shows here.
Converted USD amounts are left out: they follow the exchange rates, not the data set.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import func, select

from registry.extensions import db
from registry.models import FundingSource, Organisation, Project, Transaction, User

EXPECTED_COUNTS = {"organisations": 41, "funding sources": 37, "projects": 400, "flows": 2469, "accounts": 4}
# Sum of amount_minor by currency and flow type.
EXPECTED_AMOUNTS = {
    "AUD commitment": 59707950000,
    "AUD disbursement": 53851362000,
    "AUD pledge": 22466145000,
    "CAD commitment": 21653960000,
    "CAD disbursement": 16719595000,
    "CAD pledge": 6752910000,
    "CHF commitment": 21901035000,
    "CHF disbursement": 18945535000,
    "CHF pledge": 13670345000,
    "EUR commitment": 107672300000,
    "EUR disbursement": 95935535000,
    "EUR pledge": 37766630000,
    "GBP commitment": 23726385000,
    "GBP disbursement": 23358987000,
    "GBP pledge": 15027530000,
    "JPY commitment": 22863345150,
    "JPY disbursement": 20814962790,
    "JPY pledge": 5512691400,
    "KRW commitment": 253804464150,
    "KRW disbursement": 251004399600,
    "KRW pledge": 124512617750,
    "NOK commitment": 192849080000,
    "NOK disbursement": 178868696000,
    "NOK pledge": 64961860000,
    "SEK commitment": 212696300000,
    "SEK disbursement": 189334754000,
    "SEK pledge": 55529075000,
    "USD commitment": 316751725000,
    "USD disbursement": 278511269500,
    "USD pledge": 141628690000,
}
# The seed draws recipients from the countries on the DAC list: the digest changes when that
# list does (Kosovo and the dated former recipients came in with it), the counts and amounts not.
EXPECTED_DIGEST = "9b822900f4c12dbc9981f92eb337627d4d8afcbdfc7a69ad281120de4c8af4e9"


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _canonical_rows() -> list[list]:
    rows: list[list] = []
    for org in db.session.scalars(select(Organisation).order_by(Organisation.ref)):
        rows.append(["org", org.ref, org.name, org.kind.value, org.country_iso3, org.description, org.demo])
    for s in db.session.scalars(select(FundingSource).order_by(FundingSource.ref)):
        rows.append(
            [
                "source",
                s.ref,
                s.name,
                s.kind.value,
                s.managing_org.ref,
                sorted(r.instrument.value for r in s.instrument_rows),
                [c.iso3 for c in s.countries],
                [r.code for r in s.regions],
                sorted(c.code for c in s.categories),
                [a.code for a in s.areas],
                s.min_amount_minor,
                s.max_amount_minor,
                s.amount_currency,
                str(s.window_from),
                str(s.window_until),
                s.description,
                s.demo,
            ]
        )
    for p in db.session.scalars(select(Project).order_by(Project.reference)):
        rows.append(
            [
                "project",
                p.org.ref,
                p.reference,
                p.title,
                p.description,
                p.status.value,
                str(p.planned_start),
                str(p.planned_end),
                str(p.actual_start),
                str(p.actual_end),
                p.need_minor,
                p.need_currency,
                sorted([r.country_iso3 or "", r.region_code or "", r.share_ppm] for r in p.recipients),
                sorted([a.area_code, a.share_ppm] for a in p.areas),
                sorted([s.code, s.share_ppm] for s in p.sectors),
                p.wsis_action_lines,
                p.instrument_sought.value if p.instrument_sought else None,
                p.contact_name,
                p.contact_email,
                p.demo,
            ]
        )
    flows = db.session.scalars(select(Transaction).join(Project).order_by(Project.reference, Transaction.id))
    for t in flows:
        rows.append(
            [
                "flow",
                t.project.reference,
                t.type.value,
                t.amount_minor,
                t.currency,
                str(t.value_date),
                t.funding_source.ref if t.funding_source else None,
                t.provider_org.ref if t.provider_org else None,
                t.flow_type,
                t.finance_type,
                t.description,
            ]
        )
    for u in db.session.scalars(select(User).order_by(User.email)):
        rows.append(["user", u.email, u.name, u.role.value, u.org.ref if u.org else None, u.country_iso3, u.demo])
    return rows


def _digest() -> str:
    text = json.dumps(_canonical_rows(), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _amounts() -> dict[str, int]:
    rows = db.session.execute(
        select(Transaction.currency, Transaction.type, func.sum(Transaction.amount_minor)).group_by(
            Transaction.currency, Transaction.type
        )
    ).all()
    return {f"{currency} {kind.value}": int(total) for currency, kind, total in rows}


def test_seed_demo_writes_the_same_database_as_before(runner):
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    counts = {
        "organisations": _count(Organisation),
        "funding sources": _count(FundingSource),
        "projects": _count(Project),
        "flows": _count(Transaction),
        "accounts": _count(User),
    }
    assert counts == EXPECTED_COUNTS
    assert _amounts() == EXPECTED_AMOUNTS
    assert _digest() == EXPECTED_DIGEST


def test_the_demo_shows_every_direction_and_a_direction_set_by_hand(runner):
    from reports.flows import build_spec, run_report

    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    triangular = _count_where(Project.collaboration_type == "8")
    by_hand = list(db.session.scalars(select(Project).where(Project.direction_override.is_not(None))))
    # every 19th non-pipeline project is triangular by its collaboration type, every 29th (not
    # also a 19th) set by hand, each with its reason
    assert triangular >= 5 and len(by_hand) >= 5
    assert all(p.direction_override == "south_south" and p.direction_reason for p in by_hand)
    rows = {r["direction"] for r in run_report(build_spec(by="direction", measures="commitment")).rows}
    assert {"north_south", "south_south", "triangular", "multilateral"} <= rows


def _count_where(condition) -> int:
    return db.session.scalar(select(func.count()).select_from(Project).where(condition))
