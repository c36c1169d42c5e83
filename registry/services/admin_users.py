"""What an administrator does to accounts: list them, invite someone, change a role or an
organisation, deactivate and reactivate.

An invitation creates the account without a password and gives a link that lets its holder
set one. The link is signed with the application's secret key and carries a fingerprint of
the account's password hash, so it works once (setting the password changes the hash) and
for a set number of days; there is no table of invitations to keep. The registry sends no
e-mail: the administrator passes the link on.

Deactivating an account revokes its API tokens and ends its sessions: every request reads
the account again and refuses an inactive one (``registry.auth``), so a session cookie of a
deactivated account signs nobody in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Select, func, select

from registry.errors import NotFoundError, PermissionDenied, ValidationError
from registry.extensions import db
from registry.models import Organisation, User
from registry.models.types import Role
from registry.services import accounts, audit
from registry.services.actor import Actor
from registry.services.lookup import load

INVITATION_SALT = "registry-invitation"


@dataclass(frozen=True)
class UserFilters:
    """The filters of the users list; None means any."""

    role: Role | None = None
    org_id: int | None = None
    active: bool | None = None

    def query(self) -> Select:
        conditions = []
        if self.role is not None:
            conditions.append(User.role == self.role)
        if self.org_id is not None:
            conditions.append(User.org_id == self.org_id)
        if self.active is not None:
            conditions.append(User.active.is_(self.active))
        return select(User).where(*conditions)


def list_users(filters: UserFilters, page: int = 1, per_page: int = 50) -> tuple[list[User], int]:
    """One page of the accounts that match, by e-mail, and how many match in all."""
    query = filters.query()
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    stmt = query.order_by(User.email).limit(per_page).offset((max(page, 1) - 1) * per_page)
    return list(db.session.scalars(stmt)), total


def _org(org_id: int | None) -> Organisation | None:
    return load(Organisation, org_id, "organisation") if org_id else None


def invite_user(
    actor: Actor,
    email: str,
    role: str,
    org_id: int | None = None,
    country_iso3: str | None = None,
    name: str = "",
) -> User:
    """Create an account without a password; its holder sets one with the invitation link."""
    return accounts.create_user(
        actor, email, role, org=_org(org_id), country_iso3=(country_iso3 or "").upper() or None, name=name.strip()
    )


def _snapshot(user: User) -> dict:
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "org_id": user.org_id,
        "country": user.country_iso3,
        "active": user.active,
    }


def _other_active_admins(user: User) -> int:
    stmt = select(func.count(User.id)).where(User.role == Role.ADMIN, User.active.is_(True), User.id != user.id)
    return db.session.scalar(stmt) or 0


def _keep_an_admin(actor: Actor, user: User, change: str) -> None:
    """Nobody locks the registry out of its own administration (``change``: "demote" or
    "deactivate")."""
    if user.role is not Role.ADMIN or not user.active:
        return
    demote = change == "demote"
    if actor.user_id == user.id:
        if demote:
            message = _(
                "You cannot remove the administrator role of your own administrator account; ask another administrator"
            )
        else:
            message = _("You cannot deactivate your own administrator account; ask another administrator")
        raise PermissionDenied(message)
    if _other_active_admins(user) == 0:
        if demote:
            message = _("This is the last active administrator: you cannot remove the administrator role of it")
        else:
            message = _("This is the last active administrator: you cannot deactivate it")
        raise ValidationError(message, {"role": [_("Last admin")]})


def change_user(
    actor: Actor,
    user: User,
    role: str,
    org_id: int | None,
    country_iso3: str | None = None,
    name: str | None = None,
) -> User:
    """Change an account's role, organisation, country or name (the same rules as a new account)."""
    org = _org(org_id)
    role_value, country = accounts.role_fields(role, org, (country_iso3 or "").upper() or None)
    if role_value is not Role.ADMIN:
        _keep_an_admin(actor, user, "demote")
    before = _snapshot(user)
    user.role, user.org_id, user.country_iso3 = role_value, org.id if org else None, country
    if name is not None:
        user.name = name.strip()
    after = _snapshot(user)
    if before != after:
        changed = audit.changed_fields(before, after)
        summary = f"Changed {', '.join(changed)} of {user.email}"
        audit.record(actor, "update", "user", user.id, before, after, summary, user.org_id)
    db.session.flush()
    return user


def deactivate_user(actor: Actor, user: User) -> int:
    """Deactivate an account: its sessions end and its API tokens are revoked (returns how many)."""
    if not user.active:
        raise ValidationError(
            _("%(email)s is already deactivated", email=user.email), {"active": [_("Already inactive")]}
        )
    _keep_an_admin(actor, user, "deactivate")
    user.active = False
    audit.record(
        actor, "update", "user", user.id, {"active": True}, {"active": False}, f"Deactivated {user.email}", user.org_id
    )
    # Its sessions end for good: an inactive account is signed out on its next request, and the
    # new session version keeps its old cookies dead should the account be reactivated.
    accounts.end_sessions(user)
    return accounts.revoke_tokens(actor, user)


def reactivate_user(actor: Actor, user: User) -> User:
    """Let a deactivated account sign in again (its revoked tokens stay revoked)."""
    if user.active:
        raise ValidationError(_("%(email)s is already active", email=user.email), {"active": [_("Already active")]})
    user.active = True
    audit.record(
        actor, "update", "user", user.id, {"active": False}, {"active": True}, f"Reactivated {user.email}", user.org_id
    )
    db.session.flush()
    return user


# -- invitations ----------------------------------------------------------------


def _fingerprint(user: User) -> str:
    """Changes when the password is set, so that a link works only until then."""
    material = f"{user.id}:{user.email}:{user.password_hash or ''}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:20]


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=INVITATION_SALT)


def invitation_token(user: User, secret_key: str) -> str:
    """The token of a set-password link for the account (valid until a password is set)."""
    if not user.active:
        raise ValidationError(
            _("%(email)s is deactivated: reactivate it first", email=user.email), {"active": [_("Inactive")]}
        )
    return _serializer(secret_key).dumps({"user": user.id, "print": _fingerprint(user)})


def invited_user(token: str, secret_key: str, max_age_days: int) -> User:
    """The account a set-password link is for; NotFoundError when the link is not (or no longer) good."""
    try:
        data = _serializer(secret_key).loads(token, max_age=max_age_days * 86400)
    except SignatureExpired:
        raise NotFoundError(
            _("This link is more than %(days)s days old; ask an administrator for a new one", days=max_age_days)
        ) from None
    except BadSignature:
        raise NotFoundError(_("This link is not valid; ask an administrator for a new one")) from None
    user = db.session.get(User, data.get("user")) if isinstance(data, dict) else None
    if user is None or not user.active or data.get("print") != _fingerprint(user):
        raise NotFoundError(_("This link was already used or is no longer valid; ask an administrator for a new one"))
    return user


def set_password(actor: Actor, user: User, password: str, confirmation: str) -> User:
    """Set the account's password from an invitation link (which the new password spends); the
    rules and the ending of every session are accounts.set_password's."""
    if password != confirmation and len(password) >= accounts.MIN_PASSWORD_LENGTH:
        raise ValidationError(_("Choose another password"), {"confirmation": [_("The two passwords differ")]})
    accounts.set_password(actor, user, password)
    return user


def get_user(user_id: int) -> User:
    """The account with this id, or NotFoundError."""
    return load(User, user_id, "user")
