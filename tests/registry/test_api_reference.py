import pytest


def assert_error_shape(response, code):
    assert response.status_code == code
    body = response.get_json()
    assert body["code"] == code
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_countries_list(client):
    response = client.get("/api/v1/countries")
    assert response.status_code == 200
    countries = response.get_json()
    assert len(countries) == 250  # the 249 of ISO 3166-1 and Kosovo
    kosovo = next(c for c in countries if c["iso3"] == "XKX")
    assert (kosovo["iso2"], kosovo["numeric"], kosovo["subregion"]["code"]) == ("XK", None, "039")
    kenya = next(c for c in countries if c["iso3"] == "KEN")
    assert kenya["region"] == {"code": "002", "name": "Africa"}
    assert kenya["subregion"]["code"] == "202"


def test_countries_filter_by_category_and_region(client):
    ldcs = client.get("/api/v1/countries?category=LDC&as_of=2025-06-01").get_json()
    assert len(ldcs) == 44
    africa_sids = client.get("/api/v1/countries?category=SIDS&region=002").get_json()
    assert {"CPV", "MUS", "STP"} <= {c["iso3"] for c in africa_sids}
    assert all(c["region"]["code"] == "002" for c in africa_sids)


def test_country_detail_with_categories_as_of_a_date(client):
    before = client.get("/api/v1/countries/BTN?as_of=2022-06-30").get_json()
    after = client.get("/api/v1/countries/btn?as_of=2024-06-30").get_json()
    assert "LDC" in before["categories"] and "LDC" not in after["categories"]
    assert before["as_of"] == "2022-06-30"
    haiti = client.get("/api/v1/countries/HTI").get_json()
    assert {"LDC", "SIDS"} <= set(haiti["categories"])
    assert haiti["income_group"] == "LDC" and haiti["dac_recipient"] is True


def test_unknown_country_is_a_404_in_the_api_shape(client):
    body = assert_error_shape(client.get("/api/v1/countries/XYZ"), 404)
    assert "XYZ" in body["message"]


def test_a_bad_date_is_a_422_with_field_errors(client):
    body = assert_error_shape(client.get("/api/v1/countries/KEN?as_of=yesterday"), 422)
    assert "as_of" in body["errors"]


def test_unknown_query_parameters_are_rejected(client):
    body = assert_error_shape(client.get("/api/v1/countries?colour=blue"), 422)
    assert "colour" in body["errors"]


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/countries/KEN/extra"])
def test_unknown_api_routes_are_json_404s(client, path):
    assert_error_shape(client.get(path), 404)


def test_wrong_method_is_a_json_405(client):
    assert_error_shape(client.delete("/api/v1/priority-areas"), 405)


def test_priority_areas(client):
    areas = client.get("/api/v1/priority-areas").get_json()
    assert [a["code"] for a in areas] == [f"23{c}" for c in "abcdefghijkl"]
    assert areas[1]["short_name"] == "Remote access & connectivity"
    assert areas[0]["main_list"] is True and areas[-1]["main_list"] is False


def test_recipient_categories_with_dated_members(client):
    categories = {c["code"]: c for c in client.get("/api/v1/recipient-categories?as_of=2022-06-30").get_json()}
    assert set(categories) == {"LDC", "LLDC", "SIDS", "HIPC", "EIT", "FCS", "OCC", "DAC"}
    assert "XKX" in categories["DAC"]["members"] and "CHL" not in categories["DAC"]["members"]  # graduated 2018
    assert "BTN" in categories["LDC"]["members"]
    later = {c["code"]: c for c in client.get("/api/v1/recipient-categories?as_of=2024-06-30").get_json()}
    assert "BTN" not in later["LDC"]["members"]


def test_openapi_document_lists_the_reference_routes(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/api/v1/countries",
        "/api/v1/countries/{iso3}",
        "/api/v1/priority-areas",
        "/api/v1/recipient-categories",
    ):
        assert path in spec["paths"]


def test_html_pages_get_an_html_error_page(client):
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert b"<html" in response.data


def test_the_stylesheet_is_served(client):
    with client.get("/assets/app.css") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/css"
        assert b".site-header" in response.data
