"""Flat downloads of projects, transactions and funding sources: every format, the reports'
filters, chosen columns, formula safety, deleted objects left out, the API's figures, the
data dictionary, streaming and the export rate limit."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from registry.extensions import db
from registry.services import deletion
from reports import downloads
from reports.downloads import RESOURCES

ROOT = Path(__file__).resolve().parents[2]
HOSTILE_TITLE = '=HYPERLINK("http://evil.invalid","click me")'
HOSTILE_ORG = "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.fixture
def data(make_org, make_project, make_transaction, make_source):
    donor = make_org(ref="DONOR-A", name="Donor A")
    other = make_org(ref="DONOR-B", name="Donor B")
    source = make_source(kind="multilateral", ref="FS-MULTI", areas=["23b"], countries=["KEN"])
    plain = make_source(kind="bilateral_oda", ref="FS-BI")
    kenya = make_project(
        org=donor,
        title="Kenya and Uganda",
        iati_identifier="XM-DAC-1-KU",
        recipients=[{"country": "KEN", "share": Decimal("66.6667")}, {"country": "UGA", "share": Decimal("33.3333")}],
        areas=[{"code": "23b", "share": Decimal("75")}, {"code": "23f", "share": Decimal("25")}],
        sectors=["22040", "11330"],
        need={"amount": "5000.00", "currency": "EUR", "date": dt.date(2021, 1, 4)},
    )
    nepal = make_project(
        org=other, title="Nepal", status="completed", recipients=[{"country": "NPL"}], areas=[{"code": "23d"}]
    )
    regional = make_project(org=other, title="Africa backbone", recipients=[{"region": "002"}], areas=[{"code": "23c"}])
    flows = {
        "k1": make_transaction(
            kenya,
            amount=Decimal("1000.01"),
            currency="EUR",
            value_date=dt.date(2021, 3, 1),
            provider_org_id=donor.id,
            funding_source_id=source.id,
            flow_type="10",
            finance_type="110",
            aid_type="C01",
        ),
        "k2": make_transaction(kenya, type="disbursement", amount=Decimal("-20.50"), value_date=dt.date(2022, 5, 5)),
        "n1": make_transaction(
            nepal, amount=Decimal("300"), value_date=dt.date(2019, 1, 2), funding_source_id=plain.id
        ),
        "r1": make_transaction(
            regional, amount=Decimal("700"), value_date=dt.date(2021, 7, 1), provider_org_id=other.id
        ),
        # a flow that names its own recipient: it is in Nepal whatever its project's shares
        "own": make_transaction(kenya, amount=Decimal("5"), value_date=dt.date(2021, 8, 1)),
    }
    flows["own"].recipient_country_iso3 = "NPL"
    db.session.commit()
    return {
        "kenya": kenya,
        "nepal": nepal,
        "regional": regional,
        "donor": donor,
        "source": source,
        "plain": plain,
        **flows,
    }


def _csv(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _jsonl(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/x-ndjson"
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def _xlsx(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()), read_only=True)
    values = list(book.worksheets[0].iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


READ = {"csv": _csv, "jsonl": _jsonl, "xlsx": _xlsx}


@pytest.mark.parametrize("fmt", list(READ))
@pytest.mark.parametrize("resource", list(RESOURCES))
def test_every_resource_in_every_format_has_the_dictionarys_columns(client, data, resource, fmt):
    response = client.get(f"/api/v1/{resource}.{fmt}")
    rows = READ[fmt](response)
    assert f'filename="{resource}.{fmt}"' in response.headers["Content-Disposition"]
    expected = {"projects": 3, "transactions": 5, "funding-sources": 2}[resource]
    assert len(rows) == expected
    assert list(rows[0]) == RESOURCES[resource].keys


def test_transaction_rows_carry_every_code_and_the_shares(client, data):
    rows = {int(r["id"]): r for r in _csv(client.get("/api/v1/transactions.csv"))}
    k1 = rows[data["k1"].id]
    assert k1["type"] == "commitment" and k1["type_iati_code"] == "2"
    assert (k1["amount"], k1["currency"], k1["value_date"]) == ("1000.01", "EUR", "2021-03-01")
    assert k1["usd"] and k1["usd_rate"] and k1["usd_rate_date"] and k1["usd_rate_source"]
    assert (k1["flow_type"], k1["finance_type"], k1["aid_type"]) == ("10", "110", "C01")
    assert (k1["funding_source_ref"], k1["source_kind"], k1["provider_org_ref"]) == (
        "FS-MULTI",
        "multilateral",
        "DONOR-A",
    )
    assert k1["project_countries"] == "KEN:66.6667;UGA:33.3333"
    assert k1["priority_areas"] == "23b:75;23f:25"
    assert set(k1["purpose_codes"].split(";")) == {"11330", "22040"}
    assert k1["project_iati_identifier"] == "XM-DAC-1-KU" and k1["org_ref"] == "DONOR-A"
    assert rows[data["k2"].id]["amount"] == "-20.50"  # a number, not text: no quote
    assert rows[data["k2"].id]["type_iati_code"] == "3"
    assert rows[data["own"].id]["recipient_country"] == "NPL"
    assert rows[data["r1"].id]["project_regions"] == "002:100"


def test_project_rows(client, data):
    rows = {r["title"]: r for r in _jsonl(client.get("/api/v1/projects.jsonl"))}
    kenya = rows["Kenya and Uganda"]
    assert kenya["recipient_countries"] == "KEN:66.6667;UGA:33.3333" and kenya["recipient_regions"] is None
    assert (kenya["need_amount"], kenya["need_currency"], kenya["need_date"]) == ("5000.00", "EUR", "2021-01-04")
    assert kenya["org_ref"] == "DONOR-A" and isinstance(kenya["id"], int)
    assert rows["Africa backbone"]["recipient_regions"] == "002:100"


def test_funding_source_rows(client, data):
    rows = {r["ref"]: r for r in _csv(client.get("/api/v1/funding-sources.csv"))}
    assert rows["FS-MULTI"]["kind"] == "multilateral"
    assert rows["FS-MULTI"]["priority_areas"] == "23b" and rows["FS-MULTI"]["countries"] == "KEN"
    assert rows["FS-BI"]["instruments"] == "grant"


def _ids(client, path: str) -> set[int]:
    return {int(r["id"]) for r in _csv(client.get(path))}


def test_the_reports_filters(client, data):
    tx = lambda *names: {data[n].id for n in names}  # noqa: E731
    assert _ids(client, "/api/v1/transactions.csv?year_from=2021&year_to=2021") == tx("k1", "r1", "own")
    assert _ids(client, "/api/v1/transactions.csv?country=ken") == tx("k1", "k2")
    # the flow naming its own recipient is in Nepal, with Nepal's project's flow
    assert _ids(client, "/api/v1/transactions.csv?country=NPL") == tx("n1", "own")
    assert _ids(client, "/api/v1/transactions.csv?region=002") == tx("k1", "k2", "r1")
    assert _ids(client, "/api/v1/transactions.csv?priority_area=23d,23c") == tx("n1", "r1")
    # a flow without a provider is the reporting organisation's, or its source manager's (as in
    # the reports): Nepal's flow draws on a source another organisation manages
    assert _ids(client, "/api/v1/transactions.csv?donor=DONOR-A") == tx("k1", "k2", "own")
    assert _ids(client, "/api/v1/transactions.csv?donor=DONOR-B") == tx("r1")
    assert _ids(client, "/api/v1/transactions.csv?source_kind=multilateral") == tx("k1")
    assert _ids(client, "/api/v1/transactions.csv?status=completed") == tx("n1")
    assert _ids(client, "/api/v1/transactions.csv?category=LDC&year_from=2019") >= tx("n1")
    projects = lambda *names: {data[n].id for n in names}  # noqa: E731
    assert _ids(client, "/api/v1/projects.csv?country=UGA") == projects("kenya")
    assert _ids(client, "/api/v1/projects.csv?status=completed&status=active") == projects("kenya", "nepal", "regional")
    assert _ids(client, "/api/v1/projects.csv?donor=DONOR-B") == projects("nepal", "regional")
    assert _ids(client, "/api/v1/projects.csv?source_kind=bilateral_oda") == projects("nepal")
    # a source lists Kenya, the other lists no country (eligible everywhere)
    assert _ids(client, "/api/v1/funding-sources.csv?country=KEN") == {data["source"].id, data["plain"].id}
    assert _ids(client, "/api/v1/funding-sources.csv?country=NPL") == {data["plain"].id}
    assert _ids(client, "/api/v1/funding-sources.csv?source_kind=multilateral") == {data["source"].id}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("country=XXX", "country"),
        ("region=999", "region"),
        ("year_from=2022&year_to=2020", "year_to"),
        ("donor=NOBODY", "donor"),
        ("source_kind=lottery", "source_kind"),
        ("by=region", "by"),
        ("colums=id", "colums"),
    ],
)
def test_a_bad_filter_is_refused_naming_it(client, data, query, field):
    response = client.get(f"/api/v1/transactions.csv?{query}")
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_a_filter_without_meaning_for_the_resource_is_refused(client, data):
    assert client.get("/api/v1/funding-sources.csv?status=active").status_code == 422
    assert client.get("/api/v1/projects.jsonl?confirmed=only").status_code == 422


def test_chosen_columns_in_their_order_and_an_unknown_one_named(client, data):
    rows = _csv(client.get("/api/v1/transactions.csv?columns=usd,id,currency"))
    assert list(rows[0]) == ["usd", "id", "currency"]
    rows = _jsonl(client.get("/api/v1/projects.jsonl?columns=id&columns=priority_areas"))
    assert set(rows[0]) == {"id", "priority_areas"}
    response = client.get("/api/v1/transactions.csv?columns=id,amount_eur")
    assert response.status_code == 422
    assert "amount_eur" in json.dumps(response.get_json()["errors"]["columns"])


@pytest.fixture
def hostile(make_org, make_project, make_transaction):
    org = make_org(ref="EVIL", name=HOSTILE_ORG)
    project = make_project(org=org, title=HOSTILE_TITLE, reference="+REF-1")
    make_transaction(project, amount=Decimal("-1200.00"), description="-2+3")
    db.session.commit()
    return project


def test_csv_and_xlsx_text_cannot_run_as_a_formula(client, hostile):
    [project] = _csv(client.get("/api/v1/projects.csv"))
    assert project["title"] == "'" + HOSTILE_TITLE and project["reference"] == "'+REF-1"
    assert project["org_name"] == "'" + HOSTILE_ORG
    [flow] = _csv(client.get("/api/v1/transactions.csv"))
    assert flow["description"] == "'-2+3" and flow["amount"] == "-1200.00"
    response = client.get("/api/v1/projects.xlsx")
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        assert not any("<f>" in archive.read(n).decode() for n in archive.namelist() if n.endswith(".xml"))
    [row] = _xlsx(response)
    assert row["title"] == "'" + HOSTILE_TITLE
    [row] = _xlsx(client.get("/api/v1/transactions.xlsx"))
    assert row["amount"] == -1200 and row["description"] == "'-2+3"
    # JSON Lines is read by programs, not spreadsheets: the text as it is
    [row] = _jsonl(client.get("/api/v1/projects.jsonl"))
    assert row["title"] == HOSTILE_TITLE


def test_deleted_objects_are_left_out(client, data, actor):
    deletion.delete_project(actor, data["kenya"])
    deletion.delete_transaction(actor, data["r1"])
    db.session.commit()
    assert data["kenya"].id not in _ids(client, "/api/v1/projects.csv")
    flows = _ids(client, "/api/v1/transactions.csv")
    assert flows == {data["n1"].id}
    assert all(r["project_id"] != data["kenya"].id for r in _jsonl(client.get("/api/v1/transactions.jsonl")))


def test_the_figures_are_the_apis(client, data):
    """Each row says what the API's JSON of the object says, under the same keys."""
    for row in _jsonl(client.get("/api/v1/transactions.jsonl")):
        api = client.get(f"/api/v1/projects/{row['project_id']}/transactions/{row['id']}").get_json()
        shared = set(api) & set(row)
        assert {"amount", "currency", "value_date", "usd", "usd_rate", "usd_rate_date", "usd_rate_source"} <= shared
        for key in shared:
            assert row[key] == (api[key] if api[key] != "" else None), key
    for row in _jsonl(client.get("/api/v1/projects.jsonl")):
        api = client.get(f"/api/v1/projects/{row['id']}").get_json()
        assert row["org_ref"] == api["org"]["ref"]
        for key in ("reference", "title", "status", "planned_start", "iati_identifier"):
            assert row[key] == api[key], key
        if api["need"]:
            need = (row["need_amount"], row["need_currency"], row["need_usd"], row["need_date"])
            assert need == tuple(api["need"][k] for k in ("amount", "currency", "usd", "date"))
        countries = [(r["country"], Decimal(r["share"])) for r in api["recipients"] if r["country"]]
        read = [
            (code, Decimal(share))
            for code, share in (c.split(":") for c in (row["recipient_countries"] or "").split(";") if c)
        ]
        assert read == countries


