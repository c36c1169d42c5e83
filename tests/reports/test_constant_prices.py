"""Flows recorded at constant prices (OECD CRS deflated amounts) are a measure of their own:
never in the current-price figures, and every report says how much was kept apart."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from registry.extensions import db
from reports.flows import flows_report


def test_constant_price_flows_stay_out_of_the_figures_and_the_report_says_how_much(app, make_project, make_transaction):
    project = make_project(recipients=[{"country": "KEN", "share": Decimal(100)}])
    make_transaction(project, amount=Decimal("1000.00"), currency="USD", value_date=dt.date(2021, 6, 1))
    deflated = make_transaction(project, amount=Decimal("1250.00"), currency="USD", value_date=dt.date(2021, 12, 31))
    deflated.price_basis = "constant"  # as `import crs --prices constant` stores them: no current USD value
    deflated.usd_minor = deflated.usd_rate = deflated.usd_rate_date = deflated.usd_rate_source = None
    db.session.flush()

    report = flows_report(by="country", measures="commitment").as_json()
    assert report["total"]["commitment"] == "1000.00"  # the current-price commitment alone
    assert report["conversion"]["constant_prices"] == {
        "commitment": {"amount": "1250.00", "currency": "USD", "flows": 1}
    }
    [note] = [n for n in report["notes"] if "constant prices" in n]
    assert "commitments 1,250.00 USD (constant USD)" in note
    # A year range that leaves the deflated flow out says nothing of it.
    later = flows_report(by="country", measures="commitment", year_from=2022).as_json()
    assert "constant_prices" not in later["conversion"]
