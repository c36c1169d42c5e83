"""The unit of work of a page: every form post that changes data ends through ``save``.

A page write is always the same sequence: check the rights and call the service (the
``change`` the view hands in), commit once, flash what was done and redirect. A refusal
(the input breaks a rule, or a conflict: someone saved the object meanwhile, a key was
taken) rolls everything back and is shown to the user, never as a 500: a form page
renders the form again with the errors, an action flashes the reason and redirects.
What the user may not do (403), or what is not there (404), stays an error page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import abort, flash, redirect
from flask.typing import ResponseReturnValue

from registry.auth import Unauthorised
from registry.errors import NotFoundError, PermissionDenied, RegistryError
from registry.extensions import db
from registry.unit_of_work import commit, describe
from registry.web.forms import FormErrors, service_errors

T = TypeVar("T")
# Refusals that keep their own error page: the request may not do this, or the object is gone.
NOT_REFUSALS = (PermissionDenied, NotFoundError, Unauthorised)


def save(
    change: Callable[[], T],
    done: str | Callable[[T], str],
    to: str | Callable[[T], str],
    refused: Callable[[FormErrors], ResponseReturnValue] | str | None = None,
) -> ResponseReturnValue:
    """Run ``change`` and commit once; then flash ``done`` and redirect to ``to`` (either may
    be a function of what ``change`` returned). On a refusal, roll back and call ``refused``
    with the errors (a form page renders itself again), or flash the reason and redirect to
    ``refused`` (a URL; ``to`` when none is given)."""
    try:
        result = change()
        commit()
    except (FormErrors, RegistryError) as exc:
        if isinstance(exc, NOT_REFUSALS):
            raise
        db.session.rollback()
        errors = exc if isinstance(exc, FormErrors) else service_errors(exc)
        if callable(refused):
            return refused(errors)
        flash(describe(exc) if isinstance(exc, RegistryError) else errors.message, "error")
        return redirect(refused or (to if isinstance(to, str) else "/"))
    flash(done(result) if callable(done) else done, "success")
    return redirect(to(result) if callable(to) else to)


def delete(change: Callable[[], object], name: str, gone_to: str, kept_at: str) -> ResponseReturnValue:
    """An object's delete button: delete and commit, then say so on the list ``gone_to``;
    a refusal (a stale form, say) goes back to the object's page ``kept_at`` with the reason."""
    return save(change, f"Deleted “{name}”", gone_to, refused=kept_at)


def reloaded(model: type[T], object_id: int) -> T:
    """An object read again after a rollback, for showing the form with its errors (404 if gone)."""
    return db.session.get(model, object_id) or abort(404)