def test_csv_and_jsonl_stream_before_the_rows_are_all_read(client, data, monkeypatch):
    """The first chunk leaves while the query's rows are still being read."""
    monkeypatch.setattr(downloads, "BATCH", 1)
    monkeypatch.setattr(downloads, "CHUNK", 1)
    read: list[int] = []
    rows = downloads.rows

    def counted(choice):
        for values in rows(choice):
            read.append(1)
            yield values

    monkeypatch.setattr(downloads, "rows", counted)
    for fmt in ("csv", "jsonl"):
        read.clear()
        response = client.get(f"/api/v1/transactions.{fmt}", buffered=False)
        chunks = iter(response.response)
        first = next(chunks)
        assert first and len(read) < 5, (fmt, len(read))
        rest = b"".join(chunks)
        response.close()
        assert len(read) == 5 and (first + rest).count(b"\n") == (6 if fmt == "csv" else 5)


def test_the_data_dictionary_file_and_doc_come_from_the_columns(client):
    body = client.get("/api/v1/downloads/dictionary.json").get_json()
    assert body == downloads.dictionary()
    assert [c["key"] for c in body["resources"]["transactions"]["columns"]] == RESOURCES["transactions"].keys
    doc = (ROOT / "docs" / "data-dictionary.md").read_text("utf-8")
    assert doc == downloads.dictionary_markdown(), "run: python -m reports.downloads > docs/data-dictionary.md"


