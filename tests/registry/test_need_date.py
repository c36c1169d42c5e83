"""A project's need is converted at its date: the given one, else the planned start, else the
actual start (real IATI activities often give only that), and only then the day of recording."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal


def test_a_need_without_a_planned_start_is_dated_on_the_actual_start(app, make_project):
    project = make_project(
        planned_start=None,
        actual_start=dt.date(2018, 3, 23),
        need={"amount": Decimal("1000.00"), "currency": "EUR"},
    )
    assert project.need_date == dt.date(2018, 3, 23)
    # 1 EUR = 1.2346 USD at the ECB reference rate of 2018-03-23 (registry/data/ecb_rates.zip).
    assert project.need_usd_minor == 123460
