"""API tokens: issue one with scopes and an expiry, list, revoke, and check one presented.

A token's secret is shown once, when it is issued; only its SHA-256 hash is stored. A
token may do what its scopes allow (``read``, ``write``, ``import``) AND what its holder's
role allows: the scopes narrow a role, never widen it. Every token expires; its lifetime is
given in days, at most ``API_TOKEN_MAX_DAYS``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from flask_babel import gettext as _
from sqlalchemy import Select, select

from registry.errors import NotFoundError, PermissionDenied, ValidationError
from registry.extensions import db
from registry.models import ApiToken, User
from registry.models.types import N_, Role, utcnow
from registry.services import audit
from registry.services.actor import Actor

TOKEN_PREFIX = "ict4d_"
DEFAULT_DAYS = 90
MAX_DAYS = 365
NAME_LENGTH = 100
# last_used_at is written when it is older than this: a token used in a burst of requests
# costs one write, not one per request.
USE_PRECISION = dt.timedelta(minutes=1)


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    IMPORT = "import"


ALL_SCOPES: tuple[Scope, ...] = (Scope.READ, Scope.WRITE, Scope.IMPORT)
# What each scope lets a token do, in words for the pages and the CLI (translate them with
# gettext where they are shown).
SCOPE_MEANS = {
    Scope.READ: N_("read data through the API"),
    Scope.WRITE: N_("change data through the API"),
    Scope.IMPORT: N_("upload, commit and undo imports"),
}


def hash_token(secret: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_scopes(values: Iterable[str]) -> tuple[Scope, ...]:
    """Scopes given by name (any case, any order, repeated or not), in canonical order;
    an unknown name or none at all is a 422 naming the field."""
    wanted = set()
    for value in values:
        try:
            wanted.add(Scope(value.strip().lower()))
        except ValueError:
            raise ValidationError(
                _("Unknown token scope %(scope)s", scope=repr(value)),
                {"scopes": [_("One or more of %(scopes)s", scopes=", ".join(ALL_SCOPES))]},
            ) from None
    if not wanted:
        raise ValidationError(
            _("A token needs at least one scope"),
            {"scopes": [_("Choose from %(scopes)s", scopes=", ".join(ALL_SCOPES))]},
        )
    return tuple(s for s in ALL_SCOPES if s in wanted)


def scopes_of(token: ApiToken) -> tuple[Scope, ...]:
    """The scopes a stored token carries."""
    return tuple(Scope(s) for s in token.scopes.split())


def status_of(token: ApiToken, now: dt.datetime | None = None) -> str:
    """'revoked', 'expired' or 'active'."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


@dataclass(frozen=True)
class Lifetimes:
    """How long a new token lives when none is chosen, and at most (days)."""

    default: int = DEFAULT_DAYS
    maximum: int = MAX_DAYS

    @classmethod
    def of(cls, config: Mapping) -> Lifetimes:
        """The lifetimes an app is configured with (API_TOKEN_DAYS, API_TOKEN_MAX_DAYS)."""
        return cls(int(config.get("API_TOKEN_DAYS", DEFAULT_DAYS)), int(config.get("API_TOKEN_MAX_DAYS", MAX_DAYS)))


def _lifetime(days: int | None, lifetimes: Lifetimes) -> dt.timedelta:
    max_days = lifetimes.maximum
    if days is None:
        days = min(lifetimes.default, max_days)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValidationError(
            _("A token lives at least one day"), {"expires_in": [_("A whole number of days, 1 or more")]}
        )
    if days > max_days:
        raise ValidationError(
            _("A token lives at most %(max)s days (API_TOKEN_MAX_DAYS)", max=max_days),
            {"expires_in": [_("At most %(max)s days", max=max_days)]},
        )
    return dt.timedelta(days=days)


@dataclass(frozen=True)
class Issued:
    """A token just issued: the stored row and the secret, which exists nowhere else."""

    token: ApiToken
    secret: str = field(repr=False)  # never in a log line or a traceback's locals


