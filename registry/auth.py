"""Who is making the request: session login for pages, bearer tokens for the API.

API writes authenticate only with ``Authorization: Bearer <token>`` (the API is
exempt from CSRF, so a session cookie must never authorise a write there); pages
use the session cookie and CSRF-protected forms. Reading published data needs no login.

Sessions are Flask-Login's, in the signed session cookie, with three limits the server checks
on every request, so that a copied cookie is not a key for ever:

- the cookie names the user's ``session_version``; logging out or setting a new password raises
  it, which ends every session of that user, on every device, cookies saved by anyone included;
- ``SESSION_IDLE_MINUTES`` without a request ends the session;
- ``SESSION_MAX_HOURS`` after the login the session ends, however active.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from functools import wraps

import flask_login
from flask import Flask, abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from registry.errors import PermissionDenied, RegistryError, is_contention
from registry.extensions import db, login_manager
from registry.models import ApiToken, User
from registry.models.types import Role
from registry.services import accounts, tokens
from registry.services.actor import Actor
from registry.sqlite import READ_METHODS, writing
from registry.unit_of_work import commit

SAFE_METHODS = READ_METHODS
IDENTIFIED = "registry.identified"


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
        raise PermissionDenied(refused.message, {"scope": [_("Missing: %(scope)s", scope=refused.missing)]}) from None
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
    identify()
    # (an unknown path or method stays the 404 or 405 it is)
    if g.user is None and _is_api_write() and request.url_rule and request.endpoint not in PUBLIC_API_WRITES:
        raise Unauthorised(_("Send 'Authorization: Bearer <token>' to change data"))


def identify() -> User | None:
    """Who makes this request (worked out once a request; the rate limits may ask first)."""
    # marked on the request, not on g: g belongs to the app context, which may outlive a request
    if not request.environ.get(IDENTIFIED):
        request.environ[IDENTIFIED] = True
        try:
            _identify()
        except Unauthorised:
            g.user = None
            raise
    return g.user


def _identify() -> None:
    g.user = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _space, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorised(_("Use 'Authorization: Bearer <token>'"))
        g.user = _token_user(token.strip())
        g.auth_via = "token"
        return
    if "_user_id" not in session:
        return
    if _is_api_write():
        return  # session cookies never authorise API writes
    g.pop("_login_user", None)  # Flask-Login's answer of an earlier request in the same app context
    held = flask_login.current_user
    if not held.is_authenticated:
        ended = g.pop("session_ended", None) or _ended_message(SESSION_ENDED)
        _forget_session()
        if not request.path.startswith("/api/"):
            flash(ended, "error")
        return
    g.user = held.user
    g.auth_via = "session"
    _touch_session()


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


# --------------------------------------------------------------------------- sessions


class SessionUser:
    """What Flask-Login holds for a session: the user, and an id that carries the user's
    session version, so that raising the version makes every earlier cookie name nobody."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, user: User):
        self.user = user

    @property
    def is_active(self) -> bool:
        return self.user.active

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_version}"


def now() -> float:
    """The clock of session timeouts (the tests move it)."""
    return time.time()


# The last-seen time is written back at most this often, so that a burst of requests (a page
# and its assets) does not rewrite the cookie each time; the idle timeout is this much coarse.
TOUCH_EVERY_SECONDS = 60


def session_stamps() -> dict[str, int]:
    """The times a new session starts with: the login (absolute timeout) and the last request (idle)."""
    moment = int(now())
    return {"_login_at": moment, "_seen_at": moment}


SESSION_ENDED, SESSION_TOO_OLD, SESSION_IDLE = "ended", "too old", "idle"


