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
