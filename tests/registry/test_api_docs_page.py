"""The API reference at /api/v1/docs: Swagger UI served by the app, nothing fetched from
another site, and the main calls of each kind of user."""

from __future__ import annotations

import re

EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""", re.I)


def test_the_api_reference_and_its_assets_are_served_from_the_app(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert not EXTERNAL.search(page), EXTERNAL.search(page)
    assert 'data-spec="/api/v1/openapi.json"' in page
    assert "<script>" not in page and " style=" not in page and "<style" not in page
    assets = re.findall(r'(?:src|href)="(/(?:api/v1/docs/assets|assets)/[^"]+\.(?:js|css))"', page)
    wanted = {
        "/api/v1/docs/assets/swagger-ui-bundle.js": "text/javascript",
        "/api/v1/docs/assets/swagger-ui.css": "text/css",
        "/assets/api-docs.js": "text/javascript",
        "/assets/api-docs.css": "text/css",
    }
    assert wanted.keys() <= set(assets)
    for url, mimetype in wanted.items():
        asset = client.get(url)
        assert asset.status_code == 200 and asset.mimetype == mimetype, url
        if mimetype == "text/css":
            style = asset.get_data(as_text=True)
            assert "data:" not in style and not EXTERNAL.search(style), url
            for image in re.findall(r'url\("([^"]+)"\)', style):
                found = client.get(f"/api/v1/docs/assets/{image}")
                assert found.status_code == 200 and found.mimetype.startswith("image/"), image
                found.close()
        asset.close()
    assert client.get("/api/v1/docs/assets/index.html").status_code == 404
    assert client.get("/api/v1/docs/assets/image-99.png").status_code == 404


def test_the_api_reference_shows_each_users_main_calls(client):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    for path in ("/api/v1/projects", "/api/v1/funding-sources/match", "/api/v1/reports/funding-gap"):
        assert path in page
    assert page.count('class="call-method"') >= 8


def test_what_the_registry_writes_on_the_reference_follows_the_readers_language(client):
    from flask_babel import force_locale, gettext

    page = client.get("/api/v1/docs", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    with client.application.test_request_context(), force_locale("fr"):
        title, calls, donor = gettext("API reference"), gettext("Main calls"), gettext("Donor officer")
    assert "API reference" != title and "Main calls" != calls  # the shipped catalogue translates them
    assert f"<h1>{title}</h1>" in page and calls in page and donor in page
    assert ">Main calls<" not in page and 'lang="fr"' in page