def _ended_message(why: str) -> str:
    """What the login page says when a session is over, a whole sentence for each reason."""
    if why == SESSION_TOO_OLD:
        return _(
            "Your session ended %(hours)s hours after you logged in; please log in again",
            hours=current_app.config["SESSION_MAX_HOURS"],
        )
    if why == SESSION_IDLE:
        return _(
            "Your session ended after %(minutes)s minutes without activity; please log in again",
            minutes=current_app.config["SESSION_IDLE_MINUTES"],
        )
    return _("Your session has ended; please log in again")


def _ended() -> str | None:
    """Why the session of this request is over by the clock (the message to show), or None
    while it runs."""
    login_at, seen_at = session.get("_login_at"), session.get("_seen_at")
    if not isinstance(login_at, int) or not isinstance(seen_at, int):
        return _ended_message(SESSION_ENDED)
    moment = now()
    max_hours = current_app.config["SESSION_MAX_HOURS"]
    if moment - login_at > max_hours * 3600:
        return _ended_message(SESSION_TOO_OLD)
    idle = current_app.config["SESSION_IDLE_MINUTES"]
    if moment - seen_at > idle * 60:
        return _ended_message(SESSION_IDLE)
    return None


def _session_user(session_id: str) -> SessionUser | None:
    """Flask-Login's user loader: the user of a session that is still current, else None."""
    user_id, _colon, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None  # a cookie from before versioned sessions
    ended = _ended()
    if ended:
        g.session_ended = ended
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return SessionUser(user)


def _touch_session() -> None:
    moment = int(now())
    if moment - session.get("_seen_at", 0) >= TOUCH_EVERY_SECONDS:
        session["_seen_at"] = moment


def _forget_session() -> None:
    flask_login.logout_user()
    for key in ("_login_at", "_seen_at"):
        session.pop(key, None)


def login_user(user: User) -> None:
    """Start a session for ``user`` (who has just proved their password)."""
    session.clear()  # nothing of an earlier visitor's session carries over
    flask_login.login_user(SessionUser(user))
    session.update(session_stamps())
    session.permanent = False
    g.user = user


def logout_user() -> None:
    """End the session of this request; the caller ends the others with ``accounts.end_sessions``."""
    _forget_session()
    session.clear()
    g.user = None


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None. An unknown or inactive account costs
    the same argon2 verification as a known one, so the time of an answer does not tell which."""
    user = accounts.find_user(email)
    if user is None or not user.active or not user.password_hash:
        accounts.verify_password(_decoy(), password)
        return None
    return user if accounts.verify_password(user, password) else None


@functools.cache
def _decoy_hash() -> str:
    return accounts.hash_password(secrets.token_urlsafe(24))


def _decoy() -> User:
    # a transient user (never added to the database session) with the hash of a random password,
    # made with the same parameters as every real hash
    return User(password_hash=_decoy_hash())


def roles_required(*roles: Role) -> Callable:
    """Require a logged-in user with one of ``roles`` (any role when none are given)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                if request.path.startswith("/api/"):
                    raise Unauthorised(_("Log in or send an API token to do this"))
                # full_path ends in a bare "?" when there is no query string: not worth keeping
                here = request.full_path if request.query_string else request.path
                return redirect(url_for("auth.login", next=here))
            if roles and user.role not in roles:
                raise PermissionDenied(_("Your role does not allow this"))
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles  # type: ignore[attr-defined]  # read by the navigation
        return wrapped

    return decorator


login_required = roles_required()


def init_app(app: Flask) -> None:
    login_manager.user_loader(_session_user)
    app.before_request(_load_user)


def forbid_unless(allowed: bool, message: str | None = None) -> None:
    """Raise 403 unless ``allowed`` (saying ``message``, by default that the object may not be changed)."""
    if not allowed:
        raise PermissionDenied(message or _("You may not change this object"))


__all__ = [
    "Unauthorised",
    "SessionUser",
    "abort",
    "authenticate",
    "current_actor",
    "current_user",
    "forbid_unless",
    "identify",
    "init_app",
    "login_required",
    "login_user",
    "logout_user",
    "roles_required",
    "session_stamps",
]
