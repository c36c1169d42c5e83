"""The in-year ratio as docs/reports.md defines it (the registry's own ratio, not the Paris
Declaration indicator 7 or GPEDC 5a computation): disbursed / planned by donor and year, not
capped, and in total the sum of what was disbursed over the sum of what was planned (not a mean
of the donors' ratios). Figures in US dollars, read from the inputs written here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from registry.extensions import db
from registry.services import plans
from reports.forward import predictability

YEAR = 2023


def _plan(amount: str) -> dict:
    return {
        "period_start": dt.date(YEAR, 1, 1),
        "period_end": dt.date(YEAR, 12, 31),
        "amount": amount,
        "currency": "USD",
        "value_date": dt.date(YEAR, 1, 2),
    }


def test_over_disbursement_is_not_capped_and_the_total_is_a_ratio_of_sums(
    app, actor, make_org, make_project, make_transaction
):
    over, under = make_org(ref="DEF-OVER", name="Over"), make_org(ref="DEF-UNDER", name="Under")
    a = make_project(org=over)
    plans.set_plans(actor, a, planned=[_plan("1000.00")])
    make_transaction(a, type="disbursement", amount=Decimal("1200.00"), value_date=dt.date(YEAR, 5, 1))
    b = make_project(org=under, recipients=[{"country": "UGA", "share": Decimal(100)}])
    plans.set_plans(actor, b, planned=[_plan("3000.00")])
    make_transaction(b, type="disbursement", amount=Decimal("1500.00"), value_date=dt.date(YEAR, 9, 30))
    make_transaction(
        b, type="disbursement", amount=Decimal("999.00"), value_date=dt.date(YEAR + 1, 1, 5)
    )  # next year's
    db.session.commit()
    report = predictability("USD", years=[YEAR], donors=["DEF-OVER", "DEF-UNDER"])
    by_donor = {row["donor"]: row["years"][0]["in_year_predictability"] for row in report["rows"]}
    four = Decimal("0.0001")
    assert by_donor == {
        "DEF-OVER": str((Decimal(1200) / Decimal(1000)).quantize(four)),  # 1.2000: above 1, not capped
        "DEF-UNDER": str((Decimal(1500) / Decimal(3000)).quantize(four)),  # 0.5000
    }
    total = report["total"]["years"][0]
    assert (total["planned"], total["disbursed"]) == ("4000.00", "2700.00")
    assert total["in_year_predictability"] == str((Decimal(2700) / Decimal(4000)).quantize(four)) == "0.6750"
    assert "not apply the Paris Declaration indicator 7" in report["definitions"]["in_year_predictability"]
