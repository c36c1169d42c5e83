# ruff: noqa: E501  (the reference texts verbatim, one message a line)
"""The reference data's names in the reader's language.

The names of the Tunis Agenda's paragraph 23 areas, the recipient categories and the income
groups and the UN M49 regions are the registry's own English (registry/data/*.csv); their
translations are in the catalogue (the regions as the M49 standard words them in each official
language), marked here: a test checks this list against the files, so a new or renamed row
cannot miss its translation. Countries are named from CLDR in each language
(registry.i18n.territory_name).
"""

from __future__ import annotations

from flask_babel import gettext

from registry.i18n import DEFAULT_LANGUAGE, current_language, territory_name
from registry.models.types import N_

AREA_NAMES = {
    "23a": N_("Capacity building"),
    "23b": N_("Remote access & connectivity"),
    "23c": N_("Regional backbones"),
    "23d": N_("Broadband capacity"),
    "23e": N_("Coordinated assistance"),
    "23f": N_("Applications & content"),
    "23g": N_("Sustainability"),
    "23h": N_("SMME needs"),
    "23i": N_("Local development & manufacturing"),
    "23j": N_("Institutional & regulatory reform"),
    "23k": N_("Organisational change"),
    "23l": N_("Local & community services"),
}
AREA_DESCRIPTIONS = {
    "23a": N_(
        "ICT capacity-building programmes, materials, tools, educational funding and specialized training initiatives, especially for regulators and other public-sector employees and organizations."
    ),
    "23b": N_(
        "Communications access and connectivity for ICT services and applications in remote rural areas, Small Island Developing States, Landlocked Developing Countries and other locations presenting unique technological and market challenges."
    ),
    "23c": N_(
        "Regional backbone infrastructure, regional networks, Network Access Points and related regional projects, to link networks across borders and in economically disadvantaged regions which may require coordinated policies including legal, regulatory and financial frameworks, and seed financing, and would benefit from sharing experiences and best practices."
    ),
    "23d": N_(
        "Broadband capacity to facilitate the delivery of a broader range of services and applications, promote investment and provide Internet access at affordable prices to both existing and new users."
    ),
    "23e": N_(
        "Coordinated assistance, as appropriate, for countries referred to in paragraph 16 of the Geneva Declaration of Principles, particularly Least Developed Countries and Small Island Developing States, in order to improve effectiveness and to lower transaction costs associated with the delivery of international donor support."
    ),
    "23f": N_(
        "ICT applications and content aimed at the integration of ICTs into the implementation of poverty eradication strategies and in sector programmes, particularly in health, education, agriculture and the environment."
    ),
    "23g": N_(
        "Sustainability of Information Society related projects, for example the maintenance of ICT infrastructure."
    ),
    "23h": N_("Special needs of Small, Medium and Micro Enterprises (SMMEs), such as funding requirements."),
    "23i": N_("Local development and manufacturing of ICT applications and technologies by developing countries."),
    "23j": N_(
        "Activities on ICT-related institutional reform and enhanced capacity on legal and regulatory framework."
    ),
    "23k": N_(
        "Improving organizational structures and business-process change aimed at optimizing the impact and effectiveness of ICT projects and other projects with significant ICT components."
    ),
    "23l": N_(
        "Local government and initiatives based in local communities that deliver ICT services to communities in areas such as education, health and livelihood support."
    ),
}
CATEGORY_NAMES = {
    "DAC": N_("ODA recipients (OECD DAC List)"),
    "EIT": N_("Economies in transition"),
    "FCS": N_("Fragile and conflict-affected situations"),
    "HIPC": N_("Heavily Indebted Poor Countries"),
    "LDC": N_("Least Developed Countries"),
    "LLDC": N_("Landlocked Developing Countries"),
    "OCC": N_("Countries and territories under occupation"),
    "SIDS": N_("Small Island Developing States"),
}
CATEGORY_DESCRIPTIONS = {
    "DAC": N_(
        "Countries and territories on the OECD DAC List of ODA Recipients, with dated membership: former recipients keep the years they were on the list"
    ),
    "EIT": N_(
        "Countries with economies in transition (UN World Economic Situation and Prospects: Commonwealth of Independent States, Georgia and South-Eastern Europe)"
    ),
    "FCS": N_(
        "Countries recovering from conflict or natural disasters (World Bank list of fragile and conflict-affected situations)"
    ),
    "HIPC": N_("Countries eligible for or that received debt relief under the HIPC Initiative"),
    "LDC": N_("Countries on the UN list of Least Developed Countries (Committee for Development Policy)"),
    "LLDC": N_("Landlocked developing countries followed by UN-OHRLLS"),
    "OCC": N_("Countries and territories under occupation (Tunis Commitment para. 21)"),
    "SIDS": N_("UN member states and associate members on the UN-OHRLLS list of SIDS"),
}
REGION_NAMES = {
    "001": N_("World"),
    "002": N_("Africa"),
    "005": N_("South America"),
    "009": N_("Oceania"),
    "011": N_("Western Africa"),
    "013": N_("Central America"),
    "014": N_("Eastern Africa"),
    "015": N_("Northern Africa"),
    "017": N_("Middle Africa"),
    "018": N_("Southern Africa"),
    "019": N_("Americas"),
    "021": N_("Northern America"),
    "029": N_("Caribbean"),
    "030": N_("Eastern Asia"),
    "034": N_("Southern Asia"),
    "035": N_("South-eastern Asia"),
    "039": N_("Southern Europe"),
    "053": N_("Australia and New Zealand"),
    "054": N_("Melanesia"),
    "057": N_("Micronesia"),
    "061": N_("Polynesia"),
    "142": N_("Asia"),
    "143": N_("Central Asia"),
    "145": N_("Western Asia"),
    "150": N_("Europe"),
    "151": N_("Eastern Europe"),
    "154": N_("Northern Europe"),
    "155": N_("Western Europe"),
    "202": N_("Sub-Saharan Africa"),
    "419": N_("Latin America and the Caribbean"),
}
INCOME_GROUP_NAMES = {
    "LDC": N_("Least developed countries"),
    "LMIC": N_("Lower-middle income"),
    "OLIC": N_("Other low income"),
    "UMIC": N_("Upper-middle income"),
}


