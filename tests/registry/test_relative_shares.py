"""Shares kept as a file gives them (IATI percentages that do not add up to 100) are divided by
their sum everywhere: the reports, the finder's evidence and the project page agree."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from registry.extensions import db
from registry.models import ProjectRecipient
from registry.services.matching import build_need, find_funding
from reports.flows import flows_report


def _project_of_120(make_org, make_source, make_project, make_transaction):
    """Kenya 100 % and Uganda 20 % as a file gave them: five sixths and one sixth of the money."""
    donor = make_org(ref="REL", name="Relative donor")
    source = make_source(managing_org_id=donor.id, instruments=["grant"], name="Relative fund")
    project = make_project(org=donor, recipients=[{"country": "KEN", "share": Decimal(100)}])
    project.recipients.append(ProjectRecipient(country_iso3="UGA", share_ppm=200_000))
    db.session.flush()
    make_transaction(
        project, amount=Decimal("1200.00"), currency="USD", value_date=dt.date(2021, 3, 1), funding_source_id=source.id
    )
    return project, source


def test_reports_give_each_recipient_its_share_of_the_sum(app, make_org, make_source, make_project, make_transaction):
    _project_of_120(make_org, make_source, make_project, make_transaction)
    rows = {r["country"]: r["commitment"] for r in flows_report(by="country", measures="commitment").as_json()["rows"]}
    assert rows == {"KEN": "1000.00", "UGA": "200.00"}  # 1200 x 100/120 and 1200 x 20/120


def test_the_finders_evidence_divides_by_the_sum_too(app, make_org, make_source, make_project, make_transaction):
    _project, source = _project_of_120(make_org, make_source, make_project, make_transaction)
    need = build_need("UGA", "23b", "grant", "100000", "USD", dt.date(2025, 6, 30))
    match = next(m for m in [*find_funding(need).matches, *find_funding(need).failing] if m.source.id == source.id)
    assert match.evidence.source["country"].usd == Decimal("200.00")


def test_the_project_page_shows_each_part_of_the_whole(client, make_org, make_source, make_project, make_transaction):
    project, _source = _project_of_120(make_org, make_source, make_project, make_transaction)
    project.recipients.append(ProjectRecipient(share_ppm=300_000))  # and 30 % the file gave to no known place
    db.session.flush()
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    # 100, 20 and 30 of 150: two thirds, two fifteenths, one fifth
    assert "66.6667 %" in page and "13.3333 %" in page and "20 %" in page
    assert "(100 % in the file)" in page and "(20 % in the file)" in page
    assert "Unallocated" in page
