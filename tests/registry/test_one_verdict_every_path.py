# ruff: noqa: E501  (inline XML fixtures read best on one line each)
"""One set of rules: the same bad value gets the same verdict on every path.

Each case below is a value the registry refuses, fed through the API, the web form, a CSV
and an XLSX donor sheet (and the IATI and CRS importers where their format carries the field
and their standard leaves the value to our rules). Every path must refuse it, nothing may be
written, and the message must say the same thing (the phrase each case names).

Where a standard gives its own rule for the value, the importer follows the standard, and
the test says so (IATI: an unknown recipient code keeps its share unallocated, percentages
that do not add up to 100 are divided by their sum; both with a warning)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from importers import pipeline
from registry.extensions import db
from registry.models import Project, Transaction
from registry.models.types import Role
from registry.services.actor import Actor
from tests.importers.helpers import csv_bytes, xlsx
from tests.importers.iati_xml import activity, document
from tests.sessions import log_in

ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)
HEADERS = ["Project reference", "Title", "Country", "Share (%)", "Priority area", "Purpose code"]
HEADERS += ["Planned start", "Planned end", "Total cost", "Need currency"]
HEADERS += ["Transaction type", "Amount", "Currency", "Value date"]
GOOD_ROW = ["V-1", "Schools online", "KEN", "100", "23b", "22040", "2021-01-01", "2022-12-31", "5000", "USD"]
GOOD_ROW += ["commitment", "1000", "USD", "2021-02-01"]


@dataclass
class Case:
    phrase: str  # what every path's message says (a regular expression)
    project: dict = field(default_factory=dict)  # API body fields of the project
    form: dict = field(default_factory=dict)  # web form fields of the project
    transaction: dict = field(default_factory=dict)  # API/form fields of a flow (on a good project)
    rows: list[dict] = field(default_factory=lambda: [{}])  # sheet cells by header, one dict a row
    iati: dict | None = None  # activity() arguments, when IATI carries the field
    crs: dict | None = None  # CRS cells, when CRS carries the field


CASES = {
    "bad country code": Case(
        r"Unknown country 'XYZ'",
        project={"recipients": [{"country": "XYZ", "share": "100"}]},
        form={"recipients-0-place": "XYZ", "recipients-0-share": "100"},
        rows=[{"Country": "XYZ"}],
    ),
    "shares not adding to 100": Case(
        r"add up to 100; these add up to 90",
        project={"recipients": [{"country": "KEN", "share": "60"}, {"country": "UGA", "share": "30"}]},
        form={
            "recipients-0-place": "KEN",
            "recipients-0-share": "60",
            "recipients-1-place": "UGA",
            "recipients-1-share": "30",
        },
        rows=[{"Country": "KEN", "Share (%)": "60"}, {"Country": "UGA", "Share (%)": "30"}],
    ),
    "unknown area": Case(
        r"Unknown priority area '23z'",
        project={"areas": [{"code": "23z", "share": "100"}]},
        form={"areas-0-code": "23z", "areas-0-share": "100"},
        rows=[{"Priority area": "23z"}],
    ),
    "bad purpose code": Case(
        r"'2204' is not a DAC 5-digit purpose code",
        project={"sectors": ["2204"]},
        form={"sectors": "2204"},
        rows=[{"Purpose code": "2204"}],
        crs={"PurposeCode": "2204"},
    ),
    "negative need": Case(
        r"The need cannot be negative",
        project={"need": {"amount": "-5000", "currency": "USD"}},
        form={"need_amount": "-5000", "need_currency": "USD"},
        rows=[{"Total cost": "-5000"}],
    ),
    "unknown currency": Case(
        r"Unknown currency 'EUX'",
        transaction={"currency": "EUX"},
        rows=[{"Currency": "EUX"}],
        iati={
            "transactions": '<transaction><transaction-type code="2"/><transaction-date iso-date="2021-02-01"/><value currency="EUX" value-date="2021-02-01">1000</value></transaction>',
            "currency": "EUX",
        },
        crs={"CurrencyCode": "EUX", "Commitment_National": "0.001"},
    ),
    "end before start": Case(
        r"Planned end is before the start date",
        project={"planned_start": "2023-01-01", "planned_end": "2022-01-01"},
        form={"planned_start": "2023-01-01", "planned_end": "2022-01-01"},
        rows=[{"Planned start": "2023-01-01", "Planned end": "2022-01-01"}],
    ),
    "too many decimals for the currency": Case(
        r"10\.5 has more decimals than JPY allows",
        transaction={"amount": "10.5", "currency": "JPY"},
        rows=[{"Amount": "10.5", "Currency": "JPY"}],
    ),
    # U+202E (right-to-left override) at the 8th character: "Schools\u202eenilno" displays as
    # "Schoolsonline". Refused on every path (never stripped), naming the field and the position.
    "bidirectional control in the title": Case(
        r"U\+202E at character 8",
        project={"title": "Schools\u202eenilno"},
        form={"title": "Schools\u202eenilno"},
        rows=[{"Title": "Schools\u202eenilno"}],
        iati={"title": "<narrative>Schools\u202eenilno</narrative>"},
        crs={"ProjectTitle": "Schools\u202eenilno"},
    ),
    "bidirectional isolate in the reference": Case(
        r"U\+2066 at character 3",
        project={"reference": "V-\u20661"},
        form={"reference": "V-\u20661"},
        rows=[{"Project reference": "V-\u20661"}],
    ),
}


def project_body(**overrides) -> dict:
    body = {
        "reference": "V-1",
        "title": "Schools online",
        "planned_start": "2021-01-01",
        "planned_end": "2022-12-31",
        "recipients": [{"country": "KEN", "share": "100"}],
        "areas": [{"code": "23b", "share": "100"}],
        "sectors": ["22040"],
        "need": {"amount": "5000", "currency": "USD"},
    }
    return {**body, **overrides}


def project_form(**overrides) -> dict:
    form = {
        "title": "Schools online",
        "reference": "V-1",
        "status": "active",
        "planned_start": "2021-01-01",
        "planned_end": "2022-12-31",
        "recipients-0-place": "KEN",
        "recipients-0-share": "100",
        "areas-0-code": "23b",
        "areas-0-share": "100",
        "sectors": "22040",
        "need_amount": "5000",
        "need_currency": "USD",
    }
    return {**form, **overrides}


def tx_body(**overrides) -> dict:
    return {"type": "commitment", "amount": "1000", "currency": "USD", "value_date": "2021-02-01", **overrides}


def counts() -> tuple[int, int]:
    return db.session.scalar(select(func.count(Project.id))), db.session.scalar(select(func.count(Transaction.id)))


def messages_of(body) -> str:
    """Every message of an API error body, flattened."""
    if isinstance(body, dict):
        return " | ".join(messages_of(v) for v in body.values())
    if isinstance(body, list):
        return " | ".join(messages_of(v) for v in body)
    return str(body)


@pytest.fixture
def donor(make_user):
    return make_user("donor")


@pytest.fixture
def donor_client(client, donor):
    user, _ = donor
    db.session.commit()
    log_in(client, user)
    return client


@pytest.mark.parametrize("name", CASES)
def test_the_api_refuses(api, donor, make_project, name):
    case = CASES[name]
    user, token = donor
    if case.transaction:
        project = make_project(org=user.org)
        db.session.commit()
        before = counts()
        response = api("post", f"/api/v1/projects/{project.id}/transactions", token, json=tx_body(**case.transaction))
    else:
        before = counts()
        response = api("post", "/api/v1/projects", token, json=project_body(**case.project))
    assert response.status_code == 422, response.get_json()
    assert re.search(case.phrase, messages_of(response.get_json())), response.get_json()
    assert counts() == before


@pytest.mark.parametrize("name", CASES)
def test_the_form_refuses(donor_client, donor, make_project, name):
    case = CASES[name]
    user, _ = donor
    if case.transaction:
        project = make_project(org=user.org)
        db.session.commit()
        before = counts()
        url, data = f"/projects/{project.id}/transactions/new", tx_body(**case.transaction)
    else:
        before = counts()
        url, data = "/projects/new", project_form(**case.form)
    response = donor_client.post(url, data=data)
    assert response.status_code == 422
    html = response.data.decode().replace("&#39;", "'")
    assert re.search(case.phrase, html), html[:3000]
    assert counts() == before


def _sheet_rows(case: Case) -> list[list]:
    out = []
    for cells in case.rows:
        row = dict(zip(HEADERS, GOOD_ROW, strict=True))
        row.update(cells)
        out.append([row[h] for h in HEADERS])
    return [HEADERS, *out]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
@pytest.mark.parametrize("name", CASES)
def test_the_spreadsheet_import_refuses(app, make_org, tmp_path, name, kind):
    case = CASES[name]
    rows = _sheet_rows(case)
    path = tmp_path / f"donor.{kind}"
    if kind == "csv":
        path.write_bytes(csv_bytes(rows))
    else:
        xlsx(rows, path)
    org = make_org(ref="DON")
    before = counts()
    batch = pipeline.run_import("sheet", path.name, path, org, ADMIN)
    assert batch.status == "failed", batch.problems
    errors = [p["message"] for p in batch.problems if p["severity"] == "error"]
    assert any(re.search(case.phrase, m) for m in errors), errors
    assert counts() == before


def test_the_good_row_is_good_on_every_path(api, donor, donor_client, make_org, tmp_path):
    """The cases differ from a valid project only by their bad value."""
    _user, token = donor
    assert api("post", "/api/v1/projects", token, json=project_body()).status_code == 201
    assert donor_client.post("/projects/new", data=project_form(reference="V-2")).status_code == 302
    path = tmp_path / "donor.csv"
    path.write_bytes(csv_bytes(_sheet_rows(Case(""))))
    batch = pipeline.run_import("sheet", path.name, path, make_org(ref="DON"), ADMIN)
    assert batch.status == "committed", batch.problems


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.iati is not None])
def test_the_iati_import_refuses(app, tmp_path, name):
    from importers.interop import import_iati

    case = CASES[name]
    path = tmp_path / "activity.xml"
    path.write_bytes(document(activity(**case.iati)))
    before = counts()
    result = import_iati(path, ADMIN)
    assert [b.status for b in result.batches] == ["failed"]
    errors = [p["message"] for b in result.batches for p in b.problems if p["severity"] == "error"]
    assert any(re.search(case.phrase, m) for m in errors), errors
    assert counts() == before


CRS_HEADER = ["Year", "DonorCode", "DonorName", "CrsID", "ProjectNumber", "RecipientCode", "PurposeCode"]
CRS_HEADER += ["ProjectTitle", "USD_Commitment", "CurrencyCode", "Commitment_National"]
CRS_ROW = ["2020", "12", "United Kingdom", "2020000001", "UK-1", "248", "22020", "Rural connectivity", "1.5", "", ""]


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.crs is not None])
def test_the_crs_import_refuses(app, tmp_path, name):
    from importers.interop import import_crs

    case = CASES[name]
    row = dict(zip(CRS_HEADER, CRS_ROW, strict=True))
    row.update(case.crs)
    path = tmp_path / "crs.csv"
    path.write_bytes(csv_bytes([CRS_HEADER, [row[h] for h in CRS_HEADER]]))
    before = counts()
    result = import_crs(path, ADMIN)
    assert [b.status for b in result.batches] == ["failed"]
    errors = [p["message"] for b in result.batches for p in b.problems if p["severity"] == "error"]
    assert any(re.search(case.phrase, m) for m in errors), errors
    assert counts() == before


def test_iati_keeps_its_own_rules_for_recipients_with_a_warning(app, tmp_path):
    """IATI's rule (issue 12): an unknown recipient code is not a reason to refuse an activity,
    and percentages that do not add up to 100 are divided by their sum; each says so."""
    from importers.interop import import_iati

    for recipients, phrase in (
        ('<recipient-country code="XY" percentage="100"/>', r"[Uu]nknown recipient|not a country the registry knows"),
        (
            '<recipient-country code="KE" percentage="60"/><recipient-country code="UG" percentage="30"/>',
            r"add up to 90",
        ),
    ):
        path = tmp_path / "activity.xml"
        path.write_bytes(document(activity(recipients=recipients)))
        result = import_iati(path, ADMIN, dry_run=True)
        warnings = [p["message"] for b in result.batches for p in b.problems if p["severity"] == "warning"]
        assert any(re.search(phrase, m) for m in warnings), warnings
        assert [b.status for b in result.batches] == ["previewed"]  # the activity lands


def test_an_unallocated_share_counts_towards_the_hundred(api, donor, make_org):
    """A recipient with neither country nor region is the unallocated share: valid, and counted."""
    from importers.records import ProjectRecord, RecipientRecord

    _user, token = donor
    body = project_body(recipients=[{"country": "KEN", "share": "60"}, {"share": "40"}])
    response = api("post", "/api/v1/projects", token, json=body)
    assert response.status_code == 201, response.get_json()
    assert [(r["country"], r["region"], r["share"]) for r in response.get_json()["recipients"]] == [
        ("KEN", None, "60"),
        (None, None, "40"),
    ]
    short = project_body(reference="V-3", recipients=[{"country": "KEN", "share": "60"}, {"share": "30"}])
    assert re.search(r"add up to 90", messages_of(api("post", "/api/v1/projects", token, json=short).get_json()))
    record = ProjectRecord("R-1", "Schools online")
    record.recipients = [RecipientRecord("KEN", share=60), RecipientRecord(None, None, share=40)]
    batch = pipeline.run_import("test", "f.csv", b"unallocated", make_org(ref="DON"), ADMIN, records=[record])
    assert batch.status == "committed", batch.problems
    project = db.session.scalar(select(Project).where(Project.reference == "R-1"))
    assert [(r.country_iso3, r.region_code, r.share_ppm) for r in project.recipients] == [
        ("KEN", None, 600_000),
        (None, None, 400_000),
    ]


def test_the_form_asks_for_the_place_of_a_share(donor_client):
    response = donor_client.post(
        "/projects/new", data=project_form(**{"recipients-1-share": "40", "recipients-0-share": "60"})
    )
    assert response.status_code == 422
    assert "Choose a country or region for this share" in response.data.decode()


def test_the_edit_form_keeps_an_unallocated_share(donor_client, donor, make_project):
    """An imported project with an unallocated share can be edited on the form without giving
    that share to a country: the form shows it as unallocated and saves it so."""
    import html as html_lib

    user, _token = donor
    project = make_project(
        org=user.org, recipients=[{"country": "KEN", "share": "60"}, {"country": None, "region": None, "share": "40"}]
    )
    db.session.commit()
    page = html_lib.unescape(donor_client.get(f"/projects/{project.id}/edit").data.decode())
    # the second row's select shows the unallocated choice, selected
    second = page[page.index('name="recipients-1-place"') :]
    second = second[: second.index("</select>")]
    chosen = [o for o in second.split("<option")[1:] if " selected" in o.split(">")[0]]
    assert len(chosen) == 1 and "Unallocated" in chosen[0]
    value = chosen[0].split('value="')[1].split('"')[0]
    form = project_form(
        title="Schools online, renamed",
        reference=project.reference,
        version=str(project.version),
        **{"recipients-1-place": value, "recipients-1-share": "40", "recipients-0-share": "60"},
    )
    response = donor_client.post(f"/projects/{project.id}/edit", data=form)
    assert response.status_code == 302, response.data.decode()[:2000]
    db.session.expire_all()
    saved = db.session.get(Project, project.id)
    assert saved.title == "Schools online, renamed"
    assert sorted((r.country_iso3 or "", r.region_code, r.share_ppm) for r in saved.recipients) == [
        ("", None, 400_000),
        ("KEN", None, 600_000),
    ]
