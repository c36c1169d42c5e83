"""The API tokens pages: a user's own tokens (create, list, revoke), and every user's tokens
for an administrator (list, filter by user, revoke).

A new token's secret is shown once, in the answer to the form that created it, and never
again: it is not put in the session cookie or a redirect, so that page is not cached
(``Cache-Control: no-store``) and a reload asks before posting the form again.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from registry.auth import current_actor, current_user, login_required, roles_required
from registry.errors import RegistryError
from registry.extensions import db
from registry.models import User
from registry.models.types import Role
from registry.services import tokens
from registry.unit_of_work import commit
from registry.web.auth import safe_next
from registry.web.forms import FormErrors, service_errors
from registry.web.saving import save

bp = Blueprint("tokens", __name__)
ADMIN_ROWS = 500  # the newest tokens shown on the administrator's page
# What each scope lets a token do, as the creation form says it.
SCOPE_MEANS = {
    tokens.Scope.READ: _l("read data through the API"),
    tokens.Scope.WRITE: _l("change data through the API"),
    tokens.Scope.IMPORT: _l("upload, commit and undo imports"),
}


def _form_state(lifetimes: tokens.Lifetimes) -> dict:
    """A blank creation form: every scope unticked but read, the default lifetime."""
    return {"name": "", "scopes": [tokens.Scope.READ.value], "expires_in": str(lifetimes.default)}


def _posted_state() -> dict:
    return {
        "name": request.form.get("name", "").strip(),
        "scopes": request.form.getlist("scopes"),
        "expires_in": request.form.get("expires_in", "").strip(),
    }


def _days(text: str) -> int:
    if not text.isdigit() or len(text) > 6:
        raise FormErrors({"expires_in": [_("A whole number of days")]})
    return int(text)


def _render_mine(
    state: dict, errors: FormErrors | None = None, issued: tokens.Issued | None = None, status: int = 200
) -> ResponseReturnValue:
    user = current_user()
    lifetimes = tokens.Lifetimes.of(current_app.config)
    page = render_template(
        "tokens/mine.html",
        rows=db.session.scalars(tokens.listing(user)).all(),
        state=state,
        errors=errors.errors if errors else {},
        form_message=errors.message if errors else None,
        issued=issued,
        lifetimes=lifetimes,
        scopes=[(s.value, SCOPE_MEANS.get(s, tokens.SCOPE_MEANS[s])) for s in tokens.ALL_SCOPES],
        status_of=tokens.status_of,
        is_admin=user.role is Role.ADMIN,
    )
    response = make_response(page, status)
    if issued is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def mine() -> ResponseReturnValue:
    """Your API tokens, and the form that creates one (its secret shown once)."""
    lifetimes = tokens.Lifetimes.of(current_app.config)
    if request.method != "POST":
        return _render_mine(_form_state(lifetimes))
    state = _posted_state()
    try:
        issued = tokens.issue(
            current_actor(),
            current_user(),
            state["name"],
            state["scopes"],
            _days(state["expires_in"]),
            lifetimes=lifetimes,
        )
        # Not registry.web.saving.save: its redirect would have to carry the secret through
        # the session cookie. The page is rendered here, after the one commit, instead.
        commit()
    except (FormErrors, RegistryError) as exc:
        db.session.rollback()
        errors = exc if isinstance(exc, FormErrors) else service_errors(exc)
        return _render_mine(state, errors, status=422)
    return _render_mine(_form_state(lifetimes), issued=issued, status=201)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int) -> ResponseReturnValue:
    """Revoke a token: its holder's, or any for an administrator (403 otherwise)."""
    actor = current_actor()
    token = tokens.get(actor, token_id)
    back = safe_next(request.form.get("next") or url_for("tokens.mine"))
    name = token.name or _("unnamed")
    if token.revoked_at is not None:
        flash(_("The token %(name)s (%(prefix)s…) was already revoked", name=name, prefix=token.prefix), "success")
        return redirect(back)
    return save(
        lambda: tokens.revoke(actor, token),
        _("Revoked the token %(name)s (%(prefix)s…)", name=name, prefix=token.prefix),
        back,
    )


@bp.get("/admin/tokens")
@roles_required(Role.ADMIN)
def every() -> ResponseReturnValue:
    """Every user's API tokens, newest first, filtered by user (``?user=<id>``)."""
    holders = tokens.holders()
    chosen = request.args.get("user", "").strip()
    user = db.session.get(User, int(chosen)) if chosen.isdigit() and len(chosen) < 10 else None
    if chosen and user is None:
        flash(_("No user with id %(id)s: showing every user's tokens", id=repr(chosen)), "error")
    rows = db.session.scalars(tokens.listing(user).limit(ADMIN_ROWS + 1)).all()
    return render_template(
        "tokens/every.html",
        rows=rows[:ADMIN_ROWS],
        more=len(rows) > ADMIN_ROWS,
        holders=holders,
        chosen=user,
        status_of=tokens.status_of,
        here=request.full_path if request.query_string else request.path,
    )
