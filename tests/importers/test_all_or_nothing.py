"""A file of several publishers (IATI) or donors (CRS) is all-or-nothing in one transaction,
and --skip-invalid / skip_invalid / the page's button import the valid activities, listing
what was left out and the money it carried."""

# ruff: noqa: E501  (inline XML and CSV fixtures read best on one line each)

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from importers import pipeline
from importers.interop import import_crs, import_iati
from registry.extensions import db
from registry.models import ImportBatch, Organisation, Project, Transaction
from registry.models.types import Role
from registry.services import accounts
from registry.services.actor import Actor
from tests.importers.iati_xml import activity, document
from tests.sessions import log_in

ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)


def _tx(kind: str, amount: str, currency: str = "USD", day: str = "2021-03-01") -> str:
    return (
        f'<transaction><transaction-type code="{kind}"/><transaction-date iso-date="{day}"/>'
        f'<value currency="{currency}" value-date="{day}">{amount}</value></transaction>'
    )


def three_publishers() -> bytes:
    """PUB-A and PUB-B clean; PUB-C has a clean activity and one whose second flow is in EUX,
    a currency that does not exist (the reader refuses that flow)."""
    return document(
        activity("PUB-A-1", org="PUB-A", transactions=_tx("2", "1000.00")),
        activity("PUB-B-1", org="PUB-B", transactions=_tx("2", "2000.00") + _tx("3", "150.00")),
        activity("PUB-C-1", org="PUB-C", transactions=_tx("2", "3000.00")),
        activity("PUB-C-2", org="PUB-C", transactions=_tx("2", "500.00") + _tx("3", "300.00", currency="EUX")),
    )


