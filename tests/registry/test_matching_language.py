"""The funding finder speaks the reader's language: the criteria's names and the reason given
for each verdict come back translated on the find-funding page and in the API (Accept-Language),
in English without a language asked for and outside a request (the command line). The language
changes the words only: the scores and the ranking are the same in every language.

The catalogues are written by translators after the code is merged, so these tests compile a
small French catalogue of their own and point the app at it.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from registry.extensions import db
from registry.services import matching
from tests.catalogues import FRENCH_READER, use_french_catalogue

FRENCH = {
    "Eligibility": "Éligibilité",
    "Priority area": "Domaine prioritaire",
    "Application window": "Période de candidature",
    "Asia": "Asie",
    "Southern Asia": "Asie du Sud",
    "Africa": "Afrique",
    "Grant": "Don",
    "Concessional loan": "Prêt concessionnel",
    "%(country)s is in eligible region %(region)s through %(part)s": (
        "%(country)s fait partie de la région éligible %(region)s par %(part)s"
    ),
    "%(country)s is not eligible: %(rules)s": "%(country)s n'est pas éligible : %(rules)s",
    ("the source funds country %(countries)s", "the source funds countries %(countries)s"): (
        "la source finance le pays %(countries)s",
        "la source finance les pays %(countries)s",
    ),
    ("the source funds region %(regions)s", "the source funds regions %(regions)s"): (
        "la source finance la région %(regions)s",
        "la source finance les régions %(regions)s",
    ),
    "%(clause)s; %(next_clause)s": "%(clause)s ; %(next_clause)s",
    "Closed: the window closed on %(closes)s (judged on %(day)s)": (
        "Fermée : la période a pris fin le %(closes)s (jugé le %(day)s)"
    ),
    "The source offers %(offered)s, not %(asked)s": "La source propose : %(offered)s, pas : %(asked)s",
    "%(amount)s = %(converted)s at the ECB rate of %(rate_date)s (%(rate)s) is within the source's range (%(range)s)": (
        "%(amount)s, soit %(converted)s au taux de la BCE du %(rate_date)s (%(rate)s), est dans la fourchette "
        "de la source (%(range)s)"
    ),
}
DAY = dt.date(2024, 6, 28)
QUERY = "country=NPL&priority_area=23b&instrument=grant&amount=2000000&currency=USD&date=2024-06-28"


@pytest.fixture
def french(app, tmp_path, monkeypatch):
    """The app reads a French catalogue that translates the messages of FRENCH."""
    use_french_catalogue(app, tmp_path, monkeypatch, FRENCH)
    return app


@pytest.fixture
def sources(make_source):
    """A source that fits through Asia, one in EUR that fits, a closed one, one for Kenya and
    Africa, one that lends: ranked and failing for Nepal on 28 June 2024."""
    made = {
        "asia": make_source(name="Asia fund", regions=["142"], areas=["23b"]),
        "euro": make_source(
            name="Euro fund", areas=["23b"], min_amount="1000000", max_amount="2000000", amount_currency="EUR"
        ),
        "wide": make_source(name="Wide fund"),
        "closed": make_source(name="Closed fund", window_until=dt.date(2023, 12, 31)),
        "elsewhere": make_source(name="Kenya fund", countries=["KEN", "UGA"], regions=["002"]),
        "loans": make_source(name="Loan fund", instruments=["concessional_loan"]),
    }
    db.session.commit()
    return made


def _criteria(body: dict, source_id: int) -> dict[str, dict]:
    match = next(m for m in body["matches"] + body["failing"] if m["source"]["id"] == source_id)
    return {c["key"]: c for c in match["criteria"]}


def test_the_api_gives_the_criteria_and_reasons_in_french(french, client, sources):
    body = client.get(f"/api/v1/funding-sources/match?{QUERY}", headers=FRENCH_READER).get_json()
    asia = _criteria(body, sources["asia"].id)
    assert asia["eligibility"]["label"] == "Éligibilité" and asia["window"]["label"] == "Période de candidature"
    assert asia["eligibility"]["reason"] == "Népal fait partie de la région éligible Asie (142) par Asie du Sud (034)"
    # the machine fields stay as they are
    assert asia["eligibility"]["key"] == "eligibility" and asia["eligibility"]["status"] == "met"
    closed = _criteria(body, sources["closed"].id)["window"]
    assert closed["reason"] == "Fermée : la période a pris fin le 31 déc. 2023 (jugé le 28 juin 2024)"
    elsewhere = _criteria(body, sources["elsewhere"].id)["eligibility"]
    assert elsewhere["reason"] == (
        "Népal n'est pas éligible : la source finance les pays KEN et UGA ; la source finance la région Afrique (002)"
    )
    assert _criteria(body, sources["loans"].id)["instrument"]["reason"] == (
        "La source propose : prêt concessionnel, pas : don"
    )
    euro = _criteria(body, sources["euro"].id)["amount"]["reason"]
    # amounts, the rate and its date as French writes them (narrow no-break spaces, a decimal comma)
    assert re.fullmatch(
        r"2\u202f000\u202f000,00 USD, soit 1\u202f868\u202f285,85 EUR au taux de la BCE du 28 juin 2024 "
        r"\(0,934142923867\), est dans la fourchette de la source "
        r"\(1\u202f000\u202f000,00–2\u202f000\u202f000,00 EUR\)",
        euro,
    ), euro
    # the track record's region too
    assert body["matches"][0]["evidence"]["region_name"] == "Asie du Sud (034)"


def test_without_a_language_asked_for_the_api_answers_in_english(french, client, sources):
    body = client.get(f"/api/v1/funding-sources/match?{QUERY}").get_json()
    asia = _criteria(body, sources["asia"].id)
    assert asia["eligibility"]["label"] == "Eligibility"
    assert asia["eligibility"]["reason"] == "Nepal is in eligible region Asia (142) through Southern Asia (034)"
    assert _criteria(body, sources["closed"].id)["window"]["reason"] == (
        "Closed: the window closed on Dec 31, 2023 (judged on Jun 28, 2024)"
    )
    assert _criteria(body, sources["elsewhere"].id)["eligibility"]["reason"] == (
        "Nepal is not eligible: the source funds countries KEN and UGA; the source funds region Africa (002)"
    )
    assert body["matches"][0]["evidence"]["region_name"] == "Southern Asia (034)"


def test_the_find_funding_page_gives_the_criteria_and_reasons_in_french(french, client, sources):
    html = client.get(f"/find-funding?{QUERY}", headers=FRENCH_READER).get_data(as_text=True)
    asia = html[html.index(f'id="source-{sources["asia"].id}"') :]
    asia = asia[: asia.index("</article>")]
    assert '<span class="crit-name">Éligibilité' in asia
    assert "Népal fait partie de la région éligible Asie (142) par Asie du Sud (034)" in asia
    assert "Fermée : la période a pris fin le 31 déc. 2023 (jugé le 28 juin 2024)" in html
    english = client.get(f"/find-funding?{QUERY}").get_data(as_text=True)
    assert '<span class="crit-name">Eligibility' in english and "Éligibilité" not in english
    assert "Nepal is in eligible region Asia (142) through Southern Asia (034)" in english
    assert "Closed: the window closed on Dec 31, 2023 (judged on Jun 28, 2024)" in english


def test_the_language_changes_the_words_not_the_scores_or_the_ranking(
    french, client, sources, make_source, make_project, make_transaction
):
    """Same sources, same scores, same order (ties included) and the same misfits in both languages."""
    # a track record in Nepal for one source, and two sources tied on everything but their names
    nepal = make_project(recipients=[{"country": "NPL"}], areas=[{"code": "23b"}])
    make_transaction(nepal, funding_source_id=sources["wide"].id, amount=Decimal("500"), value_date=dt.date(2020, 1, 2))
    make_source(name="Élan fund")
    make_source(name="Ember fund")
    db.session.commit()

    def ranking(headers: dict) -> tuple[list, list]:
        body = client.get(f"/api/v1/funding-sources/match?{QUERY}", headers=headers).get_json()
        ranked = [(m["rank"], m["source"]["id"], m["score"], m["eligible"]) for m in body["matches"]]
        failing = [(m["source"]["id"], m["score"], m["failed"]) for m in body["failing"]]
        return ranked, failing

    english, french_ = ranking({}), ranking(FRENCH_READER)
    assert english == french_
    ranked, failing = english
    # every criterion met first (110), then the open source with its track record in Nepal (90 + 15)
    assert [r[1:3] for r in ranked[:2]] == [(sources["euro"].id, 110), (sources["wide"].id, 105)]
    assert len(ranked) >= 3 and {sources["closed"].id, sources["elsewhere"].id, sources["loans"].id} <= {
        f[0] for f in failing
    }

    # the page ranks the same sources in the same order with the same scores
    def page(headers: dict) -> list[tuple[str, str]]:
        html = client.get(f"/find-funding?{QUERY}", headers=headers).get_data(as_text=True)
        return re.findall(r'data-source-id="(\d+)".*?class="score"[^>]*><strong>(\d+)</strong>', html, re.S)

    assert page({}) == page(FRENCH_READER) and page({})


def test_outside_a_request_the_finder_speaks_english(french):
    # the command line and the queue's worker: an app, no request, no reader
    result = matching.find_funding(matching.build_need("NPL", ["23b"], "grant", day=DAY))
    for m in result.matches + result.failing:
        assert [c.label for c in m.criteria] == [
            "Eligibility",
            "Priority area",
            "Instrument",
            "Amount",
            "Application window",
        ]
