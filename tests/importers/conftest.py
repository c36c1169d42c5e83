"""Fixtures of the importer tests.

The importers commit (an import is its own transaction boundary), so the per-test
rollback must really hold the session to the test's connection: Flask-SQLAlchemy's
session picks the engine from the model's bind key and ignores ``bind=connection``,
which would let a commit escape the test. A plain SQLAlchemy session bound to the
connection, joining it through savepoints, keeps every commit inside the test.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import scoped_session, sessionmaker

from registry.extensions import db


@pytest.fixture
def app(_app):
    """The app, with every change of the test (commits included) rolled back afterwards."""
    with _app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=original.registry.scopefunc,
        )
        try:
            yield _app
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()
