"""The pages of projects, funding sources, organisations and the finder in the reader's
language: country names from CLDR, lists in the reader's alphabetical order."""

from __future__ import annotations

import re
from html import unescape

FRENCH = {"Accept-Language": "fr"}


def options(html: str, select_id: str) -> list[str]:
    """The texts of a select's options, in page order."""
    found = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert found, select_id
    return [unescape(text).strip() for text in re.findall(r"<option[^>]*>([^<]*)</option>", found.group(1))]


def test_countries_sort_as_readers_expect_cote_divoire_beside_costa_rica(client):
    names = options(client.get("/projects").get_data(as_text=True), "country")
    assert names.index("Côte d'Ivoire") == names.index("Costa Rica") + 1
    assert names.index("Côte d'Ivoire") < names.index("Cuba")
    page = client.get("/find-funding").get_data(as_text=True)
    finder = [re.sub(r" \(\w+\)$", "", n) for n in options(page, "country")]
    assert finder.index("Costa Rica") < finder.index("Côte d'Ivoire") < finder.index("Cuba")


def test_country_names_are_the_readers_in_lists_and_selects(client, make_project):
    project = make_project(title="Fibre in Uganda", recipients=[{"country": "UGA"}])
    listing = client.get("/projects", headers=FRENCH).get_data(as_text=True)
    assert "Ouganda" in listing and "Uganda" not in listing.replace("Fibre in Uganda", "")
    names = options(listing, "country")
    assert "Ouganda" in names and "Allemagne" in names
    # accented initials sort with their letter, not after Z
    assert names.index("Égypte") < names.index("Espagne") < names.index("Zambie")
    assert "Ouganda" in client.get(f"/projects/{project.id}", headers=FRENCH).get_data(as_text=True)
    assert "Ouganda" in options(client.get("/organisations", headers=FRENCH).get_data(as_text=True), "country")
    finder = options(client.get("/find-funding", headers=FRENCH).get_data(as_text=True), "country")
    assert "Ouganda (UGA)" in finder
    # English keeps the registry's own names
    assert "Uganda" in options(client.get("/projects").get_data(as_text=True), "country")


def test_organisations_and_sources_in_selects_sort_by_collation(client, make_org, make_source):
    make_org(name="Zeta Trust", ref="ZETA")
    make_org(name="Éclair Foundation", ref="ECLAIR")
    make_org(name="Delta Fund", ref="DELTA")
    names = options(client.get("/projects").get_data(as_text=True), "donor_org_id")
    assert names.index("Delta Fund") < names.index("Éclair Foundation") < names.index("Zeta Trust")
