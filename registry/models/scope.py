"""A project's geographic scope and the kind of cross-border infrastructure it builds.

Regional and cross-border works (internet exchange points, regional backbones, submarine
cables) serve several countries at once: one project, several recipients, often paid for by
regional funds and banks (Tunis Agenda paragraph 23c; WSIS+10, C11). The scope says so; when a
project states none it is derived from its recipients (``derive_scope``) and shown as derived.

Scope codes map to and from the IATI ActivityScope codelist: 1 Global, 2 Regional,
3 Multi-national, 4 National, 5-8 sub-national and single location (all within one country,
so national here).
"""

from __future__ import annotations

from collections.abc import Iterable

from registry.models.types import N_

NATIONAL, MULTI_COUNTRY, REGIONAL, GLOBAL = "national", "multi_country", "regional", "global"
SCOPES = (NATIONAL, MULTI_COUNTRY, REGIONAL, GLOBAL)
SCOPE_LABELS = {
    NATIONAL: N_("National"),
    MULTI_COUNTRY: N_("Multi-country"),
    REGIONAL: N_("Regional"),
    GLOBAL: N_("Global"),
}
# IATI ActivityScope code -> scope; and the code each scope is written back as.
IATI_ACTIVITY_SCOPES = {
    "1": GLOBAL,
    "2": REGIONAL,
    "3": MULTI_COUNTRY,
    "4": NATIONAL,
    "5": NATIONAL,
    "6": NATIONAL,
    "7": NATIONAL,
    "8": NATIONAL,
}
SCOPE_IATI_CODES = {GLOBAL: "1", REGIONAL: "2", MULTI_COUNTRY: "3", NATIONAL: "4"}
# Words a spreadsheet or a form may use for a scope.
_SCOPE_WORDS = {
    "multi_national": MULTI_COUNTRY,
    "multinational": MULTI_COUNTRY,
    "multi_country": MULTI_COUNTRY,
    "multicountry": MULTI_COUNTRY,
    "cross_border": MULTI_COUNTRY,
}

INFRASTRUCTURE_KINDS = (
    "ixp",
    "backbone",
    "submarine_cable",
    "satellite",
    "data_centre",
    "spectrum_regulation",
    "none",
)
INFRASTRUCTURE_LABELS = {
    "ixp": N_("Internet exchange point (IXP)"),
    "backbone": N_("Backbone network"),
    "submarine_cable": N_("Submarine cable"),
    "satellite": N_("Satellite"),
    "data_centre": N_("Data centre"),
    "spectrum_regulation": N_("Spectrum and regulation"),
    "none": N_("No infrastructure"),
}
_INFRASTRUCTURE_WORDS = {
    "internet_exchange_point": "ixp",
    "exchange_point": "ixp",
    "backbone_network": "backbone",
    "regional_backbone": "backbone",
    "fibre_backbone": "backbone",
    "submarine": "submarine_cable",
    "undersea_cable": "submarine_cable",
    "data_center": "data_centre",
    "datacentre": "data_centre",
    "datacenter": "data_centre",
    "spectrum": "spectrum_regulation",
    "regulation": "spectrum_regulation",
    "spectrum_and_regulation": "spectrum_regulation",
    "spectrum_regulation": "spectrum_regulation",
    "no_infrastructure": "none",
}


def _words(value: object) -> str:
    text = str(value if value is not None else "").strip().lower()
    if text.endswith(".0"):
        text = text[:-2]
    return "_".join(text.replace("-", " ").replace("_", " ").replace("/", " ").split())


def scope_code(value: object) -> str | None:
    """The scope of what a form, a file or the API gives: a scope (national, multi_country,
    regional, global, any case, spaces or hyphens), the words multi-national or cross-border, or an
    IATI ActivityScope code (1-8, also 3.0 from a spreadsheet). None for an empty value;
    ValueError for anything else."""
    text = _words(value)
    if not text:
        return None
    if text in SCOPES:
        return text
    if text in IATI_ACTIVITY_SCOPES:
        return IATI_ACTIVITY_SCOPES[text]
    if text in _SCOPE_WORDS:
        return _SCOPE_WORDS[text]
    raise ValueError(f"unknown scope {value!r}")


def infrastructure_code(value: object) -> str | None:
    """The infrastructure kind of what a form, a file or the API gives (the code or its words:
    IXP, internet exchange point, backbone, submarine cable, satellite, data centre/center,
    spectrum and regulation, none). None for an empty value; ValueError for anything else."""
    text = _words(value).replace("_&_", "_and_")
    if not text:
        return None
    if text in INFRASTRUCTURE_KINDS:
        return text
    if text in _INFRASTRUCTURE_WORDS:
        return _INFRASTRUCTURE_WORDS[text]
    raise ValueError(f"unknown infrastructure {value!r}")


WORLD = "001"  # the M49 code of the world: a project recorded against it is global


def derive_scope(countries: Iterable[str], regions: Iterable[str]) -> str | None:
    """The scope a project's recipients imply: one country national, several countries (or a
    country and a region) multi-country, regions only regional (the world only: global);
    None without any recipient. The SQL form is registry.services.scope.effective_scope."""
    countries, regions = set(countries), set(regions)
    if len(countries) > 1 or (countries and regions):
        return MULTI_COUNTRY
    if countries:
        return NATIONAL
    if regions:
        return GLOBAL if regions == {WORLD} else REGIONAL
    return None
