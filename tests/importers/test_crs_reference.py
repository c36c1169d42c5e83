"""CRS and IATI against the reference data: Kosovo, former ODA recipients, rows without a
Year column, constant prices, and money without a place."""

# ruff: noqa: E501  (inline CSV fixtures read best on one line each)

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from lxml import etree
from sqlalchemy import select

from importers.crs import CrsFileError, read_crs
from importers.interop import import_crs, import_iati
from importers.mapping import iso2_to_iso3, load_mapping
from registry.extensions import db
from registry.models import Project, Transaction
from registry.models.types import Role
from registry.services.actor import Actor
from registry.services.reference import categories_on
from reports.flows import flows_report
from tests.importers.iati_codes import active_codelist
from tests.importers.iati_xml import activity, document
from tests.sessions import log_in

ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)
HEADER = [
    "Year",
    "DonorCode",
    "DonorName",
    "CrsID",
    "RecipientCode",
    "PurposeCode",
    "FlowCode",
    "ProjectTitle",
    "CommitmentDate",
    "USD_Commitment",
    "USD_Disbursement",
]


def pipe(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    return ("\n".join("|".join(r) for r in [header, *rows]) + "\n").encode()


def row(year="2020", recipient="248", crs_id="C-1", commitment="1.5", disbursement="", date="", donor="12"):
    return [
        year,
        donor,
        "United Kingdom",
        crs_id,
        recipient,
        "22020",
        "11",
        "Connectivity",
        date,
        commitment,
        disbursement,
    ]


def read(data: bytes, **options):
    reader = read_crs(io.BytesIO(data), filename="crs.txt", **options)
    return {r.reference: r for r in reader}, reader


def problems_by_code(reader) -> dict[str, list]:
    found: dict[str, list] = {}
    for p in reader.problems:
        found.setdefault(p.code, []).append(p)
    return found


# --------------------------------------------------------------------------- Kosovo


def test_kosovo_codes_map_to_xkx():
    assert iso2_to_iso3("XK") == "XKX" and iso2_to_iso3(" xk ") == "XKX"
    recipients = load_mapping().recipients
    assert (recipients["57"].iso3, recipients["57"].name) == ("XKX", "Kosovo")
    assert recipients["61"].iso3 == "SVN"  # 61 is Slovenia in the CRS code list, not Kosovo


def test_kosovo_in_crs_lands_on_kosovo(app, tmp_path):
    path = tmp_path / "crs.txt"
    path.write_bytes(pipe([row(year="2019", recipient="57", commitment="2")]))
    result = import_crs(path, ADMIN)
    assert result.ok
    project = db.session.scalar(select(Project))
    assert [(r.country_iso3, r.share_ppm) for r in project.recipients] == [("XKX", 1_000_000)]
    kosovo = flows_report(by="country").rows
    assert {r["country"]: r["commitment"] for r in kosovo}["XKX"] == Decimal("2000000.00")


def test_kosovo_through_iati_import_and_export(app, client, tmp_path):
    xml = document(
        activity(
            "XM-TEST-1-KOS",
            recipients='<recipient-country code="XK" percentage="60"/><recipient-country code="AL" percentage="40"/>',
        )
    )
    path = tmp_path / "kosovo.xml"
    path.write_bytes(xml)
    result = import_iati(path, ADMIN)
    assert result.ok, [p for b in result.batches for p in b.problems if p["severity"] == "error"]
    project = db.session.scalar(select(Project).where(Project.iati_identifier == "XM-TEST-1-KOS"))
    assert sorted((r.country_iso3, r.share_ppm) for r in project.recipients) == [("ALB", 400_000), ("XKX", 600_000)]
    # 60 % of the 1,000.00 commitment is Kosovo's, in the Southern Europe region (039)
    rows = {r["country"]: r["commitment"] for r in flows_report(by="country").rows}
    assert rows["XKX"] == Decimal("600.00")
    regions = {r["subregion"]: r["commitment"] for r in flows_report(by="subregion").rows}
    assert regions["Southern Europe"] == Decimal("1000.00")  # Kosovo and Albania, M49 039
    exported = etree.fromstring(client.get("/api/v1/projects.iati.xml").data)
    codes = {(c.get("code"), c.get("percentage")) for c in exported.iter("recipient-country")}
    assert codes == {("XK", "60"), ("AL", "40")}


# --------------------------------------------------------------------------- former recipients


def test_former_recipients_land_on_their_countries_before_and_after_graduation():
    rows = [
        row(year="1995", recipient="742", crs_id="K-1", commitment="1"),  # Korea, on the list until 1999
        row(year="2005", recipient="742", crs_id="K-2", commitment="2"),  # after it left
        row(year="1998", recipient="30", crs_id="CY", commitment="1"),  # Cyprus
        row(year="2009", recipient="546", crs_id="IL", commitment="1"),  # Israel, long after
        row(year="2009", recipient="62", crs_id="HR-1", commitment="1"),  # Croatia, on the list until 2010
        row(year="2012", recipient="62", crs_id="HR-2", commitment="1"),
        row(year="2017", recipient="434", crs_id="CL-1", commitment="1"),  # Chile, graduated 2018
        row(year="2018", recipient="434", crs_id="CL-2", commitment="1"),
    ]
    projects, reader = read(pipe(rows))
    landed = {ref: [(r.country, r.share) for r in p.recipients] for ref, p in projects.items()}
    assert landed == {
        "K-1": [("KOR", 100)],
        "K-2": [("KOR", 100)],
        "CY": [("CYP", 100)],
        "IL": [("ISR", 100)],
        "HR-1": [("HRV", 100)],
        "HR-2": [("HRV", 100)],
        "CL-1": [("CHL", 100)],
        "CL-2": [("CHL", 100)],
    }
    problems = problems_by_code(reader)
    assert "unknown_recipient" not in problems and "unspecified_recipient" not in problems
    # the years after graduation are said, never the years on the list
    off_list = {p.value: p for p in problems["not_on_dac_list"]}
    assert set(off_list) == {"742", "546", "62", "434"}
    assert "in 2005" in off_list["742"].message and "1995" not in off_list["742"].message.split("(on it")[0]
    assert "in 2012" in off_list["62"].message and off_list["62"].location.row == 7
    assert "in 2018" in off_list["434"].message and off_list["434"].severity == "warning"


def test_former_recipient_flows_are_classified_by_the_list_in_force(app, tmp_path):
    path = tmp_path / "crs.txt"
    path.write_bytes(
        pipe([row(year="1995", recipient="742", crs_id="K-1"), row(year="2005", recipient="742", crs_id="K-2")])
    )
    assert import_crs(path, ADMIN).ok
    dates = sorted(db.session.scalars(select(Transaction.value_date)))
    assert dates == [dt.date(1995, 12, 31), dt.date(2005, 12, 31)]
    assert "DAC" in categories_on("KOR", dates[0])
    assert "DAC" not in categories_on("KOR", dates[1])
    by_category = {r["category"]: r["commitment"] for r in flows_report(by="category").rows}
    assert by_category.get("DAC") == Decimal("1500000.00")  # 1995 only: Korea had left the list by 2005


# --------------------------------------------------------------------------- money without a place


def test_money_without_a_place_stays_unallocated_with_a_warning_that_says_how_much(app, tmp_path):
    rows = [
        row(recipient="248", crs_id="M-1", commitment="1.5", disbursement="0.5"),  # Kenya
        row(recipient="998", crs_id="M-1", commitment="0.5", disbursement="0.25"),  # developing countries, unspecified
        row(recipient="9999", crs_id="M-2", commitment="0.1"),  # no such code
    ]
    projects, reader = read(pipe(rows))
    # Each row's flows carry the row's recipient; 0.5 of 2.0 has no place: it stays unallocated
    # (the project's list is the unallocated row alone), Kenya is not scaled up to take it.
    assert [(t.recipient_country, t.type, t.amount) for t in projects["M-1"].transactions] == [
        ("KEN", "commitment", Decimal("1500000.00")),
        ("KEN", "disbursement", Decimal("500000.00")),
        (None, "commitment", Decimal("500000.00")),
        (None, "disbursement", Decimal("250000.00")),
    ]
    assert [(r.country, r.region, r.share) for r in projects["M-1"].recipients] == [(None, None, 100)]
    problems = problems_by_code(reader)
    unspecified = problems["unspecified_recipient"][0].message
    assert "stays unallocated" in unspecified
    assert "commitments USD 500,000.00" in unspecified and "disbursements USD 250,000.00" in unspecified
    unknown = problems["unknown_recipient"][0].message
    assert "9999" in unknown and "commitments USD 100,000.00" in unknown
    path = tmp_path / "crs.txt"
    path.write_bytes(pipe(rows))
    assert import_crs(path, ADMIN).ok
    project = db.session.scalar(select(Project).where(Project.reference == "M-1"))
    stored = sorted(((r.country_iso3 or ""), r.share_ppm) for r in project.recipients)
    assert stored == [("", 1_000_000)]
    # Kenya keeps its own 1.5 million, not 2.0; the rest (0.5 + 0.1) is reported as unallocated
    by_country = {r["country_label"]: r["commitment"] for r in flows_report(by="country").as_json()["rows"]}
    assert by_country == {
        "Kenya": "1500000.00",
        "Unallocated (recipient not stated or unknown)": "600000.00",
    }


# --------------------------------------------------------------------------- no Year column


def test_year_comes_from_the_commitment_date_when_there_is_no_year_column():
    header = [h for h in HEADER if h != "Year"]
    rows = [
        row(date="2021-03-15", crs_id="Y-1", commitment="1", disbursement="0.4")[1:],
        row(date="15/09/2019", crs_id="Y-2", commitment="2")[1:],
        row(date="", crs_id="Y-3", commitment="3")[1:],
    ]
    projects, reader = read(pipe(rows, header))
    got = sorted((t.type, t.amount, t.value_date) for t in projects["Y-1"].transactions)
    assert got == [
        ("commitment", Decimal("1000000.00"), dt.date(2021, 3, 15)),
        ("disbursement", Decimal("400000.00"), dt.date(2021, 12, 31)),
    ]
    assert [t.value_date for t in projects["Y-2"].transactions] == [dt.date(2019, 9, 15)]
    assert "Y-3" not in projects  # no year at all: an error that names the row and the column
    (problem,) = problems_by_code(reader)["no_year"]
    assert problem.severity == "error" and problem.location.row == 4 and problem.location.column == "CommitmentDate"
    assert "commitments USD 3,000,000.00" in problem.message  # the money the row carries is named
    # the year filter applies to the derived years
    projects, _ = read(pipe(rows[:2], header), years={2019})
    assert set(projects) == {"Y-2"}


def test_a_file_without_year_and_commitment_date_is_refused():
    header = [h for h in HEADER if h not in ("Year", "CommitmentDate")]
    data = pipe([[c for h, c in zip(HEADER, row(), strict=True) if h in header]], header)
    with pytest.raises(CrsFileError, match=r"no column for Year \(or CommitmentDate\)"):
        read(data)


# --------------------------------------------------------------------------- constant prices

DEFL = ["USD_Commitment_Defl", "USD_Disbursement_Defl"]


def test_constant_prices_only_without_the_option_say_what_to_do():
    header = [h for h in HEADER if not h.startswith("USD_")] + DEFL
    data = pipe([row()[:-2] + ["1.2", "0.3"]], header)
    with pytest.raises(CrsFileError) as error:
        read(data)
    message = str(error.value)
    assert "constant prices only (USD_Commitment_Defl, USD_Disbursement_Defl)" in message
    assert "--prices constant" in message and "USD_Commitment" in message
    projects, _ = read(data, prices="constant")
    (project,) = projects.values()
    got = sorted((t.type, t.amount, t.currency, t.price_basis) for t in project.transactions)
    assert got == [
        ("commitment", Decimal("1200000.00"), "USD", "constant"),
        ("disbursement", Decimal("300000.00"), "USD", "constant"),
    ]
    assert all("constant prices" in t.description for t in project.transactions)


def test_current_and_constant_prices_are_never_mixed():
    header = HEADER + DEFL + ["CurrencyCode", "Commitment_National"]
    data = pipe([row(commitment="1.5", disbursement="0.5") + ["1.2", "0.4", "918", "1.4"]], header)
    current, _ = read(data)
    assert sorted((t.amount, t.currency, t.price_basis) for t in current["C-1"].transactions) == [
        (Decimal("500000.00"), "USD", None),  # no national disbursement: the USD column
        (Decimal("1400000.00"), "EUR", None),
    ]
    constant, _ = read(data, prices="constant")
    assert sorted((t.amount, t.currency, t.price_basis) for t in constant["C-1"].transactions) == [
        (Decimal("400000.00"), "USD", "constant"),
        (Decimal("1200000.00"), "USD", "constant"),
    ]
    # asked for constant prices, a file without them is refused, naming what it has
    with pytest.raises(CrsFileError, match=r"no USD_Commitment_Defl .*found: USD_Commitment, USD_Disbursement"):
        read(pipe([row()]), prices="constant")


def test_constant_price_flows_are_stored_apart_and_left_out_of_current_price_reports(app, client, tmp_path):
    header = HEADER + DEFL
    path = tmp_path / "crs.txt"
    path.write_bytes(pipe([row(commitment="1.5") + ["1.2", ""]], header))
    assert import_crs(path, ADMIN).ok
    # the same file at constant prices: a separate batch, whose flows say what they are
    result = import_crs(path, ADMIN, prices="constant")
    assert result.ok and not any(getattr(b, "already_imported", False) for b in result.batches)
    stored = sorted((t.amount_minor, t.usd_minor, t.price_basis) for t in db.session.scalars(select(Transaction)))
    assert (120_000_000, None, "constant") in stored
    project = db.session.scalar(select(Project))
    listed = client.get(f"/api/v1/projects/{project.id}/transactions").get_json()
    assert sorted((t["amount"], t["price_basis"]) for t in listed) == [("1200000.00", "constant"), ("1500000.00", None)]
    # reports count current prices only: the constant-price flow is not added to them
    totals = {r["country"]: r["commitment"] for r in flows_report(by="country").rows}
    assert totals["KEN"] == Decimal("1500000.00")


def test_cli_prices_option(runner, tmp_path):
    header = [h for h in HEADER if not h.startswith("USD_")] + DEFL
    path = tmp_path / "crs.txt"
    path.write_bytes(pipe([row()[:-2] + ["1.2", "0.3"]], header))
    refused = runner.invoke(args=["import", "crs", str(path)])
    assert refused.exit_code == 1 and "--prices constant" in refused.output
    assert db.session.scalar(select(Transaction.id)) is None
    done = runner.invoke(args=["import", "crs", str(path), "--prices", "constant"])
    assert done.exit_code == 0, done.output
    assert set(db.session.scalars(select(Transaction.price_basis))) == {"constant"}


def test_api_upload_takes_the_prices_option(client, app, actor, make_org):
    from registry.services import accounts

    org = make_org(ref="CRS-API", name="CRS donor")
    user = accounts.create_user(actor, "crs-api@example.org", "donor", org=org)
    headers = {"Authorization": f"Bearer {accounts.issue_token(actor, user)}"}
    db.session.commit()
    header = [h for h in HEADER if not h.startswith("USD_")] + DEFL
    data = pipe([row()[:-2] + ["1.2", "0.3"]], header)

    def upload(**form):
        body = {"file": (io.BytesIO(data), "crs.txt"), **form}
        return client.post("/api/v1/imports", data=body, headers=headers, content_type="multipart/form-data")

    refused = upload()
    assert refused.status_code == 422
    assert "prices=constant" in refused.get_json()["message"] + str(refused.get_json()["errors"])
    assert upload(prices="sometimes").status_code == 422
    done = upload(prices="constant")
    assert done.status_code == 201, done.get_json()
    assert set(db.session.scalars(select(Transaction.price_basis))) == {"constant"}


def test_import_page_takes_the_prices_option(app, client, actor, make_org):
    from registry.models import ImportBatch
    from registry.services import accounts

    app.config["IMPORT_BACKGROUND"] = False
    try:
        org = make_org(ref="CRS-WEB", name="CRS web donor")
        user = accounts.create_user(actor, "crs-web@example.org", "donor", org=org)
        db.session.commit()
        log_in(client, user)
        assert 'name="prices"' in client.get("/imports/").get_data(as_text=True)
        header = [h for h in HEADER if not h.startswith("USD_")] + DEFL
        data = pipe([row()[:-2] + ["1.2", "0.3"]], header)

        def upload(**form):
            body = {"file": (io.BytesIO(data), "crs.txt"), "org_id": str(org.id), **form}
            return client.post("/imports/", data=body, content_type="multipart/form-data", follow_redirects=True)

        html = upload().get_data(as_text=True)
        assert "--prices constant" in html or "prices=constant" in html
        upload(prices="constant")
        batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
        assert batch.status == "previewed" and batch.options["prices"] == "constant"
    finally:
        app.config["IMPORT_BACKGROUND"] = True


@pytest.mark.fixtures  # a skip fails when the shared fixtures are present
def test_every_active_iati_country_code_maps_to_a_registry_country():
    active = active_codelist("Country")
    assert active["XK"] == "Kosovo"
    unmapped = {code: name for code, name in active.items() if iso2_to_iso3(code) is None}
    assert unmapped == {}
