"""The donor side read once for every funding source gives, for each source, exactly what the
one-source reading of the ranked projects gave: the same projects in the same order, the same
scores, the same criteria with the same reasons and the same gaps.

The reference below is the one-source reading as it was written before the batching: pipeline
projects, gaps and the track record read again for each source, each criterion worded afresh
(the criteria's own functions, no verdict kept between projects)."""

from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from registry.extensions import db
from registry.models import FundingSource
from registry.services import matching
from registry.services.matching import criteria as crit
from registry.services.matching import evidence
from registry.services.matching.need import project_need


def _assess_afresh(source, need, ref):
    return [
        crit._eligibility(source, need, ref),
        crit._area(source, need),
        crit._instrument(source, need),
        crit._amount(source, need.amount, need.currency, need.day, crit.ReferenceCache(need.day)),
        crit._window(source, need.day),
    ]


def _reference(source, day, include_failing):
    ref = crit.ReferenceCache(day)
    projects = matching.pipeline_projects()
    gaps = matching.funding_gaps(projects)
    known = _countries_funded_by(source, day)
    out = []
    for project in projects:
        gap = gaps[project.id]
        ask = gap.gap if gap.gap is not None and gap.gap > 0 else None
        need = project_need(project, day, ask, gap.currency if ask is not None else None)
        criteria = _assess_afresh(source, need, ref)
        if ask is None and gap.need is not None:
            criteria = [
                crit.Criterion("amount", crit.UNKNOWN, _("Nothing left to fund: commitments cover the need"))
                if c.key == "amount"
                else c
                for c in criteria
            ]
        match = matching.ProjectMatch(project, criteria, gap)
        match.score = crit.base_score(criteria) + (evidence.BONUS_COUNTRY if set(need.countries) & known else 0)
        if match.eligible or include_failing:
            out.append(match)
    out.sort(key=matching.project_sort_key)
    return out


def _countries_funded_by(source, day):
    """The one-source query as written before the batching."""
    from sqlalchemy import and_, func, or_

    from registry.models import ProjectRecipient, Transaction

    country = func.coalesce(Transaction.recipient_country_iso3, ProjectRecipient.country_iso3)
    stmt = evidence.commitments_between(
        select(country).select_from(Transaction), evidence.years_before(day, evidence.EVIDENCE_YEARS), day
    ).outerjoin(
        ProjectRecipient,
        and_(
            ProjectRecipient.project_id == Transaction.project_id,
            Transaction.recipient_country_iso3.is_(None),
            Transaction.recipient_region_code.is_(None),
        ),
    )
    stmt = stmt.where(
        country.is_not(None),
        or_(
            Transaction.funding_source_id == source.id,
            evidence.provider_key() == source.managing_org_id,
            FundingSource.managing_org_id == source.managing_org_id,
        ),
    ).distinct()
    return set(db.session.scalars(stmt))


def _seen(matches):
    return [
        (
            m.project.id,
            m.score,
            [(c.key, c.status, c.reason) for c in m.criteria],
            m.gap,
        )
        for m in matches
    ]


@pytest.fixture
def demo(runner):
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    return list(db.session.scalars(select(FundingSource).order_by(FundingSource.id)))


def test_every_source_read_at_once_ranks_as_read_alone(demo, app):
    assert len(demo) == 37
    for day in (dt.date(2025, 6, 30), dt.date(2026, 3, 1)):
        batched = matching.matching_projects_by_source(demo, day, include_failing=True)
        eligible = matching.matching_projects_by_source(demo, day)
        ranked = 0
        for source in demo:
            assert _seen(batched[source]) == _seen(_reference(source, day, True)), source.name
            assert _seen(eligible[source]) == _seen(_reference(source, day, False)), source.name
            assert _seen(matching.matching_projects(source, day)) == _seen(eligible[source])
            assert matching.countries_funded_by(source, day) == _countries_funded_by(source, day)
            ranked += len(eligible[source])
        # the comparison is over real rankings: many projects fit, several fail
        assert ranked > 0
        assert sum(len(found) for found in batched.values()) > ranked
    # the verdicts kept in a run are worded in the run's language
    day = dt.date(2025, 6, 30)
    english = matching.matching_projects_by_source(demo, day, include_failing=True)
    with app.test_request_context("/"), force_locale("fr"):
        french = matching.matching_projects_by_source(demo, day, include_failing=True)
        for source in demo:
            assert _seen(french[source]) == _seen(_reference(source, day, True)), source.name
    assert any(_seen(french[s]) != _seen(english[s]) for s in demo)
