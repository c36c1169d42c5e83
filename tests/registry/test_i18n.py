"""The language of each request, the switch, and numbers, dates and names for the reader's locale."""

from __future__ import annotations

import datetime as dt
import re
from contextlib import contextmanager
from decimal import Decimal

from flask_babel import refresh

from registry import i18n
from registry.extensions import db
from tests.sessions import log_in


@contextmanager
def reading_in(app, language: str, path: str = "/"):
    """A request context of a reader whose browser asks for ``language``."""
    with app.test_request_context(path, headers={"Accept-Language": language}):
        refresh()
        yield


def html_lang(response) -> tuple[str, str]:
    match = re.search(r'<html lang="([^"]+)" dir="([^"]+)"', response.get_data(as_text=True))
    assert match, "no lang and dir on <html>"
    return match.group(1), match.group(2)


def test_pages_follow_the_browser_then_english(client):
    assert html_lang(client.get("/")) == ("en", "ltr")
    assert html_lang(client.get("/", headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8"})) == ("fr", "ltr")
    assert html_lang(client.get("/", headers={"Accept-Language": "zh-CN"})) == ("zh", "ltr")
    assert html_lang(client.get("/", headers={"Accept-Language": "de-DE"})) == ("en", "ltr")


def test_arabic_pages_are_laid_out_right_to_left(client):
    assert html_lang(client.get("/", headers={"Accept-Language": "ar"})) == ("ar", "rtl")


def test_every_page_offers_the_six_languages_each_named_in_itself(client):
    page = client.get("/projects").get_data(as_text=True)
    for code, name in i18n.LANGUAGES.items():
        assert f'value="{code}" lang="{code}"' in page and name in page


def test_the_switch_remembers_the_choice_on_the_browser_and_returns_to_the_page(client):
    response = client.post("/language", data={"language": "es", "next": "/projects?status=active"})
    assert response.status_code == 302 and response.headers["Location"] == "/projects?status=active"
    assert "lang=es" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
    # the choice outranks the browser's header from now on
    assert html_lang(client.get("/", headers={"Accept-Language": "fr"})) == ("es", "ltr")


def test_the_switch_never_sends_to_another_site(client):
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = client.post("/language", data={"language": "fr", "next": target})
        assert response.headers["Location"] == "/"
    # an unknown language changes nothing
    response = client.post("/language", data={"language": "xx", "next": "/projects"})
    assert "Set-Cookie" not in response.headers


def test_a_logged_in_users_choice_is_their_setting_on_every_device(app, client, make_user):
    user, _ = make_user("analyst")
    db.session.commit()
    log_in(client, user)
    client.post("/language", data={"language": "ru", "next": "/"})
    db.session.refresh(user)
    assert user.language == "ru"
    other_device = app.test_client()
    log_in(other_device, user)
    assert html_lang(other_device.get("/", headers={"Accept-Language": "en"})) == ("ru", "ltr")


def test_api_errors_follow_accept_language_first(client, make_user):
    user, token = make_user("analyst")
    user.language = "ru"
    db.session.commit()
    with client.application.test_request_context("/api/v1/projects", headers={"Accept-Language": "fr"}):
        from flask import g

        g.user = user
        assert i18n.language_of_request() == "fr"
    with client.application.test_request_context("/projects", headers={"Accept-Language": "fr"}):
        from flask import g

        g.user = user
        assert i18n.language_of_request() == "ru"


def test_numbers_and_amounts_are_written_as_the_locale_writes_them(app):
    amount = Decimal("1250000.5")
    expected = {
        "en": "1,250,000.50 USD",
        "fr": "1\u202f250\u202f000,50 USD",
        "es": "1.250.000,50 USD",
        "ru": "1\xa0250\xa0000,50 USD",
    }
    for language, text in expected.items():
        with reading_in(app, language):
            assert i18n.money(amount, "USD") == text
    with reading_in(app, "en"):
        assert i18n.money(Decimal("1500"), "JPY") == "1,500 JPY"  # the currency's own decimals
        assert i18n.date(dt.date(2026, 12, 7)) == "Dec 7, 2026"
    with reading_in(app, "fr"):
        assert i18n.date(dt.date(2026, 12, 7)) == "7 déc. 2026"


def test_large_amounts_read_at_a_glance_with_the_exact_figure_kept(app):
    with reading_in(app, "en"):
        assert i18n.compact_number(Decimal("6754466233.43")) == "6.75 bn"
        assert i18n.compact_number(Decimal("12345678")) == "12.3 m"
        assert i18n.compact_number(Decimal("123456789")) == "123 m"
        assert i18n.compact_number(Decimal("2500000000000")) == "2.5 tn"
        assert i18n.compact_number(Decimal("950000.49")) == "950,000"
        markup = str(i18n.compact_money(Decimal("6754466233.43"), "USD"))
        assert 'title="6,754,466,233.43 USD"' in markup and ">6.75 bn USD<" in markup
        assert 'value="6754466233.43"' in markup
        assert 'title="1,234,567,890 XOF"' in str(i18n.compact_money(Decimal("1234567890"), "XOF"))
    with reading_in(app, "fr"):
        assert i18n.compact_number(Decimal("6754466233.43")) == "6,75\xa0Md"
    with reading_in(app, "ru"):
        assert i18n.compact_number(Decimal("12345678")) == "12,3\xa0млн"


def test_names_sort_as_readers_expect_not_by_code_point():
    names = ["Cuba", "Côte d'Ivoire", "Croatia", "Costa Rica", "Cameroon"]
    assert i18n.sorted_by_name(names) == ["Cameroon", "Costa Rica", "Côte d'Ivoire", "Croatia", "Cuba"]
    assert sorted(names) != i18n.sorted_by_name(names)  # plain sorting puts Côte d'Ivoire after Cuba


def test_a_chinese_reader_gets_names_in_pinyin_order(app):
    # Afghanistan ā fù hàn, Algeria ā ěr jí lì yà, Brazil bā xī, Costa Rica gē sī dá lí jiā,
    # Côte d'Ivoire kē tè dí wǎ, Cuba gǔ bā, China zhōng guó: the order of a Chinese
    # dictionary's pinyin index (tones break ties between equal letters)
    names = ["中国", "科特迪瓦", "古巴", "巴西", "哥斯达黎加", "阿尔及利亚", "阿富汗"]
    pinyin_order = ["阿尔及利亚", "阿富汗", "巴西", "哥斯达黎加", "古巴", "科特迪瓦", "中国"]
    with reading_in(app, "zh"):
        assert i18n.sorted_by_name(names) == pinyin_order
        # Latin names among Chinese ones keep their alphabetical place
        assert i18n.sorted_by_name(["ZTE", "阿富汗", "Bhutan"]) == ["阿富汗", "Bhutan", "ZTE"]
    with reading_in(app, "en"):  # the code points' radical-and-stroke order is not pinyin
        assert i18n.sorted_by_name(names) != pinyin_order


def test_country_names_come_from_the_readers_language(app):
    with reading_in(app, "fr"):
        assert i18n.territory_name("CI", "Côte d'Ivoire") == "Côte d’Ivoire"
        assert i18n.territory_name("NP", "Nepal") == "Népal"
    with reading_in(app, "zh"):
        assert i18n.territory_name("NP", "Nepal") == "尼泊尔"
    with reading_in(app, "en"):
        assert i18n.territory_name(None, "Regional") == "Regional"


def test_every_reference_name_of_the_shipped_files_is_in_the_catalogue_list():
    """A new or renamed area, category or income group cannot miss its translation."""
    import csv

    from registry import reference_names as names

    data = i18n.TRANSLATIONS.parent / "data"

    def read(name):
        with (data / name).open(encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    areas = read("priority_areas.csv")
    assert names.AREA_NAMES == {row["code"]: row["short_name"] for row in areas}
    assert names.AREA_DESCRIPTIONS == {row["code"]: row["description"] for row in areas}
    categories = read("recipient_categories.csv")
    assert names.CATEGORY_NAMES == {row["code"]: row["name"] for row in categories}
    assert names.CATEGORY_DESCRIPTIONS == {row["code"]: row["description"] for row in categories}
    assert names.INCOME_GROUP_NAMES == {row["code"]: row["name"] for row in read("income_groups.csv")}
    assert names.REGION_NAMES == {row["code"]: row["name"] for row in read("regions.csv")}


def test_countries_are_named_in_the_readers_language(app):
    from registry.reference_names import country_name, region_name

    with reading_in(app, "es"):
        assert country_name("CI", "Côte d'Ivoire") == "Côte d’Ivoire"
    with reading_in(app, "en"):
        assert region_name("002") == "Africa"
        assert region_name("XYZ", "Somewhere") == "Somewhere"  # not in the reference data: as given


def test_moments_are_written_in_the_readers_locale_in_utc(app):
    moment = dt.datetime(2026, 12, 7, 14, 5, 9, tzinfo=dt.UTC)
    with reading_in(app, "en"):
        assert i18n.datetime(moment) == "Dec 7, 2026, 14:05 UTC"
        assert i18n.datetime(moment, seconds=True) == "Dec 7, 2026, 14:05:09 UTC"
        assert i18n.month(dt.date(2027, 3, 1)) == "Mar 2027"
        # a moment in another zone is shown in UTC
        plus_two = dt.timezone(dt.timedelta(hours=2))
        assert i18n.datetime(dt.datetime(2026, 12, 7, 16, 5, tzinfo=plus_two)) == "Dec 7, 2026, 14:05 UTC"
    with reading_in(app, "zh"):
        assert i18n.date(dt.date(2026, 12, 7)) == "2026年12月7日"


def test_an_error_pages_status_line_is_in_the_readers_language(client):
    english = client.get("/no-such-page").get_data(as_text=True)
    assert "404 · Not Found" in english
    french = client.get("/no-such-page", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "404 · Not Found" not in french and "<h1>404 · " in french


def test_the_shipped_catalogues_answer_api_errors_in_the_callers_language(client):
    """With the real catalogues: the same 404 in the six languages, English without a header."""
    messages = {}
    for language in [None, *i18n.LANGUAGES]:
        headers = {"Accept-Language": language} if language else {}
        response = client.get("/api/v1/projects/999999", headers=headers)
        assert response.status_code == 404 and response.json["code"] == 404
        messages[language] = response.json["message"]
    assert messages[None] == messages["en"] == "No project with id 999999"
    assert messages["fr"] == "Aucun projet ayant l'identifiant 999999"
    others = [messages[code] for code in ("ar", "zh", "fr", "ru", "es")]
    assert len(set(others)) == 5 and all("999999" in text and text != messages["en"] for text in others)


def test_an_error_whose_message_carries_its_translation_is_shown_in_the_readers_language(app):
    """An importer's message (its id and parameters kept) raised inside a request: the error
    page and the API's JSON show it translated, through the shipped catalogue."""
    from importers.messages import Text
    from registry.errors import _respond
    from registry.models.types import N_

    message = Text(N_("Unknown price basis %(prices)s (current or constant)"), prices="'nominal'")
    assert message == "Unknown price basis 'nominal' (current or constant)"  # stored in English
    with reading_in(app, "fr", "/api/v1/imports"):
        response = _respond(422, message)
        assert response.get_json()["message"] == "Base de prix inconnue 'nominal' (current ou constant)"
    with reading_in(app, "en", "/api/v1/imports"):
        assert _respond(422, message).get_json()["message"] == str(message)
