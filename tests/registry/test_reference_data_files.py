"""Checks on the reference data files in registry/data.

These tests read the CSV/JSON files directly with the csv module: no app, no database.
When the UNSD M49 methodology table is available (shared fixture beside the repo),
region codes and the current LDC/LLDC/SIDS memberships are compared with it.
"""

import csv
import datetime as dt
import json
import re
from collections import defaultdict
from pathlib import Path

import pycountry
import pytest

DATA_DIR = Path(__file__).resolve().parents[2] / "registry" / "data"
M49_FIXTURE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "m49" / "UNSD-Methodology_M49.csv"

OUR_FILES = {
    "regions.csv": ["code", "name", "level", "parent_code"],
    "countries.csv": [
        "iso3",
        "iso2",
        "numeric",
        "name",
        "name_fr",
        "region_code",
        "subregion_code",
        "intermediate_code",
        "dac_recipient",
        "income_group",
    ],
    "category_memberships.csv": ["iso3", "category", "valid_from", "valid_to", "source"],
    "dac_members.csv": ["member", "iso3", "name", "valid_from", "valid_to", "iati_org_prefixes", "source"],
    "priority_areas.csv": ["code", "short_name", "description", "main_list"],
    "euro_pegs.csv": ["code", "per_euro", "valid_from", "source"],
    "income_groups.csv": ["code", "name"],
}
CATEGORIES = {"LDC", "LLDC", "SIDS", "HIPC", "EIT", "FCS", "OCC", "DAC"}
# On the DAC list but not in ISO 3166-1: Kosovo, XK in IATI, XKX where three letters are needed.
NOT_IN_ISO = {"XKX"}
INCOME_GROUPS = {"LDC", "OLIC", "LMIC", "UMIC"}
LEVELS = {"world", "region", "subregion", "intermediate"}
PARENT_LEVEL = {"region": "world", "subregion": "region", "intermediate": "subregion"}

# Countries/territories in ISO 3166-1 that the M49 table does not list separately.
NOT_IN_M49 = {"TWN", "XKX"}
# Non-UN-member SIDS (associate members of UN regional commissions) that UN-OHRLLS lists
# but the M49 table does not flag as SIDS. Documented in SOURCES.md.
SIDS_EXTRAS_NOT_IN_M49 = {"BMU", "CYM", "GLP", "MTQ", "TCA"}