def issue(
    actor: Actor,
    user: User,
    name: str = "",
    scopes: Iterable[str] = ALL_SCOPES,
    days: int | None = None,
    *,
    lifetimes: Lifetimes = Lifetimes(),
    now: dt.datetime | None = None,
) -> Issued:
    """Create a token for ``user`` with ``scopes`` that expires after ``days`` (by default and at
    most as ``lifetimes`` say); return it with its secret. Only the hash is stored."""
    name = (name or "").strip()
    if len(name) > NAME_LENGTH:
        raise ValidationError(
            _("A token name has at most %(max)s characters", max=NAME_LENGTH), {"name": [_("Too long")]}
        )
    chosen = parse_scopes(scopes)
    lifetime = _lifetime(days, lifetimes)
    now = now or utcnow()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        token_hash=hash_token(secret),
        prefix=secret[:12],
        name=name,
        scopes=" ".join(chosen),
        created_at=now,
        expires_at=now + lifetime,
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        actor,
        "create",
        "api_token",
        token.id,
        None,
        {
            "user": user.email,
            "prefix": token.prefix,
            "name": name,
            "scopes": token.scopes,
            "expires_at": _iso(token.expires_at),
        },
        f"Issued API token {token.prefix}… ({token.scopes}) for {user.email}",
        user.org_id,
    )
    return Issued(token, secret)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def may_manage(actor: Actor, token: ApiToken) -> bool:
    """A token is managed by its holder and by an administrator."""
    return actor.role is Role.ADMIN or (actor.user_id is not None and actor.user_id == token.user_id)


def get(actor: Actor, token_id: int) -> ApiToken:
    """A token the actor may manage (404 if there is none with that id, 403 if not theirs)."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFoundError(_("No API token with id %(id)s", id=token_id))
    if not may_manage(actor, token):
        raise PermissionDenied(_("This API token is not yours"))
    return token


def revoke(actor: Actor, token: ApiToken, now: dt.datetime | None = None) -> bool:
    """Revoke a token (its holder or an admin); False when it was already revoked."""
    if not may_manage(actor, token):
        raise PermissionDenied(_("This API token is not yours"))
    if token.revoked_at is not None:
        return False
    token.revoked_at = now or utcnow()
    db.session.flush()
    audit.record(
        actor,
        "update",
        "api_token",
        token.id,
        {"revoked_at": None},
        {"revoked_at": _iso(token.revoked_at), "prefix": token.prefix},
        f"Revoked API token {token.prefix}… of {token.user.email}",
        token.user.org_id,
    )
    return True


def listing(user: User | None = None) -> Select:
    """Tokens newest first: one user's, or everyone's (for an administrator)."""
    query = select(ApiToken).join(ApiToken.user).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    return query if user is None else query.where(ApiToken.user_id == user.id)


def holders() -> list[User]:
    """The users who hold at least one token, by e-mail (the administrator's filter)."""
    return list(db.session.scalars(select(User).where(User.id.in_(select(ApiToken.user_id))).order_by(User.email)))


class TokenRefused(Exception):
    """A presented token that authenticates nobody (401) or may not do this (403)."""

    def __init__(self, code: int, message: str, missing: Scope | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.missing = missing


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _lacks(needed: Scope, held: Iterable[Scope]) -> str:
    """Why a token may not do this: the scope it lacks, what that scope is for, the ones it has."""
    has = ", ".join(held)
    if needed is Scope.READ:
        return _(
            "This API token lacks the '%(scope)s' scope, which it needs to read data through the API; "
            "it has: %(has)s. Create a token with the '%(scope)s' scope",
            scope=needed.value,
            has=has,
        )
    if needed is Scope.WRITE:
        return _(
            "This API token lacks the '%(scope)s' scope, which it needs to change data through the API; "
            "it has: %(has)s. Create a token with the '%(scope)s' scope",
            scope=needed.value,
            has=has,
        )
    return _(
        "This API token lacks the '%(scope)s' scope, which it needs to upload, commit and undo imports; "
        "it has: %(has)s. Create a token with the '%(scope)s' scope",
        scope=needed.value,
        has=has,
    )


def authenticate(secret: str, needed: Scope | None, now: dt.datetime | None = None) -> tuple[User, bool]:
    """The user a presented token stands for, if it is known, unrevoked, unexpired, of an
    active account and carries the ``needed`` scope (if any); else TokenRefused saying which of these
    failed. Also returns whether last_used_at was written (the caller commits it)."""
    now = now or utcnow()
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None:
        raise TokenRefused(401, _("The API token is not known; check that it was copied whole, or create a new one"))
    if token.revoked_at is not None:
        raise TokenRefused(
            401, _("The API token was revoked on %(when)s; create a new one", when=_when(token.revoked_at))
        )
    if token.expires_at <= now:
        raise TokenRefused(401, _("The API token expired on %(when)s; create a new one", when=_when(token.expires_at)))
    if not token.user.active:
        raise TokenRefused(401, _("The account holding this API token is deactivated"))
    if needed is not None and needed not in scopes_of(token):
        raise TokenRefused(403, _lacks(needed, scopes_of(token)), missing=needed)
    touched = token.last_used_at is None or now - token.last_used_at >= USE_PRECISION
    if touched:
        token.last_used_at = now
    return token.user, touched
