import re
from decimal import Decimal


def _kpi(html: str, label: str) -> str:
    found = re.search(r'<span class="kpi-value">([^<]*)</span><span class="kpi-label">' + re.escape(label) + "<", html)
    assert found, label
    return found.group(1)


def test_home_page_shows_the_project_created(client, make_project, make_transaction):
    empty = client.get("/").get_data(as_text=True)
    assert _kpi(empty, "projects") == "0"
    project = make_project(title="Rural connectivity in Kenya")
    make_transaction(project, amount=Decimal("1234567.89"), currency="USD")

    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _kpi(html, "projects") == "1"
    assert _kpi(html, "recipient countries") == "1"  # Kenya
    assert "1,234,567.89" in html  # its commitment, and the commitments of its area 23b
    listing = client.get("/projects").get_data(as_text=True)
    assert "Rural connectivity in Kenya" in listing
    assert f"/projects/{project.id}" in listing
