"""Signing in and out of the web pages (session cookie; every form carries a CSRF token)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for

from registry.auth import current_user, login_user, logout_user
from registry.models.types import Role
from registry.services import accounts

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
def login():
    """Sign in with e-mail and password."""
    errors: dict[str, str] = {}
    email = request.form.get("email", "").strip()
    next_url = request.values.get("next", "")
    if request.method == "POST":
        user = accounts.find_user(email) if email else None
        password = request.form.get("password", "")
        if not email:
            errors["email"] = "Enter your e-mail address"
        if not password:
            errors["password"] = "Enter your password"
        if not errors:
            if user is None or not user.active or not accounts.verify_password(user, password):
                errors["form"] = "That e-mail address and password do not match an active account"
            else:
                login_user(user)  # the session cookie only: no data changes, nothing to commit
                flash(f"Signed in as {user.email}", "success")
                return redirect(safe_next(next_url))
    demo = [(e, role) for e, role in DEMO_ACCOUNTS if accounts.find_user(e) is not None]
    status = 400 if errors else 200
    return (
        render_template("auth/login.html", errors=errors, email=email, next_url=next_url, demo_accounts=demo),
        status,
    )


@bp.post("/logout")
def logout():
    """Sign out (a POST with a CSRF token, so another site cannot sign you out)."""
    if current_user() is not None:
        logout_user()
        flash("Signed out", "success")
    return redirect(url_for("web.home"))
