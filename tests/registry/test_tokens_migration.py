"""0018: tokens issued before scopes and expiry keep every right they had, and expire."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine, text

from tests.registry.test_migrations import flask


def _moment(value) -> dt.datetime:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def test_existing_tokens_get_every_scope_and_a_90_day_expiry(tmp_path):
    database = tmp_path / "registry.sqlite3"
    first = flask("db", "upgrade", "0014_flow_recipient_facts", database=database)
    assert first.returncode == 0, first.stderr
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, name, role, active, demo, created_at) "
                "VALUES (1, 'old@example.org', '', 'analyst', 1, 0, '2024-01-01')"
            )
        )
        for tid, label, revoked in ((1, "laptop", None), (2, "old", "2025-02-03 04:05:06")):
            conn.execute(
                text(
                    "INSERT INTO api_tokens (id, user_id, token_hash, prefix, label, created_at, revoked_at) "
                    "VALUES (:id, 1, :hash, 'ict4d_abcdef', :label, '2024-01-01', :revoked)"
                ),
                {"id": tid, "hash": f"{tid:064d}", "label": label, "revoked": revoked},
            )
    before = dt.datetime.now(dt.UTC)
    head = flask("db", "upgrade", database=database)
    assert head.returncode == 0, head.stderr
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, name, scopes, expires_at, revoked_at FROM api_tokens ORDER BY id")).all()
    (live, revoked) = rows
    assert (live.name, live.scopes) == ("laptop", "read write import")
    expiry = _moment(live.expires_at)
    assert before + dt.timedelta(days=90) - dt.timedelta(seconds=2) <= expiry
    assert expiry <= dt.datetime.now(dt.UTC) + dt.timedelta(days=90)
    assert (revoked.name, revoked.scopes) == ("old", "read write import")
    assert _moment(revoked.expires_at) == _moment(revoked.revoked_at) == dt.datetime(2025, 2, 3, 4, 5, 6, tzinfo=dt.UTC)

    down = flask("db", "downgrade", "0014_flow_recipient_facts", database=database)
    assert down.returncode == 0, down.stderr
    with engine.connect() as conn:
        assert conn.execute(text("SELECT label FROM api_tokens ORDER BY id")).scalars().all() == ["laptop", "old"]
    engine.dispose()
