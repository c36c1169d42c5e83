"""The stylesheets are served (an app-level /static route once shadowed them)."""


def test_stylesheets_are_served(client):
    for name in ("app.css", "finder.css"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and response.mimetype == "text/css"
        response.close()
