"""The CLI, and the guarantees of a real import: all-or-nothing, idempotent, killed mid-way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from registry.extensions import db
from registry.models import AuditEvent, ImportBatch, Organisation, Project, Transaction
from tests.importers.helpers import csv_bytes, xlsx

REPO = Path(__file__).resolve().parents[2]
HEADER = [
    "Project reference",
    "Title",
    "Country",
    "Transaction type",
    "Amount",
    "Currency",
    "Value date",
]


def _rows(n=3, amount="1000", country="KEN"):
    return [HEADER] + [
        [f"P-{i:03d}", f"Project {i}", country, "commitment", amount, "EUR", "2021-03-01"] for i in range(n)
    ]


def _count(model, **where) -> int:
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return db.session.scalar(stmt)


def test_cli_imports_prints_a_summary_and_is_idempotent(runner, make_org, tmp_path):
    org = make_org(ref="DON-CLI")
    db.session.commit()
    path = xlsx(_rows(3), tmp_path / "donor.xlsx")
    result = runner.invoke(args=["import", "sheet", str(path), "--org", "DON-CLI"])
    assert result.exit_code == 0, result.output
    assert "projects created            3" in result.output and "committed" in result.output
    assert _count(Project, org_id=org.id) == 3
    again = runner.invoke(args=["import", "sheet", str(path), "--org", "DON-CLI"])
    assert again.exit_code == 0 and "Already imported" in again.output
    assert _count(Transaction) == 3


def test_cli_dry_run_writes_nothing(runner, make_org, tmp_path):
    make_org(ref="DON-DRY")
    db.session.commit()
    counts = (_count(Project), _count(Transaction), _count(AuditEvent), _count(ImportBatch))
    path = tmp_path / "donor.csv"
    path.write_bytes(csv_bytes(_rows(2)))
    result = runner.invoke(args=["import", "sheet", str(path), "--org", "DON-DRY", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing was written" in result.output and "projects created            2" in result.output
    assert (_count(Project), _count(Transaction), _count(AuditEvent), _count(ImportBatch)) == counts


def test_cli_rejects_a_file_with_errors_and_writes_nothing(runner, make_org, tmp_path):
    make_org(ref="DON-BAD")
    db.session.commit()
    rows = _rows(3)
    rows[3][2] = "Atlantis"
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(rows))
    before = (_count(Project), _count(Transaction))
    result = runner.invoke(args=["import", "sheet", str(path), "--org", "DON-BAD"])
    assert result.exit_code == 1
    assert "row 4, column 'Country': Unknown country 'Atlantis'" in result.output
    assert (_count(Project), _count(Transaction)) == before


def test_cli_unknown_org_needs_a_name(runner, tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(csv_bytes(_rows(1)))
    result = runner.invoke(args=["import", "sheet", str(path), "--org", "NOPE"])
    assert result.exit_code == 1 and "give its name" in result.output
    result = runner.invoke(args=["import", "sheet", str(path), "--org", "NOPE", "--org-name", "New agency"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(Organisation).where(Organisation.ref == "NOPE")).name == "New agency"


def test_cli_mapping_file_and_options(runner, make_org, tmp_path):
    make_org(ref="DON-MAP")
    db.session.commit()
    path = tmp_path / "m.csv"
    path.write_bytes(csv_bytes([["Code", "Name", "Where", "Paid", "When"], ["M1", "T", "KEN", "1,5", "03/04/2021"]]))
    mapping = tmp_path / "map.json"
    mapping.write_text(
        json.dumps(
            {
                "columns": {
                    "Code": "reference",
                    "Name": "title",
                    "Where": "country",
                    "Paid": "disbursement",
                    "When": "value_date",
                }
            }
        )
    )
    result = runner.invoke(
        args=[
            "import",
            "sheet",
            str(path),
            "--org",
            "DON-MAP",
            "--mapping",
            str(mapping),
            "--dates",
            "dmy",
            "--decimal",
            ",",
            "--currency",
            "GBP",
        ]
    )
    assert result.exit_code == 0, result.output
    tx = db.session.scalar(select(Transaction).join(Project).where(Project.reference == "M1"))
    assert (str(tx.amount), tx.currency, tx.value_date.isoformat()) == ("1.50", "GBP", "2021-04-03")


def test_corrected_file_updates_in_place_and_undo(runner, make_org, tmp_path):
    org = make_org(ref="DON-FIX")
    db.session.commit()
    first = tmp_path / "v1.csv"
    first.write_bytes(csv_bytes(_rows(3)))
    assert runner.invoke(args=["import", "sheet", str(first), "--org", "DON-FIX"]).exit_code == 0
    corrected = _rows(3)
    corrected[2][4] = "2500"  # P-001 corrected
    second = tmp_path / "v2.csv"
    second.write_bytes(csv_bytes(corrected))
    result = runner.invoke(args=["import", "sheet", str(second), "--org", "DON-FIX"])
    assert result.exit_code == 0, result.output
    assert "projects updated            1" in result.output and "projects unchanged          2" in result.output
    assert _count(Project, org_id=org.id) == 3
    total = db.session.scalar(select(func.sum(Transaction.amount_minor)).join(Project).where(Project.org_id == org.id))
    assert total == (1000 + 2500 + 1000) * 100  # nothing counted twice
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    assert runner.invoke(args=["import", "undo", str(batch.id)]).exit_code == 0
    total = db.session.scalar(select(func.sum(Transaction.amount_minor)).join(Project).where(Project.org_id == org.id))
    assert total == 3000 * 100


def _total(org) -> int:
    return db.session.scalar(select(func.sum(Transaction.amount_minor)).join(Project).where(Project.org_id == org.id))


def test_a_file_is_already_imported_only_while_the_registry_holds_it(runner, make_org, tmp_path):
    """v1, then the corrected v2, then v1 again: v1 is applied again, not "already imported"."""
    org = make_org(ref="DON-AGAIN")
    db.session.commit()
    first, second = tmp_path / "v1.csv", tmp_path / "v2.csv"
    first.write_bytes(csv_bytes(_rows(2)))
    corrected = _rows(2)
    corrected[1][4] = "1100"
    second.write_bytes(csv_bytes(corrected))

    def run(path, *options):
        result = runner.invoke(args=["import", "sheet", str(path), "--org", "DON-AGAIN", *options])
        assert result.exit_code == 0, result.output
        return result.output

    run(first)
    assert "Already imported" in run(first)  # nothing happened in between
    assert "projects updated            1" in run(second)
    assert _total(org) == 2100 * 100
    output = run(first)
    assert "Already imported" not in output and "projects updated            1" in output
    assert _total(org) == 2000 * 100  # the registry holds v1 again
    assert "Already imported" in run(first)

    # the same bytes read with other choices are another import
    plain = tmp_path / "nocurrency.csv"
    rows = [[c for k, c in enumerate(r) if k != 5] for r in _rows(1)]
    rows[1][0] = "C-000"
    plain.write_bytes(csv_bytes(rows))
    assert "projects created            1" in run(plain, "--currency", "EUR")
    output = run(plain, "--currency", "GBP")
    assert "Already imported" not in output and "projects updated            1" in output
    assert db.session.scalars(select(Transaction.currency).join(Project).where(Project.reference == "C-000")).all() == [
        "GBP"
    ]
    assert "Already imported" in run(plain, "--currency", "GBP")


def test_each_sheet_of_a_workbook_can_be_imported_on_its_own(runner, make_org, tmp_path):
    make_org(ref="DON-SHEETS")
    db.session.commit()
    second = [[*r[:1], f"Other {r[1]}", *r[2:]] for r in _rows(2)]
    second = [HEADER] + [[f"Q-{i}", *r[1:]] for i, r in enumerate(second[1:])]
    path = xlsx(_rows(2), tmp_path / "two.xlsx", title="2023", extra_sheets={"2024": second})
    one = runner.invoke(args=["import", "sheet", str(path), "--org", "DON-SHEETS", "--sheet", "2023"])
    assert one.exit_code == 0 and "projects created            2" in one.output, one.output
    other = runner.invoke(args=["import", "sheet", str(path), "--org", "DON-SHEETS", "--sheet", "2024"])
    assert other.exit_code == 0 and "projects created            2" in other.output, other.output
    again = runner.invoke(args=["import", "sheet", str(path), "--org", "DON-SHEETS", "--sheet", "2024"])
    assert "Already imported" in again.output


# The database is prepared, imported into and killed in child processes, so the test's own
# process keeps only its shared test app (and the kill is a real SIGKILL of a real process).
SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {repo!r})
    from registry.app import create_app
    from registry.extensions import db
    from importers import pipeline
    from registry.models.types import Role
    from registry.services.actor import Actor

    app = create_app({{"SQLALCHEMY_DATABASE_URI": {url!r}, "IMPORT_STORAGE": {storage!r}}})
    actor = Actor("t", "cli", role=Role.ADMIN)

    def progress(done, total, stage):
        if stage == "writing" and {kill!r}:
            print("chunk written", flush=True)
            time.sleep(60)  # the parent kills us here, mid-import

    with app.app_context():
        if {prepare!r}:
            from flask_migrate import upgrade
            from registry.services.organisations import create_organisation
            from registry.services.reference import load_reference

            upgrade()
            load_reference()
            create_organisation(actor, {{"ref": "DON-KILL", "name": "K", "kind": "fund"}})
            db.session.commit()
        else:
            batch = pipeline.run_import("sheet", "big.csv", {path!r}, "DON-KILL", actor,
                                        options={{"chunk_size": 10}}, progress=progress)
            db.session.commit()  # the caller's one commit: killed before it, nothing is kept
            print(batch.status, batch.counts["transactions"], flush=True)
    """
)


