"""Who is making the request: session login for pages, bearer tokens for the API.

API writes authenticate only with ``Authorization: Bearer <token>`` (the API is
exempt from CSRF, so a session cookie must never authorise a write there); pages
use the session cookie and CSRF-protected forms. Reading published data needs no login.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Flask, abort, g, redirect, request, session, url_for

from registry.errors import PermissionDenied, RegistryError
from registry.extensions import db
from registry.models import User
from registry.models.types import Role
from registry.services import accounts
from registry.services.actor import Actor
from registry.sqlite import READ_METHODS

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class Unauthorised(RegistryError):
    code = 401


# API writes open to anonymous callers by design: none today (tokens are issued from the command
# line and the web, never through the API). An endpoint added here must say why.
PUBLIC_API_WRITES: frozenset[str] = frozenset()


def _is_api_write() -> bool:
    return request.path.startswith("/api/") and request.method not in SAFE_METHODS


def _load_user() -> None:
    """Who calls; an anonymous API write is refused here, before any view parses its input, so
    that a caller without a token learns nothing about what the endpoint would accept (401, not 422)."""
    _identify()
    # (an unknown path or method stays the 404 or 405 it is)
    if g.user is None and _is_api_write() and request.url_rule and request.endpoint not in PUBLIC_API_WRITES:
        raise Unauthorised("Send 'Authorization: Bearer <token>' to change data")


def _identify() -> None:
    g.user = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorised("Use 'Authorization: Bearer <token>'")
        # A read never commits: recording the token's use there would only make the read take
        # the database's write lock (and wait for, or be refused by, the writers) for nothing.
        user = accounts.user_for_token(token.strip(), touch=request.method not in READ_METHODS)
        if user is None:
            raise Unauthorised("The API token is unknown or revoked")
        g.user = user
        g.auth_via = "token"
        return
    user_id = session.get("user_id")
    if user_id is None:
        return
    if _is_api_write():
        return  # session cookies never authorise API writes
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        session.clear()
        return
    g.user = user
    g.auth_via = "session"


def current_user() -> User | None:
    """The authenticated user of this request, if any."""
    return g.get("user")


def current_actor() -> Actor:
    """The Actor for services: the logged-in user, via the API or the web."""
    user = current_user()
    channel = "api" if request.path.startswith("/api/") else "web"
    if user is None:
        return Actor(label="anonymous", channel=channel)
    return Actor(
        label=user.email,
        channel=channel,
        user_id=user.id,
        org_id=user.org_id,
        role=user.role,
        country_iso3=user.country_iso3,
    )


def login_user(user: User) -> None:
    session.clear()
    session["user_id"] = user.id
    session.permanent = False


def logout_user() -> None:
    session.clear()


def roles_required(*roles: Role) -> Callable:
    """Require a logged-in user with one of ``roles`` (any role when none are given)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                if request.path.startswith("/api/"):
                    raise Unauthorised("Log in or send an API token to do this")
                return redirect(url_for("auth.login", next=request.full_path))
            if roles and user.role not in roles:
                raise PermissionDenied("Your role does not allow this")
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles  # type: ignore[attr-defined]  # read by the navigation
        return wrapped

    return decorator


login_required = roles_required()


def init_app(app: Flask) -> None:
    app.before_request(_load_user)


def forbid_unless(allowed: bool, message: str = "You may not change this object") -> None:
    """Raise 403 unless ``allowed``."""
    if not allowed:
        raise PermissionDenied(message)


__all__ = [
    "Unauthorised",
    "abort",
    "current_actor",
    "current_user",
    "forbid_unless",
    "init_app",
    "login_required",
    "login_user",
    "logout_user",
    "roles_required",
]
