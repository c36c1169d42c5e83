"""Reports by direction read the report facts, which keep each flow's direction.

The rule (registry.services.direction) is read here flow by flow over the transactions, on
each flow's own value date, and summed by hand; the facts (one direction per row, derived
from the row's DAC membership period) must give the same sums to the cent, after every kind
of change the direction follows: the provider's country, kind and identifier, the funding
source's kind, the project's override, collaboration type, funding partners and recipients,
a new organisation named as a partner. Written through the ORM, as any writer would: the
database's triggers notice, not the services.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import Organisation, Project, Transaction
from registry.models.funding import FundingSource
from registry.models.project import ProjectRecipient
from registry.models.types import OrganisationKind, SourceKind, TransactionType
from registry.services import direction
from reports import facts
from reports.flow_sums import TxFilter, facts_apply
from reports.flows import build_spec, run_report
from reports.models import ReportDirtyInput, ReportFlowFact

KEN = [{"country": "KEN", "share": Decimal(100)}]


def _by_flow() -> dict[tuple[int, str], int]:
    """USD commitments (minor units) by project and direction, each flow's direction read by
    the rule over the transactions on its own value date."""
    stmt = select(Transaction.project_id, direction.direction_expression(), Transaction.usd_minor).where(
        Transaction.type == TransactionType.COMMITMENT, Transaction.deleted_at.is_(None)
    )
    sums: dict[tuple[int, str], int] = defaultdict(int)
    for pid, value, usd in db.session.execute(stmt):
        sums[(pid, value)] += usd
    return dict(sums)


def _in_facts() -> dict[tuple[int, str], int]:
    f = ReportFlowFact
    stmt = select(f.project_id, f.direction, func.sum(f.commitment)).group_by(f.project_id, f.direction)
    return {(pid, value): int(total) for pid, value, total in db.session.execute(stmt) if total}


def _assert_facts_follow_the_flows() -> None:
    db.session.commit()  # the writer's commit brings the facts up to date
    assert _in_facts() == _by_flow()
    assert db.session.scalar(select(func.count()).select_from(ReportDirtyInput)) == 0


@pytest.fixture
def registry(app, make_org, make_project, make_transaction, make_source):
    """Flows each side of the Republic of Korea's entry into the DAC (2010-01-01) and of
    Portugal's years out of it (1974-1991), Southern providers with partners, a regional one."""
    orgs = {
        "KOR": make_org(ref="KOICA", iati_ref="KR-GOV-010", country_iso3="KOR"),
        "PRT": make_org(ref="CAMOES", iati_ref="PT-1", country_iso3="PRT"),
        "BRA": make_org(ref="ABC", iati_ref="BR-CNPJ-1", country_iso3="BRA"),
        "IND": make_org(ref="ITEC", iati_ref="IN-1", country_iso3="IND"),
        "SWE": make_org(ref="SIDA", iati_ref="SE-0", country_iso3="SWE"),
    }
    source = make_source(kind="bilateral_oda")
    projects = {
        "korea": make_project(recipients=KEN),
        "portugal": make_project(recipients=KEN),
        "partners": make_project(recipients=KEN, funding_partners="10|KR-GOV-010\n10|XX-NEW-1"),
        "brazil": make_project(recipients=[{"country": "SEN", "share": Decimal(100)}]),
    }
    flows = [
        ("korea", "KOR", dt.date(2009, 12, 31), "100.01", None),
        ("korea", "KOR", dt.date(2010, 1, 1), "200.02", None),
        ("portugal", "PRT", dt.date(1973, 12, 31), "300.03", None),
        ("portugal", "PRT", dt.date(1980, 6, 1), "400.04", None),
        ("portugal", "PRT", dt.date(1991, 6, 1), "500.05", None),
        ("partners", "IND", dt.date(2008, 6, 1), "600.06", None),
        ("partners", "IND", dt.date(2012, 6, 1), "700.07", None),
        ("brazil", "BRA", dt.date(2020, 6, 1), "800.08", source.id),
        ("brazil", "SWE", dt.date(2020, 6, 1), "900.09", None),
    ]
    for name, org, day, amount, source_id in flows:
        make_transaction(
            projects[name],
            amount=Decimal(amount),
            value_date=day,
            provider_org_id=orgs[org].id,
            funding_source_id=source_id,
        )
    db.session.commit()
    return orgs, projects, source


def test_the_facts_keep_each_flows_direction(registry):
    orgs, projects, _source = registry
    assert facts_apply(["direction"], TxFilter())  # the report reads the facts, not the flows
    _assert_facts_follow_the_flows()
    # read by hand from the DAC membership dates
    korea, portugal = projects["korea"].id, projects["portugal"].id
    assert _in_facts()[(korea, "south_south")] == 10001
    assert _in_facts()[(korea, "north_south")] == 20002
    assert _in_facts()[(portugal, "north_south")] == 30003 + 50005
    assert _in_facts()[(portugal, "south_south")] == 40004
    # India with Korea as a partner: South-South in 2008, triangular in 2012
    assert _in_facts()[(projects["partners"].id, "triangular")] == 70007
    report = run_report(build_spec(by="direction", measures="commitment"))
    rows = {r["direction"]: r["commitment"] for r in report.rows}
    assert rows == {
        "north_south": Decimal("200.02") + Decimal("300.03") + Decimal("500.05") + Decimal("900.09"),
        "south_south": Decimal("100.01") + Decimal("400.04") + Decimal("600.06") + Decimal("800.08"),
        "triangular": Decimal("700.07"),
    }
    only = run_report(build_spec(by="year", measures="commitment", direction=["triangular"]))
    assert only.total["commitment"] == Decimal("700.07")


