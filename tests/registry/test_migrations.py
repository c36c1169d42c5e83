"""Schema changes upgrade a user's database in place; nothing is dropped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

REPO = Path(__file__).resolve().parents[2]


def flask(*args: str, database: Path) -> subprocess.CompletedProcess:
    env = {"DATABASE_URL": f"sqlite:///{database}", "PATH": "/usr/bin:/bin", "INSTANCE_PATH": str(database.parent)}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_existing_database_is_upgraded_in_place(tmp_path):
    database = tmp_path / "registry.sqlite3"
    first = flask("db", "upgrade", "0001_initial", database=database)
    assert first.returncode == 0, first.stderr
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organisations (ref, name, kind, description, demo, version, created_at, updated_at) "
                "VALUES ('KEEP', 'Kept organisation', 'ngo', '', 0, 1, '2024-01-01', '2024-01-01')"
            )
        )
    head = flask("db", "upgrade", database=database)
    assert head.returncode == 0, head.stderr
    again = flask("db", "upgrade", database=database)
    assert again.returncode == 0, again.stderr
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT name FROM organisations WHERE ref = 'KEEP'")).scalar_one()
        assert kept == "Kept organisation"
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert len(current) == 1, "the migrations must have a single head"
    assert "projects" in inspect(engine).get_table_names()
    engine.dispose()


def test_flows_without_a_provider_get_the_one_the_services_imply(tmp_path):
    """0010: a flow imported without a provider counts for its source's manager or the project's owner."""
    database = tmp_path / "registry.sqlite3"
    first = flask("db", "upgrade", "0009_partial_source_index", database=database)
    assert first.returncode == 0, first.stderr
    engine = create_engine(f"sqlite:///{database}")
    stamp = "'2024-01-01', '2024-01-01'"
    with engine.begin() as conn:
        for oid, ref in ((1, "OWNER"), (2, "MANAGER"), (3, "NAMED")):
            conn.execute(
                text(
                    "INSERT INTO organisations (id, ref, name, kind, description, demo, version, created_at,"
                    f" updated_at) VALUES ({oid}, '{ref}', '{ref}', 'donor_agency', '', 0, 1, {stamp})"
                )
            )
        conn.execute(
            text(
                "INSERT INTO funding_sources (id, ref, name, kind, managing_org_id, amount_currency, description, demo,"
                f" version, created_at, updated_at) VALUES (1, 'FS', 'Fund', 'trust_fund', 2, 'USD', '', 0, 1, {stamp})"
            )
        )
        conn.execute(
            text(
                "INSERT INTO projects (id, org_id, reference, title, description, status, wsis_action_lines, demo,"
                f" version, created_at, updated_at) VALUES (1, 1, 'P', 'T', '', 'active', '', 0, 1, {stamp})"
            )
        )
        for bid, kind in ((1, "sheet"), (2, "iati")):
            conn.execute(
                text(
                    "INSERT INTO import_batches (id, kind, filename, file_hash, status, dry_run, options, counts,"
                    f" problems, progress, created_at) VALUES ({bid}, '{kind}', 'f', 'h{bid}', 'committed', 0, '{{}}',"
                    " '{}', '[]', 100, '2024-01-01')"
                )
            )
        for tid, source, provider, kind, batch in (
            (1, "NULL", "NULL", "commitment", "1"),
            (2, "1", "NULL", "disbursement", "NULL"),
            (3, "NULL", "NULL", "incoming_funds", "NULL"),
            (4, "1", "3", "commitment", "NULL"),
            (5, "NULL", "NULL", "disbursement", "2"),
        ):
            conn.execute(
                text(
                    "INSERT INTO transactions (id, project_id, funding_source_id, provider_org_id, type, amount_minor,"
                    " currency, value_date, description, usd_minor, usd_rate, usd_rate_date, created_at,"
                    f" import_batch_id) VALUES ({tid}, 1, {source}, {provider}, '{kind}', 100, 'USD', '2024-01-01',"
                    f" '', 100, '1', '2024-01-01', '2024-01-01', {batch})"
                )
            )
    head = flask("db", "upgrade", database=database)
    assert head.returncode == 0, head.stderr
    with engine.connect() as conn:
        providers = conn.execute(text("SELECT id, provider_org_id FROM transactions ORDER BY id")).all()
        dirty = conn.execute(text("SELECT project_id FROM report_dirty")).scalars().all()
    engine.dispose()
    # the owner; the source's manager; incoming funds stay unknown; a named provider is kept;
    # an IATI flow stays as it is (its file may have named a provider the registry did not know)
    assert [tuple(r) for r in providers] == [(1, 1), (2, 2), (3, None), (4, 3), (5, None)]
    assert 1 in dirty  # the report facts of the project are recomputed
