"""Logging a test client in without the login form (as the form does, with the same session keys)."""

from __future__ import annotations

from registry.auth import SessionUser, session_stamps


def session_for(user) -> dict:
    """The session data of a fresh login of ``user``: Flask-Login's id (with the user's session
    version) and the times the idle and absolute timeouts count from."""
    return {"_user_id": SessionUser(user).get_id(), "_fresh": True, **session_stamps()}


def log_in(client, user) -> None:
    """Give ``client`` a session cookie of ``user``."""
    with client.session_transaction() as session:
        session.update(session_for(user))