def _change_provider_country(orgs, projects, source):
    orgs["BRA"].country_iso3 = "JPN"  # now a DAC member: North-South


def _change_provider_kind(orgs, projects, source):
    orgs["IND"].kind = OrganisationKind.MULTILATERAL


def _change_source_kind(orgs, projects, source):
    db.session.get(FundingSource, source.id).kind = SourceKind.MULTILATERAL


def _set_the_override(orgs, projects, source):
    projects["korea"].direction_override = "triangular"
    projects["korea"].direction_reason = "set by hand"


def _change_collaboration_type(orgs, projects, source):
    projects["portugal"].collaboration_type = "8"


def _change_partners(orgs, projects, source):
    projects["partners"].funding_partners = "10|BR-CNPJ-1"  # a Southern partner only


def _add_a_northern_recipient(orgs, projects, source):
    senegal = db.session.scalars(select(ProjectRecipient).filter_by(project_id=projects["brazil"].id)).one()
    senegal.share_ppm = 500_000
    db.session.add(ProjectRecipient(project_id=projects["brazil"].id, country_iso3="FRA", share_ppm=500_000))


def _create_a_partner(orgs, projects, source):
    # the project named XX-NEW-1 among its partners before the registry knew it
    new = Organisation(ref="NEW", name="New donor", kind=OrganisationKind.DONOR_AGENCY, iati_ref="XX-NEW-1")
    new.country_iso3 = "NOR"  # a DAC member: India's 2008 flow becomes triangular
    db.session.add(new)


def _change_a_partners_country(orgs, projects, source):
    orgs["KOR"].country_iso3 = "BRA"  # no longer a DAC member: no triangle with India


def _change_a_partners_identifier(orgs, projects, source):
    orgs["KOR"].iati_ref = "KR-GOV-999"  # the project's partner names nobody known now


def _delete_the_provider(orgs, projects, source):
    orgs["SWE"].deleted_at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)  # its flows' provider is not there


@pytest.mark.parametrize(
    "change",
    [
        _change_provider_country,
        _change_provider_kind,
        _change_source_kind,
        _set_the_override,
        _change_collaboration_type,
        _change_partners,
        _add_a_northern_recipient,
        _create_a_partner,
        _change_a_partners_country,
        _change_a_partners_identifier,
        _delete_the_provider,
    ],
)
def test_the_facts_follow_what_the_direction_follows(registry, change):
    before = _in_facts()
    change(*registry)
    db.session.flush()
    _assert_facts_follow_the_flows()
    assert _in_facts() != before  # each change moves money between directions


def test_a_deleted_source_says_nothing_any_more(registry):
    orgs, projects, source = registry
    brazil = projects["brazil"].id
    swedish = db.session.scalars(select(Transaction).filter_by(provider_org_id=orgs["SWE"].id)).one()
    swedish.funding_source_id = source.id
    db.session.get(FundingSource, source.id).kind = SourceKind.SOUTH_SOUTH
    _assert_facts_follow_the_flows()
    assert _in_facts()[(brazil, "triangular")] == 90009  # a DAC member funding South-South cooperation
    db.session.get(FundingSource, source.id).deleted_at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    _assert_facts_follow_the_flows()
    assert _in_facts()[(brazil, "north_south")] == 90009


def test_a_new_partner_in_a_later_commit_is_found(registry, make_org):
    orgs, projects, _source = registry
    partners = projects["partners"].id
    assert _in_facts()[(partners, "south_south")] == 60006
    make_org(ref="MULTI", iati_ref="XX-NEW-1", kind="multilateral")  # the partner the project named
    _assert_facts_follow_the_flows()
    assert (partners, "south_south") not in _in_facts()  # 2008: a multilateral partner makes it triangular
    assert _in_facts()[(partners, "triangular")] == 60006 + 70007


def test_a_converted_report_by_direction_equals_flow_by_flow(registry, app):
    app.config["REPORT_CURRENCIES"] = ("EUR",)
    db.session.execute(db.delete(Project).where(Project.id < 0))  # a write: the commit refreshes
    db.session.commit()
    fast = run_report(build_spec(by="direction", measures="commitment", currency="EUR"))
    by_direction = run_report(build_spec(by="year", measures="commitment", currency="EUR", direction=["north_south"]))
    app.config["REPORT_CURRENCIES"] = ()
    facts.forget()
    plain = run_report(build_spec(by="direction", measures="commitment", currency="EUR"))
    plain_filtered = run_report(build_spec(by="year", measures="commitment", currency="EUR", direction=["north_south"]))

    def commitments(report) -> dict:
        return {r.get("direction", r.get("year")): r["commitment"] for r in report.rows}

    assert commitments(fast) == commitments(plain) and len(commitments(fast)) == 3
    assert fast.total["commitment"] == plain.total["commitment"]
    assert commitments(by_direction) == commitments(plain_filtered) and len(commitments(by_direction)) == 2
