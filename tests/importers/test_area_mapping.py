"""The DAC purpose code and keyword mapping to the paragraph 23 areas."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from importers.areas import Sector, infer_areas, whole_percentages
from importers.mapping import KeywordRule, MappingError, load_mapping, mapping_dir, read_mapping

DATA = Path(__file__).resolve().parents[2] / "importers" / "data"


def shares(areas) -> dict[str, int]:
    assert all(a.inferred for a in areas)
    assert sum(a.share for a in areas) == 100
    return {a.code: int(a.share) for a in areas}


def test_the_shipped_files_load_and_cover_the_communications_codes():
    mapping = read_mapping(DATA)
    for code in (
        "22010",
        "22011",
        "22012",
        "22013",
        "22020",
        "22030",
        "22040",
        "11330",
        "24030",
        "32130",
    ):
        parts = mapping.purpose_areas[code]
        assert sum(s for _, s in parts) == 100, code
    assert "99810" in mapping.unmapped_purposes
    assert mapping.recipients["298"].region == "002"
    assert mapping.recipients["248"].iso3 == "KEN"
    assert mapping.recipients["998"].iso3 is None and mapping.recipients["998"].region is None
    assert mapping.donors["12"].name == "United Kingdom"
    assert mapping.currencies["918"] == "EUR"


def test_a_sector_alone_gives_its_mapped_shares():
    assert shares(infer_areas([Sector("22020")], [""])) == {"23b": 40, "23d": 40, "23c": 20}
    assert shares(infer_areas([Sector("22011")], [])) == {"23j": 70, "23a": 30}


def test_sector_percentages_weight_the_areas():
    areas = infer_areas([Sector("11330", "1", Decimal(75)), Sector("32130", "1", Decimal(25))], [])
    assert shares(areas) == {"23a": 75, "23h": 25}


def test_missing_sector_percentages_split_equally():
    assert shares(infer_areas([Sector("11330"), Sector("32130")], [])) == {"23a": 50, "23h": 50}


def test_keywords_alone_decide_when_no_sector_maps():
    assert shares(infer_areas([Sector("99810")], ["Support to the telecom regulator"])) == {"23j": 100}
    assert shares(infer_areas([], ["Regional backbone and IXP"])) == {"23c": 100}


def test_sectors_and_keywords_combine_seventy_thirty():
    areas = infer_areas([Sector("11330")], ["Broadband for schools"])
    assert shares(areas) == {"23a": 70, "23d": 30}


def test_unknown_five_digit_code_falls_back_to_its_category():
    mapping = load_mapping()
    assert "22099" not in mapping.purpose_areas
    assert shares(infer_areas([Sector("22099")], [])) == shares(infer_areas([Sector("220", "2")], []))


def test_three_digit_vocabulary_two_category():
    assert shares(infer_areas([Sector("220", "2")], [])) == {
        "23d": 30,
        "23f": 30,
        "23a": 20,
        "23i": 20,
    }


def test_other_vocabularies_are_ignored_and_nothing_inferred_from_nothing():
    assert infer_areas([Sector("XYZ", "99")], ["nothing to see"]) == []


def test_acronyms_match_only_in_capitals_and_all_words_are_needed():
    assert shares(infer_areas([], ["Loans to SMEs"])) == {"23h": 100}
    assert infer_areas([], ["the smell of rain"]) == []
    # "rural" + "connectivity" needs both words; "rural" alone matches nothing.
    assert infer_areas([], ["rural roads"]) == []
    assert shares(infer_areas([], ["Connectivity in rural districts"])) == {"23b": 100}


def test_small_areas_are_dropped_and_shares_stay_whole():
    assert whole_percentages({"23a": Decimal(1), "23b": Decimal(1), "23c": Decimal(1)}) == {
        "23a": 34,
        "23b": 33,
        "23c": 33,
    }
    # 22040 has four areas; a keyword adds a fifth at 30 %; none falls under 5 %.
    areas = infer_areas([Sector("22040")], ["maintenance of school computers"])
    assert shares(areas) == {"23a": 14, "23d": 21, "23f": 21, "23g": 30, "23i": 14}


def test_an_edited_file_is_read_again_without_restart(app, tmp_path):
    folder = tmp_path / "mapping"
    shutil.copytree(DATA, folder, ignore=shutil.ignore_patterns("*.md"))
    app.config["IMPORT_MAPPING_DIR"] = str(folder)
    try:
        assert mapping_dir() == folder
        assert shares(infer_areas([Sector("32130")], [])) == {"23h": 100}
        path = folder / "dac_purpose_areas.csv"
        text = path.read_text("utf-8").replace(
            "32130,Small and medium-sized enterprises (SME) development,23h,100,",
            "32130,Small and medium-sized enterprises (SME) development,23i,100,",
        )
        path.write_text(text + "\n", "utf-8")
        assert shares(infer_areas([Sector("32130")], [])) == {"23i": 100}
    finally:
        app.config.pop("IMPORT_MAPPING_DIR")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("22020,Telecoms,23z,100,x", "not an area"),
        ("2202,Telecoms,23b,100,x", "not a DAC"),
        ("22020,Telecoms,23b,90,x", "add up to"),
    ],
)
def test_a_broken_mapping_file_is_refused_with_file_and_line(tmp_path, line, message):
    folder = tmp_path / "mapping"
    shutil.copytree(DATA, folder, ignore=shutil.ignore_patterns("*.md"))
    path = folder / "dac_purpose_areas.csv"
    rows = [r for r in path.read_text("utf-8").splitlines() if not r.startswith("22020,")]
    path.write_text("\n".join(rows + [line]) + "\n", "utf-8")
    with pytest.raises(MappingError, match=message):
        read_mapping(folder)


def test_reload_mapping_command_checks_and_reports(runner, app, tmp_path):
    result = runner.invoke(args=["import", "reload-mapping"])
    assert result.exit_code == 0, result.output
    assert "purpose codes" in result.output and "donor codes: " in result.output
    folder = tmp_path / "broken"
    shutil.copytree(DATA, folder, ignore=shutil.ignore_patterns("*.md"))
    (folder / "area_keywords.csv").write_text("keyword,area,weight,rationale\nfoo,99z,1,x\n", "utf-8")
    app.config["IMPORT_MAPPING_DIR"] = str(folder)
    try:
        result = runner.invoke(args=["import", "reload-mapping"])
    finally:
        app.config.pop("IMPORT_MAPPING_DIR")
    assert result.exit_code != 0
    assert "area_keywords.csv line 2" in result.output


FIXTURES = next(
    (p / "shared" / "fixtures" for p in Path(__file__).resolve().parents if (p / "shared" / "fixtures").is_dir()),
    None,
)


def _real_texts() -> list[str]:
    """Every title and description of the real IATI files in the shared fixtures, as written."""
    from lxml import etree

    texts = []
    for path in sorted(FIXTURES.glob("iati/**/*.xml")) if FIXTURES is not None else []:
        for elem in etree.parse(str(path)).iter("title", "description"):
            text = " ".join(" ".join(elem.itertext()).split())
            if text:
                texts.append(text)
    return texts


def test_the_one_pass_keyword_search_finds_what_each_rule_finds_alone():
    """``matching_rules`` looks every keyword up in one pass over the text; each rule on its own
    (``KeywordRule.matches``: its terms' patterns, an acronym in capitals as a whole word) is the
    definition. The same rules, over every title and description of the real IATI files and
    over texts made to trip the edges (capitals, plurals, word starts, accents, dotted I)."""
    mapping = read_mapping(DATA)
    made = [
        "SME support and IXPs in rural areas",
        "smell of smes; small ixp",
        "E-GOVERNMENT and e-government, egovernment",
        "Broadband; BROADBAND; broad-band; subbroadband",
        "İnternet access for the İnternet Exchange Point; INTERNET",
        "Télécentres communautaires et cybercafés; telecentre",
        "capacity-building for regulators: regulatory reform, deregulation",
        "",
    ]
    # An acronym written inside a longer one, with a rule of its own: each found as its pattern finds it.
    mapping.keywords.append(KeywordRule("gov", ("GOV",), "23f", Decimal(1)))
    mapping.keywords.append(KeywordRule("e-gov", ("E-GOV",), "23f", Decimal(1)))
    made += ["E-GOV services", "GOV and E-GOV", "EGOV"]
    real = _real_texts()
    assert FIXTURES is None or len(real) > 1000  # the real files are read where they are present
    texts = made + real
    for text in texts:
        expected = [rule for rule in mapping.keywords if rule.matches(text)]
        assert mapping.matching_rules(text) == expected, text
