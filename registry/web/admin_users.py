"""The administrator's user pages (list, invite, change, deactivate) and the page an
invitation link opens, where the invited person sets a password."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select

from registry.auth import current_actor
from registry.extensions import db
from registry.models import ApiToken, User
from registry.models.types import Role, label
from registry.services import admin_users as service
from registry.services.actor import Actor
from registry.web.admin import PER_PAGE, Args, admin_only, bp, page_url, pages_of
from registry.web.choices import choices
from registry.web.forms import FormErrors
from registry.web.saving import reloaded, save

DEFAULT_INVITATION_DAYS = 7
ACTIVE = {"yes": True, "no": False}


def roles() -> list[tuple[str, str]]:
    """The roles to choose from, named in the reader's language."""
    return [(r.value, label(r.value)) for r in Role]


def invitation_days() -> int:
    """How long an invitation link works (the app's ``INVITATION_DAYS``, 7 unless set)."""
    return int(current_app.config.get("INVITATION_DAYS", DEFAULT_INVITATION_DAYS))


def invitation_link(user: User) -> str | None:
    """A set-password link for an account that has no password yet (None once it has one)."""
    if user.password_hash or not user.active:
        return None
    token = service.invitation_token(user, current_app.secret_key)
    return url_for("invitation.accept", token=token, _external=True)


@bp.get("/users")
@admin_only
def users():
    """Accounts, filtered by role, organisation and whether they are active."""
    args = Args()
    role = args.choice("role", [r.value for r in Role])
    active = args.choice("active", list(ACTIVE))
    filters = service.UserFilters(
        role=Role(role) if role else None, org_id=args.number("org"), active=ACTIVE.get(active or "")
    )
    page = args.page()
    items, total = service.list_users(filters, page, PER_PAGE)
    return render_template(
        "admin/users.html",
        items=items,
        total=total,
        page=page,
        pages=pages_of(total),
        page_url=page_url,
        roles=roles(),
        organisations=choices().organisations,
        selected={"role": role or "", "org": str(filters.org_id or ""), "active": active or ""},
        filter_errors=args.errors,
    )


def _user_form(values: dict, errors: FormErrors | None, user: User | None):
    template = "admin/user.html" if user is not None else "admin/invite.html"
    context = {}
    if user is not None:
        context = {
            "invitation": invitation_link(user),
            "active_tokens": db.session.scalar(
                select(func.count(ApiToken.id)).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            ),
        }
    return render_template(
        template,
        user=user,
        values=values,
        errors=errors.errors if errors else {},
        message=errors.message if errors else None,
        roles=roles(),
        organisations=choices().organisations,
        countries=choices().countries,
        days=invitation_days(),
        **context,
    ), (422 if errors else 200)


def _org_id(form) -> int | None:
    value = (form.get("org_id") or "").strip()
    return int(value) if value.isdigit() else None


@bp.route("/users/invite", methods=["GET", "POST"])
@admin_only
def invite():
    """Create an account and give the administrator a link to pass on, to set its password."""
    if request.method != "POST":
        return _user_form({"role": Role.DONOR.value}, None, None)
    form = request.form
    return save(
        lambda: service.invite_user(
            current_actor(),
            form.get("email", ""),
            form.get("role", ""),
            _org_id(form),
            form.get("country"),
            form.get("name", ""),
        ),
        lambda user: _("Invited %(email)s: pass on the link below, the registry sends no e-mail", email=user.email),
        lambda user: url_for("admin.user", user_id=user.id),
        refused=lambda errors: _user_form(form.to_dict(), errors, None),
    )


def _state_of(user: User) -> dict:
    return {
        "name": user.name,
        "role": user.role.value,
        "org_id": str(user.org_id or ""),
        "country": user.country_iso3 or "",
    }


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_only
def user(user_id: int):
    """One account: its role, organisation and country (to change), its tokens and its trail."""
    item = service.get_user(user_id)
    if request.method != "POST":
        return _user_form(_state_of(item), None, item)
    form = request.form
    return save(
        lambda: service.change_user(
            current_actor(), item, form.get("role", ""), _org_id(form), form.get("country"), form.get("name")
        ),
        _("Saved the changes to %(email)s", email=item.email),
        url_for("admin.user", user_id=user_id),
        refused=lambda errors: _user_form(form.to_dict(), errors, reloaded(User, user_id)),
    )


@bp.post("/users/<int:user_id>/deactivate")
@admin_only
def deactivate(user_id: int):
    """Deactivate an account: its sessions end and its API tokens are revoked."""
    item = service.get_user(user_id)
    return save(
        lambda: service.deactivate_user(current_actor(), item),
        lambda revoked: ngettext(
            "Deactivated %(email)s: signed out everywhere, %(num)d API token revoked",
            "Deactivated %(email)s: signed out everywhere, %(num)d API tokens revoked",
            revoked,
            email=item.email,
        ),
        url_for("admin.user", user_id=user_id),
    )


@bp.post("/users/<int:user_id>/reactivate")
@admin_only
def reactivate(user_id: int):
    """Let a deactivated account sign in again."""
    item = service.get_user(user_id)
    return save(
        lambda: service.reactivate_user(current_actor(), item),
        _("Reactivated %(email)s", email=item.email),
        url_for("admin.user", user_id=user_id),
    )


# -- the page an invitation link opens (no login: the link is the proof) --------

invitations = Blueprint("invitation", __name__)


@invitations.route("/invitation/<token>", methods=["GET", "POST"])
def accept(token: str):
    """Set the password of an invited account; the link then stops working."""
    invited = service.invited_user(token, current_app.secret_key, invitation_days())
    if request.method != "POST":
        return render_template("admin/set_password.html", invited=invited, errors={}, message=None)
    actor = Actor(label=invited.email, channel="web", user_id=invited.id, org_id=invited.org_id, role=invited.role)

    def refused(errors: FormErrors):
        again = reloaded(User, invited.id)
        page = render_template("admin/set_password.html", invited=again, errors=errors.errors, message=errors.message)
        return page, 422

    return save(
        lambda: service.set_password(
            actor, invited, request.form.get("password", ""), request.form.get("confirmation", "")
        ),
        _("Your password is set: sign in with your e-mail address and it"),
        url_for("auth.login"),
        refused=refused,
    )
