"""The guides under /help: one per kind of user, each with its pictures."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.web import help as guides

STATIC = Path(guides.__file__).resolve().parent / "static"


def test_the_help_index_links_every_guide(client):
    page = client.get("/help/").get_data(as_text=True)
    for guide in guides.GUIDES:
        assert f'href="/help/{guide.slug}"' in page
    assert 'href="/api/v1/docs"' in page


@pytest.mark.parametrize("guide", guides.GUIDES, ids=lambda g: g.slug)
def test_each_guide_loads_and_its_screenshots_exist(client, guide):
    response = client.get(f"/help/{guide.slug}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for shot in guide.screenshots:
        assert f'src="/assets/{shot.filename}"' in page
        assert (STATIC / shot.filename).is_file(), f"{shot.filename}: run tests/browser/test_help_guides.py"
        image = client.get(f"/assets/{shot.filename}")
        assert image.status_code == 200 and image.mimetype == "image/png"
        image.close()


def test_an_unknown_guide_is_a_404(client):
    assert client.get("/help/astronaut").status_code == 404


def test_every_page_links_the_help_and_the_api_reference(client):
    page = client.get("/").get_data(as_text=True)
    assert 'href="/help/"' in page and 'href="/api/v1/docs"' in page


def test_the_guide_gives_the_finders_own_weights_and_maximum(client, monkeypatch):
    """The score table is the finder's weights, not figures typed in the guide: change a weight
    and the guide follows."""
    import re

    from registry.services import matching

    page = client.get("/help/ministry").get_data(as_text=True)
    assert re.search(f'Highest score</th><td class="num">{matching.MAX_SCORE}</td>', page)
    monkeypatch.setitem(matching.WEIGHTS, "instrument", 25)
    monkeypatch.setattr(matching, "MAX_SCORE", matching.MAX_SCORE + 5)
    page = client.get("/help/ministry").get_data(as_text=True)
    assert re.search(r'Instrument</td><td class="num">25</td>', page)
    assert re.search(f'Highest score</th><td class="num">{matching.MAX_SCORE}</td>', page)
