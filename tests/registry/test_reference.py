import datetime as dt
import shutil
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import CategoryMembership, Country, PriorityArea
from registry.services.reference import categories_on, countries_in_region, load_reference, members_on

TODAY = dt.date.today()


@pytest.mark.parametrize(
    ("iso3", "day", "included", "excluded"),
    [
        ("HTI", TODAY, {"LDC", "SIDS"}, set()),
        ("NPL", TODAY, {"LDC", "LLDC"}, {"SIDS"}),
        ("BTN", dt.date(2022, 6, 30), {"LDC", "LLDC"}, set()),
        ("BTN", dt.date(2024, 6, 30), {"LLDC"}, {"LDC"}),
        ("MDG", TODAY, {"LDC"}, {"SIDS"}),
        ("BOL", TODAY, {"LLDC"}, {"LDC", "SIDS"}),
        ("VUT", dt.date(2020, 12, 3), {"LDC", "SIDS"}, set()),
        ("VUT", dt.date(2020, 12, 4), {"SIDS"}, {"LDC"}),
        ("STP", dt.date(2024, 1, 1), {"LDC", "SIDS"}, set()),
        ("STP", dt.date(2025, 1, 1), {"SIDS"}, {"LDC"}),
        ("PSE", TODAY, {"OCC"}, set()),
        ("AFG", TODAY, {"LDC", "LLDC"}, {"SIDS"}),
        ("FJI", TODAY, {"SIDS"}, {"LDC", "LLDC"}),
        ("ETH", TODAY, {"LDC", "LLDC", "HIPC"}, set()),
        ("KAZ", TODAY, {"LLDC", "EIT"}, {"LDC"}),
        ("FRA", TODAY, set(), {"LDC", "LLDC", "SIDS", "HIPC"}),
    ],
)
def test_recipient_category_facts(app, iso3, day, included, excluded):
    categories = set(categories_on(iso3, day))
    assert included <= categories
    assert not (excluded & categories)


def test_the_model_answers_as_of_a_date_like_the_query(app):
    bhutan = db.session.get(Country, "BTN")
    assert "LDC" in bhutan.categories_on(dt.date(2022, 6, 30))
    assert "LDC" not in bhutan.categories_on(dt.date(2024, 6, 30))


@pytest.mark.parametrize(
    ("iso3", "region", "subregion"),
    [("KEN", "002", "202"), ("EGY", "002", "015"), ("BOL", "019", "419"), ("FJI", "009", "054"), ("NPL", "142", "034")],
)
def test_m49_regions(app, iso3, region, subregion):
    country = db.session.get(Country, iso3)
    assert (country.region_code, country.subregion_code) == (region, subregion)


def test_every_iso_country_and_territory_is_there(app):
    import pycountry

    codes = set(db.session.scalars(select(Country.iso3)))
    assert codes == {c.alpha_3 for c in pycountry.countries} | {"XKX"}  # and Kosovo, which ISO does not code
    namibia = db.session.get(Country, "NAM")
    assert namibia.iso2 == "NA"


def test_kosovo_is_stored_without_a_numeric_code_and_dated_on_the_dac_list(app):
    kosovo = db.session.get(Country, "XKX")
    assert (kosovo.iso2, kosovo.numeric, kosovo.region_code, kosovo.subregion_code) == ("XK", None, "150", "039")
    assert "DAC" in kosovo.categories_on(dt.date(2023, 6, 30))
    assert "DAC" not in kosovo.categories_on(dt.date(2005, 6, 30))
    assert "XKX" in countries_in_region("039")
    # a former recipient is on the list for its old years only
    assert "KOR" in members_on("DAC", dt.date(1995, 6, 30))
    assert "KOR" not in members_on("DAC", dt.date(2005, 6, 30))


def test_dac_recipients_and_income_groups(app):
    assert db.session.get(Country, "NPL").dac_recipient is True
    assert db.session.get(Country, "NPL").income_group == "LDC"
    assert db.session.get(Country, "IND").income_group == "LMIC"
    assert db.session.get(Country, "BRA").income_group == "UMIC"
    assert db.session.get(Country, "FRA").dac_recipient is False
    assert db.session.get(Country, "FRA").income_group is None


def test_current_list_sizes(app):
    assert len(members_on("LDC", dt.date(2025, 6, 1))) == 44
    assert len(members_on("LLDC", dt.date(2025, 6, 1))) == 32


def test_twelve_priority_areas_six_on_the_main_list(app):
    areas = db.session.scalars(select(PriorityArea).order_by(PriorityArea.code)).all()
    assert [a.code for a in areas] == [f"23{c}" for c in "abcdefghijkl"]
    assert [a.code for a in areas if a.main_list] == ["23a", "23b", "23c", "23d", "23e", "23f"]


def test_loading_twice_changes_nothing(app):
    counts = load_reference()
    assert not counts.changed


def test_an_updated_file_updates_the_rows(app, tmp_path):
    source = Path(str(resources.files("registry").joinpath("data")))
    data = tmp_path / "data"
    shutil.copytree(source, data)
    memberships = data / "category_memberships.csv"
    lines = memberships.read_text("utf-8").splitlines()
    # Nepal graduates (in this edited copy of the list) on 2026-11-24.
    lines = [
        line.replace("NPL,LDC,1971-11-18,,", "NPL,LDC,1971-11-18,2026-11-24,") if line.startswith("NPL,LDC,") else line
        for line in lines
    ]
    memberships.write_text("\n".join(lines) + "\n", "utf-8")
    countries = data / "countries.csv"
    countries.write_text(countries.read_text("utf-8").replace(",Kenya,", ",Kenya (edited),"), "utf-8")

    counts = load_reference(data)
    assert counts.updated == {"countries": 1, "category_memberships": 1}
    assert db.session.get(Country, "KEN").name == "Kenya (edited)"
    assert "LDC" in categories_on("NPL", dt.date(2026, 11, 23))
    assert "LDC" not in categories_on("NPL", dt.date(2026, 11, 24))
    # Rows dropped from the file are dropped from the table.
    lines = [line for line in memberships.read_text("utf-8").splitlines() if not line.startswith("PSE,OCC")]
    memberships.write_text("\n".join(lines) + "\n", "utf-8")
    counts = load_reference(data)
    assert counts.deleted == {"category_memberships": 1}
    assert (
        db.session.scalar(
            select(func.count()).select_from(CategoryMembership).where(CategoryMembership.category_code == "OCC")
        )
        == 0
    )
