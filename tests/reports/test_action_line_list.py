"""The project list (pages and API) filtered by WSIS action line."""

from __future__ import annotations


def test_the_project_list_keeps_the_projects_of_an_action_line(client, make_project):
    make_project(title="Secure networks", wsis_action_lines=["C5", "C2"])
    make_project(title="Media centres", wsis_action_lines=["C9"])
    make_project(title="Untagged")
    make_project(title="Cooperation", wsis_action_lines=["C11"])  # C1 must not match C11
    titles = {p["title"] for p in client.get("/api/v1/projects?action_line=C5").get_json()["items"]}
    assert titles == {"Secure networks"}
    titles = {p["title"] for p in client.get("/api/v1/projects?action_line=C1").get_json()["items"]}
    assert titles == set()
    assert client.get("/api/v1/projects?action_line=C12").status_code == 422
    page = client.get("/projects?action_line=C9").get_data(as_text=True)
    assert "Media centres" in page and "Secure networks" not in page
    assert '<option value="C9" selected>' in page