def read_rows(name):
    with open(DATA_DIR / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def parse_date(value):
    return dt.date.fromisoformat(value) if value else None


@pytest.fixture(scope="module")
def regions():
    return {r["code"]: r for r in read_rows("regions.csv")}


@pytest.fixture(scope="module")
def countries():
    return {r["iso3"]: r for r in read_rows("countries.csv")}


@pytest.fixture(scope="module")
def memberships():
    return read_rows("category_memberships.csv")


def is_member(memberships, iso3, category, on):
    for m in memberships:
        if m["iso3"] != iso3 or m["category"] != category:
            continue
        start, end = parse_date(m["valid_from"]), parse_date(m["valid_to"])
        if start <= on and (end is None or on < end):
            return True
    return False


def current_members(memberships, category, today=None):
    today = today or dt.date.today()
    return {
        m["iso3"]
        for m in memberships
        if m["category"] == category
        and parse_date(m["valid_from"]) <= today
        and (not m["valid_to"] or parse_date(m["valid_to"]) > today)
    }


# --------------------------------------------------------------------------- format


@pytest.mark.parametrize("name,header", sorted(OUR_FILES.items()))
def test_file_format(name, header):
    raw = (DATA_DIR / name).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "no BOM"
    text = raw.decode("utf-8")
    assert not any(line.startswith("#") for line in text.splitlines()), "no comment lines"
    with open(DATA_DIR / name, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == header
        rows = list(reader)
    assert rows, "file has data rows"
    assert all(len(r) == len(header) for r in rows)
    assert all(v == v.strip() for r in rows for v in r), "no stray whitespace"
    keys = [r[0] for r in rows]
    assert keys == sorted(keys), "sorted by first column"


def test_no_machine_paths_in_files():
    for name in [*OUR_FILES, "SOURCES.md", "sources.json"]:
        path = DATA_DIR / name
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "/work/" not in text and "/tmp/" not in text and "/home/" not in text, path.name


# --------------------------------------------------------------------------- regions


def test_regions(regions):
    assert regions["001"]["level"] == "world" and regions["001"]["parent_code"] == ""
    for code in ("002", "019", "142", "150", "009"):
        assert regions[code]["level"] == "region"
    for code in ("015", "202", "419", "021"):
        assert regions[code]["level"] == "subregion"
    for code in ("014", "017", "018", "011", "029", "013", "005"):
        assert regions[code]["level"] == "intermediate"
    for code, r in regions.items():
        assert re.fullmatch(r"\d{3}", code)
        assert r["name"]
        assert r["level"] in LEVELS
        if r["level"] != "world":
            parent = regions[r["parent_code"]]
            assert parent["level"] == PARENT_LEVEL[r["level"]], code


# --------------------------------------------------------------------------- countries


def test_countries_match_pycountry(countries):
    iso = {c.alpha_3: c for c in pycountry.countries}
    assert set(countries) == set(iso) | NOT_IN_ISO
    assert len(countries) == 250
    for iso3, r in countries.items():
        if iso3 in NOT_IN_ISO:
            continue
        c = iso[iso3]
        assert r["iso2"] == c.alpha_2
        assert r["numeric"] == c.numeric and re.fullmatch(r"\d{3}", r["numeric"])
        assert r["name"], iso3
        assert r["name_fr"], iso3


def test_country_regions_exist_and_nest(countries, regions):
    for iso3, r in countries.items():
        reg, sub, inter = r["region_code"], r["subregion_code"], r["intermediate_code"]
        if not reg:
            assert not sub and not inter, iso3
            continue
        assert regions[reg]["level"] == "region", iso3
        assert sub and regions[sub]["level"] == "subregion", iso3
        assert regions[sub]["parent_code"] == reg, iso3
        if inter:
            assert regions[inter]["level"] == "intermediate", iso3
            assert regions[inter]["parent_code"] == sub, iso3
    assert countries["ATA"]["region_code"] == ""
    assert countries["MDG"]["intermediate_code"] == "014"
    assert countries["BOL"]["subregion_code"] == "419"
    assert countries["HTI"]["intermediate_code"] == "029"


def test_dac_columns(countries):
    for iso3, r in countries.items():
        assert r["dac_recipient"] in {"0", "1"}, iso3
        if r["dac_recipient"] == "1":
            assert r["income_group"] in INCOME_GROUPS, iso3
            assert r["name_fr"], iso3
        else:
            assert r["income_group"] == "", iso3
    assert countries["HTI"]["income_group"] == "LDC"


def test_every_income_group_has_its_dac_label(countries):
    labels = {r["code"]: r["name"] for r in read_rows("income_groups.csv")}
    assert set(labels) == INCOME_GROUPS
    assert labels["OLIC"] == "Other low income" and labels["LDC"] == "Least developed countries"
    assert countries["PRK"]["income_group"] == "OLIC"
    assert countries["BTN"]["income_group"] == "LMIC"  # graduated from LDC in December 2023
    assert countries["FRA"]["dac_recipient"] == "0"
    assert countries["PSE"]["dac_recipient"] == "1"


# --------------------------------------------------------------------------- memberships


def test_membership_rows_valid(memberships, countries):
    assert memberships
    for m in memberships:
        assert m["iso3"] in countries, m
        assert m["iso3"] in NOT_IN_ISO or pycountry.countries.get(alpha_3=m["iso3"]) is not None, m
        assert m["category"] in CATEGORIES, m
        assert m["source"], m
        start, end = parse_date(m["valid_from"]), parse_date(m["valid_to"])
        assert start is not None, m
        if end is not None:
            assert start < end, m


def test_no_overlapping_periods(memberships):
    periods = defaultdict(list)
    for m in memberships:
        end = parse_date(m["valid_to"]) or dt.date.max
        periods[(m["iso3"], m["category"])].append((parse_date(m["valid_from"]), end))
    for key, spans in periods.items():
        spans.sort()
        for (_, prev_end), (next_start, _) in zip(spans, spans[1:], strict=False):
            assert prev_end <= next_start, key


def test_category_facts(memberships):
    def member(iso3, category, on):
        return is_member(memberships, iso3, category, dt.date.fromisoformat(on))

    today = dt.date.today().isoformat()
    assert member("HTI", "LDC", today) and member("HTI", "SIDS", today)
    assert member("NPL", "LDC", today) and member("NPL", "LLDC", today)
    assert member("BTN", "LDC", "2022-06-30")
    assert not member("BTN", "LDC", "2024-06-30")
    assert not member("MDG", "SIDS", today)
    assert member("BOL", "LLDC", today) and not member("BOL", "LDC", today)
    assert member("VUT", "LDC", "2020-12-03") and not member("VUT", "LDC", "2020-12-04")
    assert member("STP", "LDC", "2024-01-01") and not member("STP", "LDC", "2025-01-01")
    assert member("BWA", "LDC", "1990-01-01") and not member("BWA", "LDC", "1995-01-01")
    assert member("PSE", "OCC", today)
    assert member("UKR", "EIT", today)
    assert member("SOM", "HIPC", today)
    assert member("YEM", "FCS", "2024-07-01")


def test_category_sizes(memberships):
    assert len(current_members(memberships, "LDC")) == 44
    assert len(current_members(memberships, "LLDC")) == 32
    assert len(current_members(memberships, "HIPC")) == 39
    un_member_sids = current_members(memberships, "SIDS") - {
        # non-UN-member SIDS (territories / associate members)
        "ABW", "AIA", "ASM", "BES", "BMU", "COK", "CUW", "CYM", "GLP", "GUM", "MNP",
        "MSR", "MTQ", "NCL", "NIU", "PRI", "PYF", "SXM", "TCA", "VGB", "VIR",
    }  # fmt: skip
    # UN-OHRLLS editions have counted 38-39 UN member SIDS (e.g. with Bahrain); the UNSD
    # M49 table flags 37, and the file follows M49 for UN members (see SOURCES.md).
    assert len(un_member_sids) == 37


# --------------------------------------------------------------------------- priority areas


def test_priority_areas():
    rows = read_rows("priority_areas.csv")
    assert [r["code"] for r in rows] == [f"23{c}" for c in "abcdefghijkl"]
    for r in rows:
        assert r["short_name"] and r["description"]
        assert r["main_list"] == ("1" if r["code"] <= "23f" else "0")
    by_code = {r["code"]: r for r in rows}
    assert "Small Island Developing States" in by_code["23b"]["description"]
    assert "Network Access Points" in by_code["23c"]["description"]
    assert "maintenance of ICT infrastructure" in by_code["23g"]["description"]


# --------------------------------------------------------------------------- sources


def test_sources_files():
    assert (DATA_DIR / "SOURCES.md").is_file()
    sources = json.loads((DATA_DIR / "sources.json").read_text(encoding="utf-8"))
    for name in OUR_FILES:
        assert name in sources, name
        assert sources[name]["source"]
        dt.date.fromisoformat(sources[name]["as_of"])
        assert name in (DATA_DIR / "SOURCES.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- UNSD M49 fixture


@pytest.fixture(scope="module")
def m49():
    if not M49_FIXTURE.is_file():
        pytest.skip("UNSD M49 fixture not available")
    with open(M49_FIXTURE, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    return {r["ISO-alpha3 Code"]: r for r in rows if r["ISO-alpha3 Code"]}


@pytest.mark.fixtures
def test_m49_region_codes(m49, countries, regions):
    assert set(m49) <= set(countries)
    assert not set(m49) & NOT_IN_M49
    assert set(countries) - set(m49) == NOT_IN_M49
    diffs = []
    for iso3, f in m49.items():
        ours = countries[iso3]
        theirs = (f["Region Code"], f["Sub-region Code"], f["Intermediate Region Code"])
        mine = (ours["region_code"], ours["subregion_code"], ours["intermediate_code"])
        if theirs != mine:
            diffs.append((iso3, theirs, mine))
        assert f["M49 Code"] == ours["numeric"], iso3
    assert diffs == []
    for f in m49.values():
        for level in ("Region", "Sub-region", "Intermediate Region"):
            code = f[f"{level} Code"]
            if code:
                assert regions[code]["name"] == f[f"{level} Name"], code


@pytest.mark.parametrize(
    "category,column",
    [
        ("LDC", "Least Developed Countries (LDC)"),
        ("LLDC", "Land Locked Developing Countries (LLDC)"),
    ],
)
@pytest.mark.fixtures
def test_m49_ldc_lldc_flags(m49, memberships, category, column):
    flagged = {iso3 for iso3, f in m49.items() if f[column].strip()}
    ours = current_members(memberships, category)
    assert sorted(ours - flagged) == [] and sorted(flagged - ours) == []


@pytest.mark.fixtures
def test_m49_sids_flags(m49, memberships):
    column = "Small Island Developing States (SIDS)"
    flagged = {iso3 for iso3, f in m49.items() if f[column].strip()}
    ours = current_members(memberships, "SIDS")
    # every M49 SIDS is in our list ...
    assert sorted(flagged - ours) == []
    # ... and our extras are only documented non-UN-member SIDS that M49 does not flag
    assert ours - flagged <= SIDS_EXTRAS_NOT_IN_M49
    assert not flagged & SIDS_EXTRAS_NOT_IN_M49


# --------------------------------------------------------------------------- Kosovo and the DAC list


def test_kosovo_is_a_dac_recipient_in_southern_europe(countries, memberships):
    kosovo = countries["XKX"]
    assert (kosovo["iso2"], kosovo["numeric"], kosovo["name"]) == ("XK", "", "Kosovo")
    assert (kosovo["region_code"], kosovo["subregion_code"], kosovo["intermediate_code"]) == ("150", "039", "")
    assert kosovo["dac_recipient"] == "1" and kosovo["income_group"] == "UMIC"
    assert is_member(memberships, "XKX", "DAC", dt.date(2024, 6, 30))
    assert not is_member(memberships, "XKX", "DAC", dt.date(2007, 6, 30))  # reported under Serbia then
    assert is_member(memberships, "XKX", "FCS", dt.date(2024, 7, 1))


def test_dac_column_is_the_dated_list_in_force_for_2024_and_2025_flows(countries, memberships):
    """countries.csv describes the list for 2024-2025 flows; the dated rows must agree with it."""
    for day in (dt.date(2024, 1, 1), dt.date(2025, 12, 31)):
        on_list = {m["iso3"] for m in memberships if is_member(memberships, m["iso3"], "DAC", day)}
        assert on_list == {iso3 for iso3, r in countries.items() if r["dac_recipient"] == "1"}, day


@pytest.mark.parametrize(
    "iso3,last_year",
    [
        ("KOR", 1999), ("CYP", 1999), ("ISR", 1996), ("HRV", 2010), ("SVN", 1995), ("MLT", 2002),
        ("BHR", 2004), ("SAU", 2007), ("OMN", 2010), ("TTO", 2010), ("BRB", 2010), ("KNA", 2013),
        ("CHL", 2017), ("URY", 2017), ("SYC", 2017), ("COK", 2019), ("ATG", 2021), ("NRU", 2025),
    ],
)  # fmt: skip
def test_former_recipients_keep_their_dated_membership(memberships, countries, iso3, last_year):
    assert is_member(memberships, iso3, "DAC", dt.date(last_year, 12, 31))
    assert is_member(memberships, iso3, "DAC", dt.date(last_year - 3, 6, 30))
    assert not is_member(memberships, iso3, "DAC", dt.date(last_year + 1, 1, 1))
    # every DAC row starts on the first day of a membership and the list's rows have a source
    rows = [m for m in memberships if m["iso3"] == iso3 and m["category"] == "DAC"]
    assert rows and all("History of DAC Lists" in m["source"] for m in rows)