def test_downloads_count_as_exports(app, client, data, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_EXPORTS", "2 per minute")
    assert client.get("/api/v1/transactions.csv").status_code == 200
    assert client.get("/api/v1/projects.xlsx").status_code == 200
    refused = client.get("/api/v1/funding-sources.jsonl")
    assert refused.status_code == 429 and "Too many exports" in refused.get_json()["message"]
    # the dictionary is not an export
    assert client.get("/api/v1/downloads/dictionary.json").status_code == 200


def test_the_reports_page_links_to_the_downloads(client, data):
    page = client.get("/reports/?country=KEN&currency=EUR").get_data(as_text=True)
    assert "/api/v1/transactions.csv?country=KEN" in page
    assert "/api/v1/projects.csv?country=KEN" in page
    assert "/api/v1/downloads/dictionary.json" in page


def test_scope_infrastructure_and_tied_status_columns(client, data):
    """A project's scope as stated or as its recipients imply it, its infrastructure, default
    tied status and collaboration type; a flow's tied status, its own or its project's default
    (empty: unknown), as the untied share counts it."""
    kenya, regional = data["kenya"], data["regional"]
    regional.scope, regional.infrastructure = "regional", "backbone"
    kenya.default_tied_status, kenya.collaboration_type = "5", "8"
    data["k1"].tied_status = "4"
    db.session.commit()
    projects = {r["title"]: r for r in _csv(client.get("/api/v1/projects.csv"))}
    assert [projects["Kenya and Uganda"][k] for k in ("scope", "scope_stated", "default_tied_status")] == [
        "multi_country",
        "false",
        "5",
    ]
    assert projects["Kenya and Uganda"]["collaboration_type"] == "8"
    assert [projects["Nepal"][k] for k in ("scope", "scope_stated", "infrastructure")] == ["national", "false", ""]
    assert [projects["Africa backbone"][k] for k in ("scope", "scope_stated", "infrastructure")] == [
        "regional",
        "true",
        "backbone",
    ]
    flows = {int(r["id"]): r["tied_status"] for r in _csv(client.get("/api/v1/transactions.csv"))}
    assert flows[data["k1"].id] == "4"  # its own
    assert flows[data["k2"].id] == "5"  # the project's default
    assert flows[data["n1"].id] == ""  # unknown
    chosen = _jsonl(client.get("/api/v1/projects.jsonl?columns=id,scope"))
    assert {row["scope"] for row in chosen} == {"multi_country", "national", "regional"}
