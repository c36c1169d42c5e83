"""The funding finder: each criterion, the ranking rule, ties, and the evidence figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from registry import money
from registry.errors import ValidationError
from registry.services import matching
from registry.services.matching import MET, NOT_MET, UNKNOWN

DAY = dt.date(2024, 6, 30)


def need(**overrides):
    args = {
        "country": "NPL",
        "areas": ["23b"],
        "instrument": "grant",
        "amount": "2500000",
        "currency": "USD",
        "day": DAY,
    }
    args.update(overrides)
    return matching.build_need(
        args["country"],
        args["areas"],
        args["instrument"],
        args["amount"],
        args["currency"],
        args["day"],
    )


def criterion(source, the_need, key):
    return next(c for c in matching.assess(source, the_need) if c.key == key)


# -- input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"country": "XXX"}, "country"),
        ({"country": ""}, "country"),
        ({"areas": ["23z"]}, "priority_area"),
        ({"currency": "ABC"}, "currency"),
        ({"amount": "12.345"}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"instrument": "gift"}, "instrument"),
    ],
)
def test_bad_input_names_the_field(app, overrides, field):
    with pytest.raises(ValidationError) as caught:
        need(**overrides)
    assert field in caught.value.errors


def test_need_normalises_codes(app):
    n = matching.build_need("npl", "23B, 23c", "GRANT", "100.50", "usd", DAY)
    assert (n.countries, n.areas, n.instrument, n.amount, n.currency) == (
        ["NPL"],
        ["23b", "23c"],
        "grant",
        Decimal("100.50"),
        "USD",
    )


# -- eligibility -------------------------------------------------------------------------


def test_open_source_is_eligible_everywhere(make_source):
    source = make_source()
    c = criterion(source, need(), "eligibility")
    assert c.status == MET and "every recipient" in c.reason


def test_country_list(make_source):
    source = make_source(countries=["NPL"])
    assert criterion(source, need(), "eligibility").status == MET
    other = make_source(countries=["KEN"])
    c = criterion(other, need(), "eligibility")
    assert c.status == NOT_MET and "Nepal is not eligible" in c.reason


def test_eligible_by_region_only_including_sub_regions(make_source):
    asia = make_source(regions=["142"])  # Asia: Nepal is in it through Southern Asia (034)
    c = criterion(asia, need(), "eligibility")
    assert c.status == MET
    assert "Asia (142)" in c.reason and "Southern Asia (034)" in c.reason
    southern = make_source(regions=["034"])
    assert criterion(southern, need(), "eligibility").status == MET
    africa = make_source(regions=["002"])
    assert criterion(africa, need(), "eligibility").status == NOT_MET


def test_category_is_judged_on_the_date(make_source):
    """Bhutan left the LDC list on 2023-12-13: eligible in 2022, not in 2024."""
    source = make_source(categories=["LDC"])
    before = criterion(source, need(country="BTN", day=dt.date(2022, 6, 30)), "eligibility")
    after = criterion(source, need(country="BTN", day=dt.date(2024, 6, 30)), "eligibility")
    assert before.status == MET and "LDC on Jun 30, 2022" in before.reason
    assert after.status == NOT_MET and "Jun 30, 2024" in after.reason
    assert "LLDC" in after.reason  # says which categories Bhutan does hold on that date


# -- area, instrument --------------------------------------------------------------------


def test_priority_area(make_source):
    assert criterion(make_source(areas=["23b", "23c"]), need(), "area").status == MET
    c = criterion(make_source(areas=["23f"]), need(), "area")
    assert c.status == NOT_MET and "23f" in c.reason
    assert criterion(make_source(), need(), "area").status == MET  # no restriction
    assert criterion(make_source(areas=["23f"]), need(areas=[]), "area").status == UNKNOWN


def test_instrument(make_source):
    assert criterion(make_source(instruments=["grant"]), need(), "instrument").status == MET
    c = criterion(make_source(instruments=["concessional_loan"]), need(), "instrument")
    assert c.status == NOT_MET and "concessional loan" in c.reason
    assert criterion(make_source(instruments=[]), need(), "instrument").status == UNKNOWN
    assert criterion(make_source(), need(instrument=None), "instrument").status == UNKNOWN


# -- amount ------------------------------------------------------------------------------


def test_amount_in_range_same_currency(make_source):
    source = make_source(min_amount="1000000", max_amount="5000000", amount_currency="USD")
    assert criterion(source, need(), "amount").status == MET
    assert criterion(source, need(amount="6000000"), "amount").status == NOT_MET
    below = criterion(source, need(amount="999999.99"), "amount")
    assert below.status == NOT_MET and "below" in below.reason


def test_amount_in_another_currency_is_converted_at_the_date(make_source):
    source = make_source(min_amount="1000000", max_amount="2000000", amount_currency="EUR")
    day = dt.date(2024, 6, 28)
    # 2,000,000 USD in EUR on that date, computed independently of the finder
    in_eur = money.convert(Decimal("2000000"), "USD", "EUR", day).amount
    assert Decimal("1000000") < in_eur < Decimal("2000000")
    c = criterion(source, need(amount="2000000", day=day), "amount")
    assert c.status == MET
    assert money.format_amount(in_eur, "EUR") in c.reason and "ECB rate of Jun 28, 2024" in c.reason
    # Just above the maximum once converted: 2,000,000 EUR is more than 2,000,000 USD
    above = money.convert(Decimal("2000000"), "EUR", "USD", day).amount + Decimal("1")
    assert criterion(source, need(amount=str(above), day=day), "amount").status == NOT_MET


def test_amount_unknown_without_range(make_source):
    c = criterion(make_source(), need(), "amount")
    assert c.status == UNKNOWN and "no amount range" in c.reason


def test_only_a_minimum(make_source):
    source = make_source(min_amount="3000000", amount_currency="USD")
    c = criterion(source, need(), "amount")
    assert c.status == NOT_MET and "at least 3,000,000.00 USD" in c.reason


# -- window ------------------------------------------------------------------------------


def test_window(make_source):
    closed = make_source(window_from=dt.date(2020, 1, 1), window_until=dt.date(2023, 12, 31))
    c = criterion(closed, need(), "window")
    assert c.status == NOT_MET and "closed on Dec 31, 2023" in c.reason
    later = make_source(window_from=dt.date(2025, 1, 1))
    assert criterion(later, need(), "window").status == NOT_MET
    open_ = make_source(window_from=dt.date(2024, 1, 1), window_until=dt.date(2024, 12, 31))
    assert criterion(open_, need(), "window").status == MET
    # The last day of the window still counts.
    assert criterion(closed, need(day=dt.date(2023, 12, 31)), "window").status == MET
    assert criterion(make_source(), need(), "window").status == MET


# -- the reasons' wording --------------------------------------------------------------


def test_an_ineligible_country_is_told_each_rule_of_the_source_as_a_whole_clause(make_source):
    source = make_source(countries=["KEN", "UGA"], regions=["002"], categories=["SIDS"])
    assert criterion(source, need(), "eligibility").reason == (
        "Nepal is not eligible: the source funds countries KEN and UGA; the source funds region Africa (002); "
        "the source funds category SIDS (Nepal has DAC, LDC, and LLDC on Jun 30, 2024)"
    )
    assert criterion(make_source(countries=["KEN"]), need(), "eligibility").reason == (
        "Nepal is not eligible: the source funds country KEN"
    )
    many = make_source(countries=["KEN", "UGA", "TZA", "RWA", "BDI", "ETH", "SOM"])
    assert criterion(many, need(), "eligibility").reason == "Nepal is not eligible: the source funds 7 listed countries"


def test_eligible_reasons_name_the_region_and_the_categories_held(make_source):
    assert criterion(make_source(regions=["142"]), need(), "eligibility").reason == (
        "Nepal is in eligible region Asia (142) through Southern Asia (034)"
    )
    assert criterion(make_source(regions=["034"]), need(), "eligibility").reason == (
        "Nepal is in eligible region Southern Asia (034)"
    )
    assert criterion(make_source(categories=["LDC", "LLDC"]), need(), "eligibility").reason == (
        "Nepal belongs to LDC and LLDC on Jun 30, 2024"
    )


def test_area_instrument_amount_and_window_reasons_read_as_sentences(make_source):
    assert criterion(make_source(areas=["23f"]), need(areas=["23b", "23c"]), "area").reason == (
        "The source funds 23f, not 23b or 23c"
    )
    assert criterion(make_source(instruments=["concessional_loan", "guarantee"]), need(), "instrument").reason == (
        "The source offers concessional loan and guarantee, not grant"
    )
    assert criterion(make_source(min_amount="1", max_amount="9000000"), need(), "amount").reason == (
        "2,500,000.00 USD is within the source's range (1.00–9,000,000.00 USD)"
    )
    assert criterion(make_source(window_from=dt.date(2024, 1, 1)), need(), "window").reason == (
        "Open on Jun 30, 2024 (window from Jan 1, 2024)"
    )
    assert criterion(make_source(window_until=dt.date(2024, 12, 1)), need(), "window").reason == (
        "Open on Jun 30, 2024 (window until Dec 1, 2024)"
    )
    both = make_source(window_from=dt.date(2024, 1, 1), window_until=dt.date(2024, 12, 1))
    assert criterion(both, need(), "window").reason == "Open on Jun 30, 2024 (window Jan 1, 2024 to Dec 1, 2024)"


# -- ranking -----------------------------------------------------------------------------


def _only(result, ids):
    return [m for m in result.matches if m.source.id in ids]


def test_hard_failures_are_listed_apart_with_reasons(make_source):
    closed = make_source(name="Closed fund", window_until=dt.date(2023, 1, 1))
    loans = make_source(name="Loan fund", instruments=["concessional_loan"])
    elsewhere = make_source(name="Kenya fund", countries=["KEN"])
    wrong_area = make_source(name="Content fund", areas=["23f"])  # soft: ranked, lower
    result = matching.find_funding(need())
    failing = {m.source.id: m for m in result.failing}
    assert set(failing) >= {closed.id, loans.id, elsewhere.id}
    assert [c.key for c in failing[closed.id].failed] == ["window"]
    assert [c.key for c in failing[loans.id].failed] == ["instrument"]
    assert [c.key for c in failing[elsewhere.id].failed] == ["eligibility"]
    assert wrong_area.id in {m.source.id for m in result.matches}


def test_ranking_by_score(make_source):
    full = make_source(name="Z full fit", areas=["23b"], min_amount="1", max_amount="9000000")
    no_range = make_source(name="A no range", areas=["23b"])  # amount unknown: 20 points less
    wrong_area = make_source(name="B wrong area", areas=["23f"], min_amount="1", max_amount="9000000")
    result = matching.find_funding(need())
    ranked = _only(result, {full.id, no_range.id, wrong_area.id})
    assert [m.source.id for m in ranked] == [full.id, no_range.id, wrong_area.id]
    assert ranked[0].score == sum(matching.WEIGHTS.values())
    assert ranked[1].score == ranked[0].score - matching.WEIGHTS["amount"]
    assert ranked[2].score == ranked[0].score - matching.WEIGHTS["area"]


def test_ties_break_by_committed_amount_then_name_then_id(make_source, make_project, make_transaction):
    a = make_source(name="Same name")
    b = make_source(name="Same name")
    c = make_source(name="Another")
    result = matching.find_funding(need())
    ranked = _only(result, {a.id, b.id, c.id})
    assert [m.source.id for m in ranked] == [c.id, a.id, b.id]  # equal scores: name, then id
    # Money committed in Nepal wins the tie over the alphabet (the bonus is equal for both).
    p1 = make_project(recipients=[{"country": "NPL"}], areas=[{"code": "23b"}])
    p2 = make_project(recipients=[{"country": "NPL"}], areas=[{"code": "23b"}])
    make_transaction(p1, funding_source_id=b.id, amount=Decimal("500"), value_date=dt.date(2020, 1, 2))
    make_transaction(p2, funding_source_id=c.id, amount=Decimal("400"), value_date=dt.date(2020, 1, 2))
    ranked = _only(matching.find_funding(need()), {a.id, b.id, c.id})
    assert [m.source.id for m in ranked] == [b.id, c.id, a.id]
    assert ranked[0].score == ranked[1].score == ranked[2].score + matching.BONUS_COUNTRY + matching.BONUS_AREA


def test_results_are_stable(make_source):
    for i in range(5):
        make_source(name=f"Fund {i % 2}")
    first = [m.source.id for m in matching.find_funding(need()).matches]
    second = [m.source.id for m in matching.find_funding(need()).matches]
    assert first == second


# -- evidence ----------------------------------------------------------------------------


def test_evidence_agrees_with_an_independent_computation(make_org, make_source, make_project, make_transaction):
    donor = make_org(name="Donor")
    source = make_source(managing_org_id=donor.id)
    other_source = make_source(managing_org_id=donor.id)
    split = make_project(
        recipients=[{"country": "NPL", "share": "33.3333"}, {"country": "IND", "share": "66.6667"}],
        areas=[{"code": "23b", "share": "70"}, {"code": "23f", "share": "30"}],
    )
    whole = make_project(recipients=[{"country": "NPL"}], areas=[{"code": "23b"}])
    regional = make_project(recipients=[{"region": "034"}], areas=[{"code": "23a"}])
    kenya = make_project(recipients=[{"country": "KEN"}], areas=[{"code": "23b"}])
    txs = [
        make_transaction(project, funding_source_id=fund.id, amount=Decimal(amount), value_date=day, **extra)
        for project, fund, amount, day, extra in [
            (split, source, "1000000.01", dt.date(2019, 3, 4), {"currency": "EUR"}),
            (whole, source, "250000", dt.date(2016, 1, 5), {}),
            (regional, source, "77777.77", dt.date(2021, 1, 5), {}),
            (kenya, source, "5000", dt.date(2021, 1, 5), {}),
            # by the same organisation through another source
            (whole, other_source, "1000", dt.date(2022, 1, 5), {"provider_org_id": donor.id}),
        ]
    ]
    # Outside the ten years, and a disbursement: neither counts.
    make_transaction(whole, funding_source_id=source.id, amount=Decimal("9"), value_date=dt.date(2014, 6, 29))
    make_transaction(
        whole,
        funding_source_id=source.id,
        type="disbursement",
        amount=Decimal("9"),
        value_date=dt.date(2020, 1, 1),
    )

    def expected(weight):
        total = sum(Decimal(t.usd_minor) * weight(t) for t in txs if t.funding_source_id == source.id)
        return money.quantize(total / 100, "USD")

    def country_share(t):
        return next((r.share / 100 for r in t.project.recipients if r.country_iso3 == "NPL"), Decimal(0))

    def region_share(t):
        return sum(
            (r.share / 100 for r in t.project.recipients if r.country_iso3 in {"NPL", "IND"} or r.region_code == "034"),
            Decimal(0),
        )

    def area_share(t):
        return next((a.share / 100 for a in t.project.areas if a.area_code == "23b"), Decimal(0))

    result = matching.find_funding(need())
    match = next(m for m in result.matches if m.source.id == source.id)
    ev = match.evidence
    assert ev.since == dt.date(2014, 6, 30) and ev.region_code == "034"
    assert ev.source["country"].usd == expected(country_share)
    assert ev.source["region"].usd == expected(region_share)
    assert ev.source["area"].usd == expected(area_share)
    assert (
        ev.source["country"].projects,
        ev.source["region"].projects,
        ev.source["area"].projects,
    ) == (2, 3, 3)
    # The managing organisation: the source's commitments plus those of its other source.
    assert ev.org["country"].usd == ev.source["country"].usd + Decimal("1000.00")
    assert ev.org["country"].projects == 2
    # Exact: no float anywhere
    assert isinstance(ev.source["country"].usd, Decimal)


def test_similar_projects_prefer_same_country_and_size(make_source, make_project, make_transaction):
    source = make_source()
    small = make_project(title="Small Nepal", recipients=[{"country": "NPL"}], areas=[{"code": "23b"}])
    big = make_project(title="Big Nepal", recipients=[{"country": "NPL"}], areas=[{"code": "23b"}])
    india = make_project(title="India same size", recipients=[{"country": "IND"}], areas=[{"code": "23b"}])
    off_area = make_project(title="Other area", recipients=[{"country": "NPL"}], areas=[{"code": "23f"}])
    for project, amount in (
        (small, "100000"),
        (big, "2400000"),
        (india, "2500000"),
        (off_area, "2500000"),
    ):
        make_transaction(
            project,
            funding_source_id=source.id,
            amount=Decimal(amount),
            value_date=dt.date(2020, 2, 3),
        )
    match = next(m for m in matching.find_funding(need()).matches if m.source.id == source.id)
    assert [s.project_id for s in match.similar] == [big.id, small.id, india.id]
    assert match.similar[0].committed_usd == Decimal("2400000.00")


def test_managing_organisation_counts_commitments_through_its_sources(
    make_org, make_source, make_project, make_transaction
):
    manager = make_org(name="Fund manager")
    channel = make_org(name="Channel agency")
    source = make_source(managing_org_id=manager.id)
    channel_source = make_source(managing_org_id=channel.id)
    project = make_project(recipients=[{"country": "NPL"}], areas=[{"code": "23b"}])
    # Paid through the source but recorded with another provider organisation.
    make_transaction(
        project,
        funding_source_id=source.id,
        provider_org_id=channel.id,
        amount=Decimal("700"),
        value_date=dt.date(2020, 5, 5),
    )
    result = matching.find_funding(need())
    by_id = {m.source.id: m for m in result.matches}
    assert by_id[source.id].evidence.source["country"].usd == Decimal("700.00")
    assert by_id[source.id].evidence.org["country"].usd == Decimal("700.00")  # its manager
    assert by_id[channel_source.id].evidence.source["country"].usd == Decimal("0.00")
    assert by_id[channel_source.id].evidence.org["country"].usd == Decimal("700.00")  # the provider