def _child(tmp_path, prepare: bool, kill: bool) -> subprocess.Popen:
    script = SCRIPT.format(
        repo=str(REPO),
        url=f"sqlite:///{tmp_path / 'kill.sqlite3'}",
        storage=str(tmp_path),
        path=str(tmp_path / "big.csv"),
        prepare=prepare,
        kill=kill,
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def _counts(db_path) -> tuple[int, int, int]:
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        return tuple(
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("projects", "transactions", "import_batches")
        )
    finally:
        conn.close()


def test_killed_mid_import_leaves_nothing(tmp_path):
    prepare = _child(tmp_path, prepare=True, kill=False)
    _out, err = prepare.communicate(timeout=120)
    assert prepare.returncode == 0, err
    (tmp_path / "big.csv").write_bytes(csv_bytes(_rows(60)))
    proc = _child(tmp_path, prepare=False, kill=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "chunk written", proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert _counts(tmp_path / "kill.sqlite3") == (0, 0, 0)
    # And the file imports cleanly afterwards.
    again = _child(tmp_path, prepare=False, kill=False)
    out, err = again.communicate(timeout=120)
    assert out.split() == ["committed", "60"], err
    assert _counts(tmp_path / "kill.sqlite3") == (60, 60, 1)


def test_imported_flows_count_for_the_importing_donor(runner, make_org, tmp_path):
    """A donor's own file rarely names a provider: its flows are the donor's in reports by donor."""
    from reports.flows import build_spec, run_report

    org = make_org(ref="DON-OWN", name="Own donor")
    db.session.commit()
    path = xlsx(_rows(2, amount="1000.10"), tmp_path / "own.xlsx")
    result = runner.invoke(args=["import", "sheet", str(path), "--org", "DON-OWN"])
    assert result.exit_code == 0, result.output
    assert set(db.session.scalars(select(Transaction.provider_org_id))) == {org.id}
    report = run_report(build_spec(by="donor", measures="commitment", currency="EUR", donor="DON-OWN"))
    [row] = report.rows
    assert (
        row["donor"] == org.id
        and row["donor_label"] == "Own donor (DON-OWN)"
        and row["commitment"] == Decimal("2000.20")
    )


def test_cli_without_any_currency_says_first_to_pass_currency(runner, make_org, tmp_path):
    make_org(ref="DON-NOCUR")
    db.session.commit()
    rows = [[h for h in HEADER if h != "Currency"]] + [
        [f"P-{i}", f"Project {i}", "KEN", "commitment", "1000", "2021-03-01"] for i in range(3)
    ]
    path = tmp_path / "no-currency.csv"
    path.write_bytes(csv_bytes(rows))
    result = runner.invoke(args=["import", "sheet", str(path), "--org", "DON-NOCUR"])
    assert result.exit_code == 1
    guidance = result.output.find("3 amounts have no currency")
    assert -1 < guidance < result.output.find("No currency:"), result.output
    assert "--currency" in result.output
    fixed = runner.invoke(args=["import", "sheet", str(path), "--org", "DON-NOCUR", "--currency", "XOF"])
    assert fixed.exit_code == 0, fixed.output


def test_a_file_without_amounts_keeps_the_projects_flows(runner, make_org, tmp_path):
    """A list of projects (no amount column, or one not recognised) updates the projects and
    leaves their flows alone: it says nothing about money."""
    org = make_org(ref="DON-LIST")
    db.session.commit()
    first = tmp_path / "flows.csv"
    first.write_bytes(csv_bytes(_rows(1)))
    assert runner.invoke(args=["import", "sheet", str(first), "--org", "DON-LIST"]).exit_code == 0
    listing = tmp_path / "list.csv"
    listing.write_bytes(
        csv_bytes([["Project reference", "Title", "Country", "Montant (inconnu)"], ["P-000", "Renamed", "KEN", "5"]])
    )
    result = runner.invoke(args=["import", "sheet", str(listing), "--org", "DON-LIST"])
    assert result.exit_code == 0, result.output
    assert "projects updated            1" in result.output and "replaced                    0" in result.output
    assert db.session.scalar(select(Project.title).where(Project.org_id == org.id)) == "Renamed"
    assert _total(org) == 1000 * 100  # the commitment is still there
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    assert runner.invoke(args=["import", "undo", str(batch.id)]).exit_code == 0
    assert db.session.scalar(select(Project.title).where(Project.org_id == org.id)) == "Project 0"
    assert _total(org) == 1000 * 100


def test_importing_another_sheet_alone_warns_that_it_replaces_the_first_sheets_flows(runner, make_org, tmp_path):
    make_org(ref="DON-YEARS")
    db.session.commit()
    sheet_2024 = [HEADER] + [["P-000", "Project 0", "KEN", "commitment", "500", "EUR", "2024-03-01"]]
    path = xlsx(_rows(1), tmp_path / "years.xlsx", title="2023", extra_sheets={"2024": sheet_2024})
    first = runner.invoke(args=["import", "sheet", str(path), "--org", "DON-YEARS", "--sheet", "2023"])
    assert first.exit_code == 0 and "other_sheet" not in first.output
    second = runner.invoke(args=["import", "sheet", str(path), "--org", "DON-YEARS", "--sheet", "2024", "--dry-run"])
    assert "This import replaces 1 flows of 1 projects that import" in second.output, second.output
    assert "(sheet '2023') brought" in second.output and "import them together" in second.output
    together = runner.invoke(args=["import", "sheet", str(path), "--org", "DON-YEARS", "--dry-run"])
    assert "This import replaces" not in together.output  # all sheets: the first sheet's flows come again
