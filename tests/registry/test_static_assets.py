"""The stylesheets are served where the pages point to."""

from flask import url_for


def test_stylesheets_are_served(app, client):
    with app.test_request_context():
        urls = [url_for("web.static", filename=name) for name in ("app.css", "finder.css")]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "text/css", url
        response.close()
