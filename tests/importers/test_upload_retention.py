"""Rejected uploads are kept for IMPORT_REJECTED_RETENTION_DAYS only: deleted on each new upload
and by ``flask imports purge-uploads``; the files of live batches are kept."""

from __future__ import annotations

import io
import os
import time

import pytest

from importers import pipeline
from importers.pipeline.retention import purge_rejected_uploads
from registry.extensions import db
from registry.models import ImportBatch
from registry.services import accounts
from tests.importers.helpers import csv_bytes

DAY = 86400
ROWS = [
    ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"],
    ["RT-1", "Connected clinics", "Kenya", "commitment", "1000", "USD", "2021-01-04"],
]


@pytest.fixture
def storage(app, tmp_path):
    saved = app.config.get("IMPORT_STORAGE")
    app.config["IMPORT_STORAGE"] = str(tmp_path / "imports")
    yield pipeline.storage_dir()
    app.config["IMPORT_STORAGE"] = saved


def _aged(path, days: float):
    stamp = time.time() - days * DAY
    os.utime(path, (stamp, stamp))
    return path


def _batch(make_org, sha: str, status: str) -> ImportBatch:
    batch = ImportBatch(
        kind="sheet", org_id=make_org().id, filename="f.csv", file_hash=sha, status=status, options={}, counts={}
    )
    db.session.add(batch)
    db.session.flush()
    return batch


def _file(storage, sha: str, days: float, suffix: str = ".csv"):
    path = storage / f"{sha}{suffix}"
    path.write_bytes(b"x")
    return _aged(path, days)


def test_the_command_deletes_old_rejected_uploads_and_keeps_what_batches_need(app, runner, storage, make_org):
    never = _file(storage, "a" * 64, 8)  # refused before any batch
    failed = _file(storage, "b" * 64, 8)
    _batch(make_org, "b" * 64, "failed")
    discarded = _file(storage, "c" * 64, 8)
    _batch(make_org, "c" * 64, "discarded")
    committed = _file(storage, "d" * 64, 400)
    _batch(make_org, "d" * 64, "committed")
    previewed = _file(storage, "e" * 64, 30)
    _batch(make_org, "e" * 64, "previewed")
    both = _file(storage, "f" * 64, 8)  # failed once, then committed: kept
    _batch(make_org, "f" * 64, "failed")
    _batch(make_org, "f" * 64, "committed")
    recent = _file(storage, "9" * 64, 6)
    leftover = _file(storage, "8" * 64, 8, ".xlsx.part")
    result = runner.invoke(args=["imports", "purge-uploads"])
    assert result.exit_code == 0, result.output
    assert "Deleted 4 rejected uploads" in result.output and "kept 3 older files" in result.output
    for gone in (never, failed, discarded, leftover):
        assert not gone.exists(), gone.name
    for kept in (committed, previewed, both, recent):
        assert kept.exists(), kept.name


def test_the_retention_period_is_a_setting(app, runner, storage):
    path = _file(storage, "a" * 64, 2)
    app.config["IMPORT_REJECTED_RETENTION_DAYS"] = 3
    try:
        assert purge_rejected_uploads(storage).deleted == []
        app.config["IMPORT_REJECTED_RETENTION_DAYS"] = 1
        assert purge_rejected_uploads(storage).deleted == [path.name]
    finally:
        app.config["IMPORT_REJECTED_RETENTION_DAYS"] = 7
    again = _file(storage, "b" * 64, 0.01)
    assert runner.invoke(args=["imports", "purge-uploads", "--days", "0"]).exit_code == 0
    assert not again.exists()


def test_each_new_upload_purges_old_rejected_ones(app, client, storage, actor, make_org):
    org = make_org(ref="RT-DON")
    user = accounts.create_user(actor, "retention@example.org", "donor", org=org)
    headers = {"Authorization": f"Bearer {accounts.issue_token(actor, user)}"}
    db.session.commit()
    # A rejected upload (an executable named .xlsx), stored and refused...
    refused = client.post(
        "/api/v1/imports",
        data={"file": (io.BytesIO(b"MZ\x90\x00" + b"\x00" * 60), "evil.xlsx")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    [kept] = list(storage.iterdir())
    _aged(kept, 8)  # ...eight days ago
    ok = client.post(
        "/api/v1/imports",
        data={"file": (io.BytesIO(csv_bytes(ROWS)), "good.csv")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert ok.status_code == 201, ok.json
    assert not kept.exists()
    assert [p.suffix for p in storage.iterdir()] == [".csv"]  # the accepted upload stays


def test_an_upload_sent_again_starts_its_retention_again(app, storage):
    data = csv_bytes(ROWS)
    path, _sha = pipeline.store_file(data, "again.csv")
    _aged(path, 8)
    again, _sha = pipeline.store_file(data, "again.csv")
    assert again == path and path.exists()
    assert time.time() - path.stat().st_mtime < 60
