"""Signing in and out of the web pages (session cookie; every form carries a CSRF token), and
changing one's password.

Failed logins are rate-limited per address and per account (registry/rate_limits.py); logging
out and a new password end every session of the user (registry/auth.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from registry.auth import authenticate, current_actor, current_user, login_required, login_user, logout_user
from registry.models.types import Role
from registry.rate_limits import login_limits
from registry.services import accounts
from registry.web.saving import save

bp = Blueprint("auth", __name__)

DEMO_ACCOUNTS = [(f"{role}@demo.invalid", role) for role in Role]


def safe_next(target: str | None) -> str:
    """A local path to return to after login; anything else goes home (no open redirect)."""
    if not target:
        return url_for("web.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    """Sign in with e-mail and password."""
    errors: dict[str, str] = {}
    email = request.form.get("email", "").strip()
    next_url = request.values.get("next", "")
    if request.method == "POST":
        password = request.form.get("password", "")
        if not email:
            errors["email"] = _("Enter your e-mail address")
        if not password:
            errors["password"] = _("Enter your password")
        if not errors:
            user = authenticate(email, password)
            if user is None:
                errors["form"] = _("That e-mail address and password do not match an active account")
            else:
                login_user(user)  # the session cookie only: no data changes, nothing to commit
                flash(_("Signed in as %(email)s", email=user.email), "success")
                return redirect(safe_next(next_url))
    demo = [(e, role) for e, role in DEMO_ACCOUNTS if accounts.find_user(e) is not None]
    status = 400 if errors else 200
    return (
        render_template("auth/login.html", errors=errors, email=email, next_url=next_url, demo_accounts=demo),
        status,
    )


@bp.post("/logout")
def logout():
    """Sign out (a POST with a CSRF token, so another site cannot sign you out). Every session of the
    account ends, on this device and on any other, so a copied cookie is worth nothing afterwards."""
    user = current_user()
    if user is None:
        return redirect(url_for("web.home"))

    def end_all() -> None:
        accounts.end_sessions(user)
        logout_user()

    return save(end_all, _("Signed out"), url_for("web.home"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    """Change one's own password (the current one first); every session ends, this one included."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        user = current_user()
        current = request.form.get("current_password", "")
        new = request.form.get("new_password", "")
        if not current:
            errors["current_password"] = _("Enter your current password")
        elif not accounts.verify_password(user, current):
            errors["current_password"] = _("That is not your current password")
        if len(new) < accounts.MIN_PASSWORD_LENGTH:
            errors["new_password"] = _("Use at least %(num)d characters", num=accounts.MIN_PASSWORD_LENGTH)
        elif new != request.form.get("confirm_password", ""):
            errors["confirm_password"] = _("The two new passwords differ")
        if not errors:
            actor = current_actor()

            def change() -> None:
                accounts.set_password(actor, user, new)
                logout_user()

            return save(
                change,
                _("Your password is changed and every session of your account has ended; log in with the new password"),
                url_for("auth.login"),
            )
    return render_template("auth/password.html", errors=errors), 400 if errors else 200