def _code(value) -> str | None:
    return getattr(value, "code", value)


def _translated(table: dict[str, str], value, fallback: str = "") -> str:
    code = _code(value)
    english = table.get(code) if code else None
    if english:
        return gettext(english)
    return fallback or getattr(value, "name", None) or getattr(value, "short_name", None) or (code or "")


def area_name(value, fallback: str = "") -> str:
    """A paragraph 23 area's short name (a code, or an object with .code)."""
    return _translated(AREA_NAMES, value, fallback)


def area_description(value, fallback: str = "") -> str:
    return _translated(AREA_DESCRIPTIONS, value, fallback)


def category_name(value, fallback: str = "") -> str:
    """A recipient category's name (LDC, LLDC, SIDS...)."""
    return _translated(CATEGORY_NAMES, value, fallback)


def category_description(value, fallback: str = "") -> str:
    return _translated(CATEGORY_DESCRIPTIONS, value, fallback)


def income_group_name(value, fallback: str = "") -> str:
    return _translated(INCOME_GROUP_NAMES, value, fallback)


def region_name(value, fallback: str = "") -> str:
    """A UN M49 region's name as the M49 standard words it in the reader's language."""
    return _translated(REGION_NAMES, value, fallback)


def country_name(value, fallback: str = "") -> str:
    """A country's name in the reader's language: CLDR by its ISO 3166 alpha-2 code (a Country,
    or an alpha-2 code), else the registry's own name."""
    iso2 = getattr(value, "iso2", value)
    english = fallback or getattr(value, "name", "") or (iso2 or "")
    # English keeps the registry's own UN-style names (CLDR's English says "Congo - Kinshasa").
    if not iso2 or (current_language() == DEFAULT_LANGUAGE and english):
        return english
    return territory_name(iso2, english)


FILTERS = {
    "area_name": area_name,
    "area_description": area_description,
    "category_name": category_name,
    "category_description": category_description,
    "income_group_name": income_group_name,
    "region_name": region_name,
    "country_name": country_name,
}
