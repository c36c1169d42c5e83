"""User accounts, passwords (argon2) and API tokens (stored only as hashes)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _
from sqlalchemy import select

from registry.errors import ConflictError, ValidationError
from registry.extensions import db
from registry.models import ApiToken, Country, Organisation, User
from registry.models.types import Role
from registry.services import audit, tokens
from registry.services.actor import Actor
from registry.services.lookup import load

_hasher = PasswordHasher()
TOKEN_PREFIX = tokens.TOKEN_PREFIX


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    """True when the password matches the user's argon2 hash."""
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


MIN_PASSWORD_LENGTH = 10


def set_language(user: User, language: str | None) -> None:
    """The language of the user's pages from now on (None: follow the browser)."""
    from registry.i18n import LANGUAGES

    if language is not None and language not in LANGUAGES:
        raise ValidationError(_("Unknown language"), {"language": [_("one of %(codes)s", codes=", ".join(LANGUAGES))]})
    user.language = language


def end_sessions(user: User) -> None:
    """End every login session of ``user`` (logout, a new password): each session cookie names the
    session version it was made with, and from now on none matches."""
    user.session_version = (user.session_version or 1) + 1
    db.session.flush()


def set_password(actor: Actor, user: User, password: str) -> None:
    """Give ``user`` a new password; every session of the user ends (they log in again with it)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            _("A password has at least %(min)s characters", min=MIN_PASSWORD_LENGTH),
            {"password": [_("At least %(min)s characters", min=MIN_PASSWORD_LENGTH)]},
        )
    user.password_hash = hash_password(password)
    end_sessions(user)
    audit.record(
        actor,
        "update",
        "user",
        user.id,
        None,
        {"password": "changed", "sessions": "ended"},
        f"Set a new password for {user.email}; every session of the account ended",
        user.org_id,
    )


hash_token = tokens.hash_token


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(
    actor: Actor,
    email: str,
    role: str,
    *,
    password: str | None = None,
    org: Organisation | None = None,
    country_iso3: str | None = None,
    name: str = "",
    demo: bool = False,
) -> User:
    """Create an account; donors need an organisation, governments a country."""
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationError(
            _("%(email)s is not an e-mail address", email=repr(email)), {"email": [_("Not an e-mail address")]}
        )
    role_value, country_iso3 = role_fields(role, org, country_iso3)
    if find_user(email):
        raise ConflictError(
            _("A user with e-mail %(email)s already exists", email=email), {"email": [_("Already used")]}
        )
    user = User(
        email=email,
        name=name,
        role=role_value,
        org_id=org.id if org else None,
        country_iso3=country_iso3,
        password_hash=hash_password(password) if password else None,
        demo=demo,
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        actor,
        "create",
        "user",
        user.id,
        None,
        {"email": email, "role": role_value.value, "org_id": user.org_id, "country": country_iso3},
        f"Created account {email}",
        user.org_id,
    )
    return user


def role_fields(role: str | Role, org: Organisation | None, country_iso3: str | None) -> tuple[Role, str | None]:
    """The role and country an account of ``role`` in ``org`` gets: a donor editor belongs to an
    organisation, a government account to a country (by default its organisation's)."""
    try:
        role_value = Role(role)
    except ValueError:
        raise ValidationError(
            _("Unknown role %(role)s", role=repr(role)),
            {"role": [_("One of %(choices)s", choices=", ".join(r.value for r in Role))]},
        ) from None
    if role_value is Role.DONOR and org is None:
        raise ValidationError(_("A donor editor belongs to an organisation"), {"org": [_("Required for donors")]})
    if role_value is Role.GOVERNMENT:
        country_iso3 = country_iso3 or (org.country_iso3 if org else None)
        if not country_iso3:
            raise ValidationError(
                _("A government account needs a country"), {"country": [_("Required for governments")]}
            )
    if country_iso3 and db.session.get(Country, country_iso3) is None:
        raise ValidationError(
            _("Unknown country %(code)s", code=repr(country_iso3)), {"country": [_("Unknown ISO3 code")]}
        )
    return role_value, country_iso3


def issue_token(actor: Actor, user: User, label: str = "") -> str:
    """Create an API token with every scope and the default lifetime; return its secret
    (``registry.services.tokens.issue`` chooses scopes and expiry)."""
    return tokens.issue(actor, user, label).secret


def revoke_tokens(actor: Actor, user: User, prefix: str | None = None) -> int:
    """Revoke a user's tokens (all, or those starting with ``prefix``); returns how many."""
    stmt = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    found = [t for t in db.session.scalars(stmt) if prefix is None or t.prefix.startswith(prefix[:12])]
    return sum(tokens.revoke(actor, token) for token in found)


def user_for_token(token: str) -> User | None:
    """The active user holding this token if it is unrevoked, unexpired and may read, or None."""
    try:
        return tokens.authenticate(token, tokens.Scope.READ)[0]
    except tokens.TokenRefused:
        return None


def get_user(user_id: int) -> User:
    return load(User, user_id, "user")