def _file(tmp_path: Path, data: bytes, name: str = "multi.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _identifiers() -> set[str]:
    return set(db.session.scalars(select(Project.iati_identifier)))


def _committed() -> int:
    return db.session.scalar(select(func.count()).select_from(ImportBatch).where(ImportBatch.status == "committed"))


def test_one_bad_activity_rejects_every_publisher_of_the_file(app, tmp_path):
    result = import_iati(_file(tmp_path, three_publishers()), ADMIN)
    assert not result.ok
    assert _identifiers() == set() and _committed() == 0
    assert db.session.scalar(select(func.count()).select_from(Transaction)) == 0
    assert len(result.batches) == 3
    for batch in result.batches:
        assert batch.status == "failed"
        assert batch.counts["errors"] > 0, batch.counts  # never errors: 0 in a failed file
        assert batch.counts["file_errors"] == 1
        assert any(p["severity"] == "error" for p in batch.problems)
    by_org = {b.options["org"]: b for b in result.batches}
    assert by_org["PUB-A"].counts["errors_in_batch"] == 0
    assert by_org["PUB-C"].counts["errors_in_batch"] == 1
    assert by_org["PUB-A"].problems[0]["code"] == "file_rejected"
    # The organisations the run created went with it.
    assert db.session.scalar(select(Organisation).where(Organisation.ref == "PUB-A")) is None
    # The offer: 3 valid activities, 1 with errors.
    assert result.offer == (3, 1)


def test_skip_invalid_commits_the_valid_activities_in_one_transaction_and_lists_the_rest(app, tmp_path):
    result = import_iati(_file(tmp_path, three_publishers()), ADMIN, skip_invalid=True)
    assert result.ok, [b.problems for b in result.batches]
    assert _identifiers() == {"PUB-A-1", "PUB-B-1", "PUB-C-1"}
    assert all(b.status == "committed" for b in result.batches) and _committed() == 3
    c_batch = next(b for b in result.batches if b.options["org"] == "PUB-C")
    invalid = c_batch.counts["invalid_records"]
    assert invalid["left_out"] is True and invalid["valid"] == 1 and invalid["invalid"] == 1
    (item,) = invalid["items"]
    assert item["iati_identifier"] == "PUB-C-2"
    assert any("currency" in reason for reason in item["reasons"])
    # The money of the left-out activity as the file gives it (the EUX flow could not be read).
    assert item["money"] == [{"type": "commitment", "currency": "USD", "amount": "500.00"}]
    assert invalid["money"] == item["money"]
    assert c_batch.counts["errors"] == 1 and c_batch.counts["file_errors"] == 1
    assert any(p.get("left_out") for p in c_batch.problems)
    # The good ones' money is all there.
    total = db.session.scalar(select(func.sum(Transaction.amount_minor)))
    assert total == (1000 + 2000 + 150 + 3000) * 100


def test_dry_run_of_a_grouped_file_previews_all_or_nothing(app, tmp_path):
    path = _file(tmp_path, three_publishers())
    failed = import_iati(path, ADMIN, dry_run=True)
    assert {b.status for b in failed.batches} == {"failed"}
    previewed = import_iati(path, ADMIN, dry_run=True, skip_invalid=True)
    assert {b.status for b in previewed.batches} == {"previewed"}
    assert _identifiers() == set() and _committed() == 0
    c_batch = next(b for b in previewed.batches if b.options["org"] == "PUB-C")
    assert c_batch.counts["projects_created"] == 1
    assert c_batch.counts["invalid_records"]["items"][0]["iati_identifier"] == "PUB-C-2"


def test_reimport_of_a_grouped_file_is_already_imported_batch_by_batch(app, tmp_path):
    path = _file(tmp_path, three_publishers())
    first = import_iati(path, ADMIN, skip_invalid=True)
    again = import_iati(path, ADMIN, skip_invalid=True)
    assert [b.id for b in again.batches] == [b.id for b in first.batches]
    assert all(getattr(b, "already_imported", False) for b in again.batches)
    assert _committed() == 3


def test_a_database_failure_in_the_second_batch_leaves_no_trace_of_the_first(app, tmp_path, monkeypatch):
    clean = document(
        activity("PUB-A-1", org="PUB-A", transactions=_tx("2", "1000.00")),
        activity("PUB-B-1", org="PUB-B", transactions=_tx("2", "2000.00")),
    )
    calls = {"n": 0}
    write = pipeline._Run._write

    def failing(self, created, updated):
        calls["n"] += 1
        write(self, created, updated)
        if calls["n"] == 2:
            raise OperationalError("INSERT INTO transactions", {}, Exception("disk full"))

    monkeypatch.setattr(pipeline._Run, "_write", failing)
    with pytest.raises(OperationalError):
        import_iati(_file(tmp_path, clean), ADMIN)
    assert calls["n"] == 2  # the first batch had been written
    assert _identifiers() == set() and _committed() == 0
    assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == 0
    assert db.session.scalar(select(Organisation).where(Organisation.ref == "PUB-A")) is None


def test_the_cli_says_what_it_left_out(runner, tmp_path):
    path = _file(tmp_path, three_publishers())
    refused = runner.invoke(args=["import", "iati", str(path)])
    assert refused.exit_code == 1
    assert "errors 1 (0 in this batch)" in refused.output
    assert "--skip-invalid" in refused.output and "3 activities are valid and 1 have errors" in refused.output
    assert _identifiers() == set()
    done = runner.invoke(args=["import", "iati", str(path), "--skip-invalid"])
    assert done.exit_code == 0, done.output
    assert "Left out (they have errors): 1 activities, carrying commitment 500.00 USD" in done.output
    assert "PUB-C-2" in done.output
    assert _identifiers() == {"PUB-A-1", "PUB-B-1", "PUB-C-1"}


# -- CRS: two donors -------------------------------------------------------------

CRS_HEADER = "Year,DonorCode,DonorName,CrsID,ProjectNumber,RecipientCode,PurposeCode,FlowCode,Finance_t,Aid_t,ProjectTitle,USD_Commitment,USD_Disbursement"


def two_donors() -> bytes:
    """UK (12) clean; Germany (5) has a clean activity and one whose second row's commitment
    is not a number (in USD millions, as CRS gives them)."""
    rows = [
        "2020,12,United Kingdom,2020000001,UK-1,248,22020,11,110,C01,Rural connectivity,1.5,0.25",
        "2021,5,Germany,2021000009,DE-9,289,22040,11,110,C01,Regulator support,2,1",
        "2021,5,Germany,2021000010,DE-10,289,22040,11,110,C01,School networks,0.75,",
        "2022,5,Germany,2021000010,DE-10,289,22040,11,110,C01,School networks,1.2x,0.5",
    ]
    return ("\n".join([CRS_HEADER, *rows]) + "\n").encode()


def test_crs_two_donors_all_or_nothing_then_skip_invalid(app, tmp_path, runner):
    path = _file(tmp_path, two_donors(), "crs.csv")
    result = import_crs(path, ADMIN)
    assert {b.status for b in result.batches} == {"failed"} and len(result.batches) == 2
    assert all(b.counts["errors"] > 0 for b in result.batches)
    assert db.session.scalar(select(func.count()).select_from(Project)) == 0 and _committed() == 0
    refused = runner.invoke(args=["import", "crs", str(path)])
    assert refused.exit_code == 1 and "--skip-invalid" in refused.output
    # One row of the file has no year: it is counted once, not once per donor of the file.
    assert "2 activities are valid and 1 have errors" in refused.output, refused.output
    done = runner.invoke(args=["import", "crs", str(path), "--skip-invalid"])
    assert done.exit_code == 0, done.output
    refs = set(db.session.scalars(select(Project.reference)))
    assert refs == {"2020000001", "2021000009"}
    de = next(
        b
        for b in db.session.scalars(select(ImportBatch).where(ImportBatch.status == "committed"))
        if (b.counts or {}).get("invalid_records")
    )
    (item,) = de.counts["invalid_records"]["items"]
    assert item["reference"] == "2021000010"
    # What could be read of it: 0.75 M commitment in 2021 and 0.5 M disbursement in 2022.
    money = {(m["type"], m["currency"]): Decimal(m["amount"]) for m in item["money"]}
    assert money == {("commitment", "USD"): Decimal("750000"), ("disbursement", "USD"): Decimal("500000")}


# -- API and page ------------------------------------------------------------------


@pytest.fixture
def admin_token(app, actor):
    user = accounts.create_user(actor, "admin-skip@example.org", "admin")
    token = accounts.issue_token(actor, user)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def _one_publisher() -> bytes:
    return document(
        activity("PUB-A-1", org="PUB-A", transactions=_tx("2", "1000.00")),
        activity("PUB-A-2", org="PUB-A", transactions=_tx("2", "700.00") + _tx("3", "1.00", currency="EUX")),
    )


def test_api_skip_invalid_on_upload_and_on_commit(client, admin_token, make_org):
    make_org(ref="PUB-A", name="Publisher A")
    body = {"file": (io.BytesIO(_one_publisher()), "a.xml"), "org": "PUB-A", "dry_run": "true"}
    preview = client.post("/api/v1/imports", data=body, headers=admin_token, content_type="multipart/form-data")
    assert preview.status_code == 422
    assert "skip_invalid=true" in preview.json["message"]
    batch = preview.json["batch"]
    assert batch["counts"]["invalid_records"]["valid"] == 1
    plain = client.post(f"/api/v1/imports/{batch['id']}/commit", headers=admin_token)
    assert plain.status_code == 409  # a failed preview is not committed without the option
    done = client.post(f"/api/v1/imports/{batch['id']}/commit?skip_invalid=true", headers=admin_token)
    assert done.status_code == 200, done.json
    assert done.json["status"] == "committed" and done.json["counts"]["errors"] == 1
    assert done.json["counts"]["invalid_records"]["items"][0]["money"] == [
        {"type": "commitment", "currency": "USD", "amount": "700.00"}
    ]
    assert any(p.get("left_out") for p in done.json["problems"])
    assert _identifiers() == {"PUB-A-1"}


def test_api_upload_with_skip_invalid(client, admin_token, make_org):
    make_org(ref="PUB-A", name="Publisher A")
    body = {"file": (io.BytesIO(_one_publisher()), "a.xml"), "org": "PUB-A", "skip_invalid": "true"}
    response = client.post("/api/v1/imports", data=body, headers=admin_token, content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    assert response.json["counts"]["invalid_records"]["left_out"] is True
    assert _identifiers() == {"PUB-A-1"}


def test_a_file_level_error_still_rejects_with_skip_invalid(client, admin_token, make_org):
    body = {"file": (io.BytesIO(b"<iati-activities version='2.03'><iati-activity>"), "a.xml"), "skip_invalid": "true"}
    make_org(ref="PUB-A", name="Publisher A")
    body["org"] = "PUB-A"
    response = client.post("/api/v1/imports", data=body, headers=admin_token, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "invalid_records" not in response.json["batch"]["counts"]
    assert _identifiers() == set()


def test_page_offers_the_button_and_imports_the_valid_activities(app, client, actor, make_org):
    app.config["IMPORT_BACKGROUND"] = False
    try:
        org = make_org(ref="PUB-A", name="Publisher A")
        user = accounts.create_user(actor, "donor-skip@example.org", "donor", org=org)
        db.session.commit()
        log_in(client, user)
        body = {"file": (io.BytesIO(_one_publisher()), "a.xml"), "org_id": str(org.id)}
        page = client.post("/imports/", data=body, content_type="multipart/form-data", follow_redirects=True)
        html = page.get_data(as_text=True)
        assert "Import the 1 valid activities, leave out 1" in html
        assert "PUB-A-2" in html and "commitment 700.00 USD" in html
        batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
        assert batch.status == "failed" and _identifiers() == set()
        page = client.post(f"/imports/{batch.id}/commit", data={"skip_invalid": "1"}, follow_redirects=True)
        html = page.get_data(as_text=True)
        assert "Left out: 1 activities with errors" in html
        assert _identifiers() == {"PUB-A-1"}
    finally:
        app.config["IMPORT_BACKGROUND"] = True


# -- spreadsheets ------------------------------------------------------------------


def test_sheet_skip_invalid_leaves_out_the_whole_project_of_a_bad_row(runner, tmp_path, make_org):
    from tests.importers.helpers import csv_bytes

    make_org(ref="SHEET-DON", name="Sheet donor")
    db.session.commit()
    rows = [
        ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"],
        ["S-1", "Schools online", "Kenya", "commitment", "1000", "USD", "2021-01-04"],
        ["S-2", "Clinics online", "Uganda", "commitment", "400", "USD", "2021-01-04"],
        ["S-1", "Schools online", "Kenya", "disbursement", "250", "USD", "2021-06-01"],
        ["S-2", "Clinics online", "Uganda", "disbursement", "12x", "USD", "2021-06-01"],  # S-2's 2nd row
    ]
    path = tmp_path / "donor.csv"
    path.write_bytes(csv_bytes(rows))
    refused = runner.invoke(args=["import", "sheet", str(path), "--org", "SHEET-DON"])
    assert refused.exit_code == 1
    assert "1 activities are valid and 1 activities have errors" in refused.output
    assert db.session.scalar(select(func.count()).select_from(Project)) == 0
    done = runner.invoke(args=["import", "sheet", str(path), "--org", "SHEET-DON", "--skip-invalid"])
    assert done.exit_code == 0, done.output
    # S-2 goes whole: its 400 commitment is not imported without its refused disbursement.
    assert set(db.session.scalars(select(Project.reference))) == {"S-1"}
    assert "S-2 (row 3)" in done.output and "commitment 400.00 USD" in done.output


def test_a_publisher_with_no_valid_activity_does_not_sink_the_others_with_skip_invalid(app, tmp_path):
    data = document(
        activity("PUB-A-1", org="PUB-A", transactions=_tx("2", "1000.00")),
        activity("PUB-D-1", org="PUB-D", transactions=_tx("2", "80.00", currency="EUX")),
    )
    path = _file(tmp_path, data)
    assert not import_iati(path, ADMIN).ok
    result = import_iati(path, ADMIN, skip_invalid=True)
    assert result.ok and _identifiers() == {"PUB-A-1"}
    d_batch = next(b for b in result.batches if b.options["org"] == "PUB-D")
    assert d_batch.status == "committed" and d_batch.counts["projects_created"] == 0
    assert d_batch.counts["invalid_records"]["items"][0]["iati_identifier"] == "PUB-D-1"


def test_the_page_of_a_grouped_batch_points_to_the_whole_file(app, client, actor, tmp_path):
    result = import_iati(_file(tmp_path, three_publishers()), ADMIN)
    c_batch = next(b for b in result.batches if b.options["org"] == "PUB-C")
    admin = accounts.create_user(actor, "admin-grouped@example.org", "admin")
    db.session.commit()
    log_in(client, admin)
    html = client.get(f"/imports/{c_batch.id}").get_data(as_text=True)
    assert 'id="grouped-file"' in html and 'id="skip-invalid"' not in html
    assert "PUB-C-2" in html
    # Without the button, a hand-made POST is refused as well: nothing of the file is written.
    page = client.post(f"/imports/{c_batch.id}/commit", data={"skip_invalid": "1"}, follow_redirects=True)
    assert "import the whole file again from the command line" in page.get_data(as_text=True)
    assert _identifiers() == set() and _committed() == 0


def test_a_failed_batch_of_a_grouped_file_cannot_be_committed_alone(app, tmp_path):
    """The page shows no button for it, and the API and the page's form refuse it too: committing
    one publisher's valid activities would break the file's single transaction."""
    from registry.errors import ConflictError

    result = import_iati(_file(tmp_path, three_publishers()), ADMIN)
    c_batch = next(b for b in result.batches if b.options["org"] == "PUB-C")
    assert c_batch.status == "failed" and c_batch.counts["invalid_records"]["valid"] == 1
    with pytest.raises(ConflictError, match="skip-invalid"):
        pipeline.commit_batch(c_batch.id, ADMIN, skip_invalid=True)
    db.session.rollback()
    assert _identifiers() == set() and _committed() == 0


def test_an_identifier_given_twice_leaves_out_the_repeat_not_the_activity_before_it(app, tmp_path):
    """The repeated activity yields no record, so its error is an item of the file: it must not
    be pinned on the activity whose lines precede it (PUB-B-1, of another publisher, valid)."""
    data = document(
        activity("PUB-A-1", org="PUB-A", transactions=_tx("2", "1000.00")),
        activity("PUB-B-1", org="PUB-B", transactions=_tx("2", "2000.00")),
        activity("PUB-A-1", org="PUB-A", transactions=_tx("2", "9.00")),
    )
    result = import_iati(_file(tmp_path, data), ADMIN, skip_invalid=True)
    assert result.ok, [b.problems for b in result.batches]
    assert _identifiers() == {"PUB-A-1", "PUB-B-1"}
    total = db.session.scalar(select(func.sum(Transaction.amount_minor)))
    assert total == (1000 + 2000) * 100  # the first PUB-A-1 and PUB-B-1, whole; not the repeat
    b_batch = next(b for b in result.batches if b.options["org"] == "PUB-B")
    assert not (b_batch.counts.get("invalid_records") or {}).get("invalid")


def test_a_crs_row_without_any_year_is_left_out_alone_with_skip_invalid(app, tmp_path):
    """A CRS extract without a Year column whose row has no CommitmentDate has no year: like a
    row whose Year is not a number, it is an item of the file that skip-invalid leaves out
    (and lists with its money), not an error that rejects the whole file."""
    header = "DonorCode,DonorName,CrsID,ProjectNumber,RecipientCode,PurposeCode,FlowCode,ProjectTitle,CommitmentDate,USD_Commitment,USD_Disbursement"
    rows = [
        "12,United Kingdom,2020000001,UK-1,248,22020,11,Rural connectivity,2020-05-04,1.5,0.25",
        "12,United Kingdom,2020000002,UK-2,248,22020,11,School networks,,0.75,",
    ]
    path = _file(tmp_path, ("\n".join([header, *rows]) + "\n").encode(), "crs.csv")
    refused = import_crs(path, ADMIN)
    assert not refused.ok and refused.offer == (1, 1)
    result = import_crs(path, ADMIN, skip_invalid=True)
    assert result.ok, [b.problems for b in result.batches]
    assert set(db.session.scalars(select(Project.reference))) == {"2020000001"}
    (batch,) = result.batches
    (item,) = batch.counts["invalid_records"]["items"]
    assert item["row"] == 3 and "USD 750,000.00" in item["reasons"][0]


# -- what the user reads about the money left out ------------------------------------


def _big_left_out() -> bytes:
    """PUB-A clean; PUB-B's second activity has an incoming commitment of 56,250.5 BDT and a
    flow without a value (the reader refuses it)."""
    return document(
        activity("PUB-A-1", org="PUB-A", transactions=_tx("2", "1000.00")),
        activity("PUB-B-1", org="PUB-B", transactions=_tx("2", "2000.00")),
        activity(
            "PUB-B-2",
            org="PUB-B",
            transactions=_tx("11", "56250.50", currency="BDT") + _tx("3", ""),
        ),
    )


def test_the_money_left_out_reads_as_the_warnings_do(runner, tmp_path):
    """The amounts left out are written as every other message writes money: the type in words,
    thousands separators, then the currency; never the stored enumeration name."""
    path = _file(tmp_path, _big_left_out())
    refused = runner.invoke(args=["import", "iati", str(path)])
    assert refused.exit_code == 1
    assert "incoming commitment 56,250.50 BDT" in refused.output, refused.output
    assert "incoming_commitment" not in refused.output
    done = runner.invoke(args=["import", "iati", str(path), "--skip-invalid"])
    assert done.exit_code == 0, done.output
    assert "carrying incoming commitment 56,250.50 BDT" in done.output, done.output


def test_a_refused_multi_publisher_file_makes_one_offer(runner, tmp_path):
    """The file-wide offer counts every publisher; the publisher's own listing does not make a
    second offer with other numbers (2 valid of the file, 1 valid of PUB-B)."""
    path = _file(tmp_path, _big_left_out())
    refused = runner.invoke(args=["import", "iati", str(path)])
    assert "2 activities are valid and 1 have errors" in refused.output
    assert "1 activities are valid" not in refused.output, refused.output
    assert "PUB-B-2" in refused.output


def test_the_page_writes_the_money_left_out_in_words(app, client, actor, make_org):
    app.config["IMPORT_BACKGROUND"] = False
    try:
        org = make_org(ref="PUB-B", name="Publisher B")
        user = accounts.create_user(actor, "donor-words@example.org", "donor", org=org)
        db.session.commit()
        log_in(client, user)
        data = document(
            activity("PUB-B-1", org="PUB-B", transactions=_tx("2", "2000.00")),
            activity("PUB-B-2", org="PUB-B", transactions=_tx("11", "56250.50", currency="BDT") + _tx("3", "")),
        )
        body = {"file": (io.BytesIO(data), "b.xml"), "org_id": str(org.id)}
        html = client.post("/imports/", data=body, content_type="multipart/form-data", follow_redirects=True)
        html = html.get_data(as_text=True)
        assert "Import the 1 valid activities, leave out 1" in html
        assert "incoming commitment 56,250.50 BDT" in html
        assert "incoming_commitment" not in html
        # An XML file has lines, not rows.
        assert re.search(r'data-label="Where">\s*line \d+<', html), html[html.find('id="left-out"') :][:1500]
    finally:
        app.config["IMPORT_BACKGROUND"] = True


def test_a_refused_file_names_each_publisher_and_creates_nothing_in_words(runner, tmp_path):
    """The batch lines of a refused or previewed file said 'organisation id None' (the
    organisation the rolled-back run would have created) and 'projects 1 created'."""
    path = _file(tmp_path, _big_left_out())
    for args in (["import", "iati", str(path)], ["import", "iati", str(path), "--dry-run"]):
        output = runner.invoke(args=args).output
        lines = [line for line in output.splitlines() if line.strip().startswith("batch ") and ";" in line]
        assert len(lines) == 2, output
        assert "organisation id None" not in output
        assert "PUB-A" in lines[0] and "PUB-B" in lines[1], lines
        assert "1 to create" in lines[0] and "created" not in lines[0], lines
    done = runner.invoke(args=["import", "iati", str(path), "--skip-invalid"]).output
    assert "1 created" in done and "PUB-A" in done


def test_a_crs_row_without_a_year_is_left_out_with_skip_invalid(app, tmp_path, runner):
    """An extract without a Year column whose row has no readable CommitmentDate: the refusal
    said to import again with --skip-invalid, which then refused the file the same way."""
    header = "DonorCode,DonorName,CrsID,ProjectNumber,RecipientCode,PurposeCode,FlowCode,Finance_t,Aid_t,ProjectTitle,CommitmentDate,USD_Commitment,USD_Disbursement"
    rows = [
        "12,United Kingdom,2021000101,UK-101,248,22040,11,110,C01,Kenya broadband,2021-05-03,1.5,0.25",
        "5,Germany,2019000200,DE-200,289,22040,11,110,C01,Regional ICT,2019-03-01,0.5,",
        "5,Germany,2019000201,DE-201,347,22040,11,110,C01,Guatemala schools,not a date,0.75,",
    ]
    path = _file(tmp_path, ("\n".join([header, *rows]) + "\n").encode(), "crs.csv")
    refused = runner.invoke(args=["import", "crs", str(path)])
    assert refused.exit_code == 1 and "--skip-invalid" in refused.output
    # One row of the file has no year: it is counted once, not once per donor of the file.
    assert "2 activities are valid and 1 have errors" in refused.output, refused.output
    done = runner.invoke(args=["import", "crs", str(path), "--skip-invalid"])
    assert done.exit_code == 0, done.output
    assert set(db.session.scalars(select(Project.reference))) == {"2021000101", "2019000200"}
    # The row left out is listed with the money it carried: 0.75 M USD of commitments.
    assert "commitments USD 750,000.00" in done.output or "750,000.00 USD" in done.output, done.output


def test_a_previewed_batch_of_a_grouped_file_cannot_be_committed_alone(app, tmp_path):
    """A dry run of a file of several publishers gives a preview per publisher: committing one
    of them alone would import that publisher and leave the others out of an all-or-nothing file."""
    from registry.errors import ConflictError

    clean = document(
        activity("PUB-A-1", org="PUB-A", transactions=_tx("2", "1000.00")),
        activity("PUB-B-1", org="PUB-B", transactions=_tx("2", "2000.00")),
    )
    result = import_iati(_file(tmp_path, clean), ADMIN, dry_run=True)
    assert [b.status for b in result.batches] == ["previewed", "previewed"]
    with pytest.raises(ConflictError, match="without --dry-run"):
        pipeline.commit_batch(result.batches[0].id, ADMIN)
    db.session.rollback()
    assert _identifiers() == set() and _committed() == 0


def test_the_page_of_a_grouped_preview_offers_no_commit(app, client, actor, tmp_path):
    clean = document(
        activity("PUB-A-1", org="PUB-A", transactions=_tx("2", "1000.00")),
        activity("PUB-B-1", org="PUB-B", transactions=_tx("2", "2000.00")),
    )
    result = import_iati(_file(tmp_path, clean), ADMIN, dry_run=True)
    admin = accounts.create_user(actor, "admin-preview@example.org", "admin")
    db.session.commit()
    log_in(client, admin)
    html = client.get(f"/imports/{result.batches[0].id}").get_data(as_text=True)
    assert 'id="grouped-preview"' in html and 'id="commit"' not in html
    page = client.post(f"/imports/{result.batches[0].id}/commit", follow_redirects=True)
    assert "import the whole file again from the command line" in page.get_data(as_text=True)
    assert _identifiers() == set() and _committed() == 0
