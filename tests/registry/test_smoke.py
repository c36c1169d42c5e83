def test_home_page_shows_the_registry(client, make_project):
    make_project(title="Rural connectivity in Kenya")
    response = client.get("/")
    assert response.status_code == 200
    assert b"projects" in response.data
