"""The API records a flow's rate source, and refuses with 422 a flow no rate converts (a person can fix it)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest

from tests.registry.test_api_projects import assert_error, project_body


@pytest.fixture
def donor(make_user):
    return make_user("donor")


def test_a_flow_in_nepal_rupees_records_the_imf_annual_rate(api, donor):
    token = donor[1]
    created = api("post", "/api/v1/projects", token, json=project_body()).get_json()
    url = f"/api/v1/projects/{created['id']}/transactions"
    body = {"type": "commitment", "amount": "1000000.00", "currency": "NPR", "value_date": "2020-06-15"}
    response = api("post", url, token, json=body)
    assert response.status_code == 201, response.get_json()
    tx = response.get_json()
    # the shipped IMF file: 118.3451872759857 NPR per USD in 2020
    with localcontext() as ctx:
        ctx.prec = 12
        rate = Decimal(1) / Decimal("118.3451872759857")
    assert (tx["usd_rate"], tx["usd_rate_date"], tx["usd_rate_source"]) == (str(rate), "2020-12-31", "imf_annual")
    assert tx["usd"] == str((Decimal("1000000.00") * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


@pytest.mark.parametrize(
    ("currency", "day", "why"),
    [("KPW", "2020-06-15", "the ECB does not publish KPW"), ("NPR", "1010-12-09", "NPR start in 1952")],
)
def test_a_typed_flow_no_rate_converts_is_422_and_says_why(api, donor, currency, day, why):
    token = donor[1]
    created = api("post", "/api/v1/projects", token, json=project_body()).get_json()
    url = f"/api/v1/projects/{created['id']}/transactions"
    body = {"type": "commitment", "amount": "1000.00", "currency": currency, "value_date": day}
    error = assert_error(api("post", url, token, json=body), 422, "currency")
    assert why in error["message"] and "Give the amount in a currency and on a date" in error["message"]
    assert api("get", url).get_json() == []
