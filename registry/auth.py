"""Who is making the request: session login for pages, bearer tokens for the API.

API writes authenticate only with ``Authorization: Bearer <token>`` (the API is
exempt from CSRF, so a session cookie must never authorise a write there); pages
use the session cookie and CSRF-protected forms. Reading published data needs no login.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from registry.errors import PermissionDenied, RegistryError, is_contention
from registry.extensions import db
from registry.models import ApiToken, User
from registry.models.types import Role
from registry.services import tokens
from registry.services.actor import Actor
from registry.sqlite import READ_METHODS, writing
from registry.unit_of_work import commit

SAFE_METHODS = READ_METHODS


class Unauthorised(RegistryError):
    code = 401


# API writes open to anonymous callers by design: none today (tokens are issued from the command
# line and the web, never through the API). An endpoint added here must say why.
PUBLIC_API_WRITES: frozenset[str] = frozenset()


# Blueprints whose every route needs a scope of its own rather than read/write by method, e.g.
# {"imports": "import"}: filled by the package that owns the blueprint (the registry does not
# know the importers' routes).
TOKEN_SCOPES_KEY = "registry.token_scopes"


def token_scope_for(app: Flask, blueprint: str, scope: str) -> None:
    """Make every route of ``blueprint`` need ``scope`` when called with an API token."""
    app.extensions.setdefault(TOKEN_SCOPES_KEY, {})[blueprint] = tokens.Scope(scope)


def _scope_needed() -> tokens.Scope:
    special = current_app.extensions.get(TOKEN_SCOPES_KEY, {}).get(request.blueprint or "")
    if special is not None:
        return special
    return tokens.Scope.READ if request.method in SAFE_METHODS else tokens.Scope.WRITE


def _token_user(secret: str) -> User:
    """The user of a bearer token, checked in one place: known, unrevoked, unexpired (else
    401 saying which) and carrying the scope this request needs (else 403 naming it)."""
    # An unknown path or method stays the 404 or 405 it is, whatever the token may do.
    needed = _scope_needed() if request.url_rule is not None else None
    try:
        user, touched = tokens.authenticate(secret, needed)
    except tokens.TokenRefused as refused:
        if refused.missing is None:
            raise Unauthorised(refused.message) from None
        raise PermissionDenied(refused.message, {"scope": [f"Missing: {refused.missing}"]}) from None
    if touched and request.method in SAFE_METHODS:
        _commit_read_use(secret)
    return user


def _commit_read_use(secret: str) -> None:
    """A read never commits its own work, so the token's last use (written at most once a
    minute, tokens.USE_PRECISION) is committed alone, before the view runs; a write's one commit
    at its end carries it. The record is a writer's: it is begun as one (BEGIN IMMEDIATE on
    SQLite, registry/sqlite.py) rather than turning the read's transaction into a writer midway,
    which SQLite refuses at once while another writer holds the lock. If the database stays too
    busy for the record, the read goes on without it (the next use records it): bookkeeping
    never fails a read."""
    with db.session.no_autoflush:  # the change is written below, as a writer's, not here
        token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == tokens.hash_token(secret)))
    token_id, used_at = token.id, token.last_used_at
    db.session.rollback()
    try:
        with writing():
            db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=used_at))
            commit()
    except OperationalError as error:
        db.session.rollback()
        if not is_contention(error):
            raise
        current_app.logger.warning("API token %s: last use not recorded, the database is busy", token_id)


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
        g.user = _token_user(token.strip())
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
