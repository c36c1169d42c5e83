"""Fixtures for the report tests: a small registry with shares, regions and odd amounts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest


@pytest.fixture
def registry_data(make_project, make_transaction, make_org, make_source):
    """Projects spread over countries, a regional and a global project, one without areas."""
    donor = make_org(ref="DONOR-A", name="Donor A")
    source = make_source(kind="multilateral")
    three = make_project(
        title="Three-way project",
        recipients=[
            {"country": "KEN", "share": Decimal("33.3333")},
            {"country": "UGA", "share": Decimal("33.3333")},
            {"country": "BGD", "share": Decimal("33.3334")},
        ],
        areas=[
            {"code": "23a", "share": Decimal("33.3333")},
            {"code": "23b", "share": Decimal("33.3333")},
            {"code": "23f", "share": Decimal("33.3334")},
        ],
        need={"amount": "1000000.00", "currency": "USD", "date": dt.date(2020, 1, 1)},
    )
    make_transaction(three, amount=Decimal("1000.01"), provider_org_id=donor.id, funding_source_id=source.id)
    make_transaction(three, type="disbursement", amount=Decimal("333.33"), value_date=dt.date(2021, 3, 1))
    make_transaction(three, amount=Decimal("0.07"), value_date=dt.date(2022, 5, 5))
    regional = make_project(
        title="Regional backbone",
        recipients=[{"region": "002"}],
        areas=[{"code": "23c"}],
        need={"amount": "500.00", "currency": "USD", "date": dt.date(2020, 1, 1)},
    )
    make_transaction(regional, amount=Decimal("250.00"))
    world = make_project(title="Global platform", recipients=[], areas=[])
    make_transaction(world, amount=Decimal("99.99"))
    # Shares that add up to 99.9999 % (within the tolerance): reports normalise them.
    uneven = make_project(
        title="Uneven shares",
        recipients=[{"country": "NPL", "share": Decimal("50")}, {"country": "HTI", "share": Decimal("49.9999")}],
        areas=[{"code": "23d", "share": Decimal("100")}],
    )
    make_transaction(uneven, amount=Decimal("12345.67"))
    return {"three": three, "regional": regional, "world": world, "uneven": uneven, "donor": donor, "source": source}
