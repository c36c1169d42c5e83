"""Amounts in the overview figures, the wide tables and the finder's cards read at a glance
(6.75 m), the exact figure on hover; detail pages keep the exact amounts."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from registry.extensions import db


def compact(html: str) -> dict[str, str]:
    """{exact figure in the title: the abbreviated text} of every compact amount of the page."""
    return dict(re.findall(r'<data class="amount-compact" value="[^"]+" title="([^"]+)">([^<]+)</data>', html))


def test_the_overview_and_the_project_list_abbreviate_with_the_exact_figure_on_hover(
    client, make_project, make_transaction
):
    project = make_project(title="Backbone")
    make_transaction(project, amount=Decimal("6750000.00"), currency="USD")
    home = compact(client.get("/").get_data(as_text=True))
    assert home["6,750,000.00"] == "6.75 m"
    listing = compact(client.get("/projects").get_data(as_text=True))
    assert listing["6,750,000.00"] == "6.75 m"
    # the project's own page keeps the exact amount
    detail = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "6,750,000.00" in detail and "6.75 m" not in detail


def test_french_readers_see_their_own_abbreviation(client, make_project, make_transaction):
    project = make_project(title="Dorsale")
    make_transaction(project, amount=Decimal("6750000.00"), currency="USD")
    listing = compact(client.get("/projects", headers={"Accept-Language": "fr"}).get_data(as_text=True))
    [(exact, short)] = listing.items()
    assert exact.replace("\u202f", " ").replace("\xa0", " ") == "6 750 000,00"
    assert short.replace("\xa0", " ") == "6,75 M"


def test_funding_sources_list_their_range_abbreviated(client, make_source):
    make_source(name="Wide fund", min_amount=Decimal("50000"), max_amount=Decimal("2500000"), amount_currency="USD")
    db.session.commit()
    html = client.get("/funding-sources").get_data(as_text=True)
    assert compact(html) == {"50,000.00": "50,000", "2,500,000.00": "2.5 m"}
    row = re.search(r"USD <data[^>]*>50,000</data> – <data[^>]*>2.5 m</data>", html)
    assert row, "the range reads USD low – high"


def test_the_pipeline_lists_each_gap_abbreviated(client, make_project):
    make_project(
        title="Pipeline need",
        status="pipeline",
        need={"amount": Decimal("1250000"), "currency": "USD"},
        planned_start=dt.date(2027, 1, 1),
    )
    db.session.commit()
    html = client.get("/pipeline").get_data(as_text=True)
    assert compact(html).get("1,250,000.00 USD") == "1.25 m USD"
