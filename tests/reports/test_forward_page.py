"""The reports page's Forward view: the next three years' plans by the page's rows (table and
chart), and the predictability measures, on a small registry written here in US dollars (no
rate involved), every expected figure read from the inputs below."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from markupsafe import escape
from sqlalchemy import select

from registry.extensions import db
from registry.models import PriorityArea
from registry.services import plans

THIS_YEAR = dt.date.today().year
NEXT, AFTER = THIS_YEAR + 1, THIS_YEAR + 2
LAST = THIS_YEAR - 1


def _year(year: int, amount: str) -> dict:
    return {
        "period_start": dt.date(year, 1, 1),
        "period_end": dt.date(year, 12, 31),
        "amount": amount,
        "currency": "USD",
        "value_date": dt.date(min(year, THIS_YEAR), 1, 2),
    }


@pytest.fixture
def registry(app, actor, make_org, make_project, make_transaction):
    donor = make_org(ref="FWD-DON", name="Forward donor")
    kenya = make_project(org=donor, areas=[{"code": "23b", "share": Decimal(100)}])
    plans.set_plans(actor, kenya, planned=[_year(NEXT, "1000.00"), _year(AFTER, "500.00"), _year(LAST, "1000.00")])
    shared = make_project(
        org=donor,
        recipients=[{"country": "KEN", "share": Decimal(50)}, {"country": "UGA", "share": Decimal(50)}],
        areas=[{"code": "23d", "share": Decimal(100)}],
    )
    plans.set_plans(actor, shared, planned=[_year(NEXT, "300.01")])
    # Last year: 1,000.00 planned, 800.00 disbursed 45 days after a 2,000.00 commitment.
    make_transaction(kenya, type="commitment", amount=Decimal("2000.00"), value_date=dt.date(LAST, 1, 10))
    make_transaction(kenya, type="disbursement", amount=Decimal("800.00"), value_date=dt.date(LAST, 2, 24))
    db.session.commit()
    return donor


def _section(html: str) -> str:
    start = html.index('id="forward-view"')
    return html[start : html.index("</section>", start)]


def _row(section: str, label: str) -> list[str]:
    row = re.search(rf"<th scope=\"row\">{re.escape(str(escape(label)))}</th>(.*?)</tr>", section, re.S).group(1)
    return re.findall(r'<data class="amount-compact" value="([^"]+)"', row)


def test_the_forward_view_follows_the_pages_rows_and_adds_up(client, registry):
    section = _section(client.get("/reports/?by=country&currency=USD").data.decode())
    assert '<h2 id="forward-title">Forward view</h2>' in section
    assert f"Planned disbursements {NEXT}–{THIS_YEAR + 3} by country, USD</caption>" in section
    # The shared project's 300.01 splits 50/50 by largest remainder: 150.01 and 150.00 (the
    # first share takes the odd cent), so the rows add up to the total.
    kenya, uganda = _row(section, "Kenya"), _row(section, "Uganda")
    assert kenya == ["1150.01", "500.00", "0.00", "1650.01"]
    assert uganda == ["150.00", "0.00", "0.00", "150.00"]
    assert _row(section, "Total") == ["1300.01", "500.00", "0.00", "1800.01"]
    assert 'href="/api/v1/reports/forward-spending.csv?by=country&amp;currency=USD"' in section
    # The chart: an SVG with its title and its description.
    svg = section[section.index("<svg") : section.index("</svg>")]
    assert f"<title>Planned disbursements {NEXT}–{THIS_YEAR + 3} by country</title>" in svg
    assert "<desc>Stacked bars: for each country" in svg
    assert "Kenya, " + str(NEXT) + ": 1,150.01 USD" in svg


def test_rows_by_priority_area_and_by_a_dimension_it_has_not(client, registry):
    by_area = _section(client.get("/reports/?by=priority_area&currency=USD").data.decode())
    assert "by priority area, USD</caption>" in by_area
    names = dict(db.session.execute(select(PriorityArea.code, PriorityArea.short_name)).all())
    assert _row(by_area, names["23b"]) == ["1000.00", "500.00", "0.00", "1500.00"]
    assert _row(by_area, names["23d"]) == ["300.01", "0.00", "0.00", "300.01"]
    by_donor = _section(client.get("/reports/?by=donor&currency=USD").data.decode())
    assert "by region, USD</caption>" in by_donor  # the page's rows are not places: by region
    assert _row(by_donor, "Total") == ["1300.01", "500.00", "0.00", "1800.01"]


def test_the_predictability_measures_are_shown_from_the_flows_and_plans(client, registry):
    section = _section(client.get(f"/reports/?by=region&currency=USD&year_from={LAST}&year_to={LAST}").data.decode())
    table = section[section.index('class="data predictability-table"') :]
    # In-year ratio last year: 800.00 / 1,000.00 = 80.0 %; absorption 800.00 / 2,000.00 = 40.0 %;
    # lag: 10 January to 24 February = 45 days.
    in_year = re.search(rf"In-year ratio {LAST} \(disbursed / planned\)</th><td class=\"num\">([^<]+)</td>", table)
    assert in_year.group(1).replace("\xa0", " ") == "80.0 %"
    absorption = re.search(r"Absorption \(disbursed / committed, all years\)</th><td class=\"num\">([^<]+)</td>", table)
    assert absorption.group(1).replace("\xa0", " ") == "40.0 %"
    assert re.search(r"first disbursement\)</th><td class=\"num\">45</td>", table)
    assert "1 project with both" in table
    assert f'href="/api/v1/reports/predictability?currency=USD&amp;year_from={LAST}&amp;year_to={LAST}"' in section
    assert "registry&#39;s own measure" in section or "registry's own measure" in section
