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
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from registry.auth import Unauthorised, current_actor, current_user
from registry.errors import NotFoundError, PermissionDenied, RegistryError, clash
from registry.extensions import db
from registry.models import User
from registry.services.actor import Actor
from registry.unit_of_work import commit, describe
from registry.web.forms import FormErrors, service_errors, version_of

T = TypeVar("T")
# Refusals that keep their own error page: the request may not do this, or the object is gone.
NOT_REFUSALS = (PermissionDenied, NotFoundError, Unauthorised)


def save(
    change: Callable[[], T],
    done: str | Callable[[T], str] | None,
    to: str | Callable[[T], str],
    refused: Callable[[FormErrors], ResponseReturnValue] | str | None = None,
) -> ResponseReturnValue:
    """Run ``change`` and commit once; then flash ``done`` (unless None) and redirect to ``to``
    (either may be a function of what ``change`` returned). On a refusal, roll back and call ``refused``
    with the errors (a form page renders itself again), or flash the reason and redirect to
    ``refused`` (a URL; else ``to``, or the home page when ``to`` needs the result)."""
    try:
        try:
            result = change()
        except (IntegrityError, StaleDataError) as exc:  # a flush inside the service met another writer
            db.session.rollback()
            raise clash(exc) from None
        commit()
    except (FormErrors, RegistryError) as exc:
        if isinstance(exc, NOT_REFUSALS):
            raise
        db.session.rollback()
        errors = exc if isinstance(exc, FormErrors) else service_errors(exc)
        if callable(refused):
            return refused(errors)
        flash(describe(exc) if isinstance(exc, RegistryError) else errors.message, "error")
        return redirect(refused or (to if isinstance(to, str) else url_for("web.home")))
    if done is not None:
        flash(done(result) if callable(done) else done, "success")
    return redirect(to(result) if callable(to) else to)


def reloaded(model: type[T], object_id: int) -> T:
    """An object read again after a rollback, for showing the form with its errors (404 if gone)."""
    return db.session.get(model, object_id) or abort(404)


@dataclass(frozen=True)
class ObjectPages(Generic[T]):
    """The new, edit and delete pages of one kind of object, which all follow the same
    sequence: the rights (``to_change``), the service (``save``, ``remove``), one commit,
    a flash and a redirect; a refused form is shown again with its errors."""

    model: type[T]
    id_arg: str  # the URL argument that holds the object's id
    to_change: Callable[[User, int], T]  # the object the user may change, else 403/404
    save: Callable[[T | None], T]  # validate the posted form, create (None) or change
    remove: Callable[[Actor, T, int | None], Any]  # delete, given the form's version
    render: Callable[[dict, FormErrors | None, T | None], ResponseReturnValue]  # the form
    state_of: Callable[[T], dict]  # what the form shows for a saved object
    posted_state: Callable[[], dict]  # what the user typed, to show again
    detail: str  # endpoint of the object's page
    listing: str  # endpoint of the list it is deleted from
    name: Callable[[T], str]
    added: Callable[[T], str] | None = None  # the flash after a new object is saved ("Added “…”")

    def url(self, object_id: int) -> str:
        return url_for(self.detail, **{self.id_arg: object_id})

    def new(self, blank: dict) -> ResponseReturnValue:
        """The form for a new object (``blank``), and its post."""
        if request.method != "POST":
            return self.render(blank, None, None)
        return save(
            lambda: self.save(None),
            lambda obj: self.added(obj) if self.added else _("Added “%(name)s”", name=self.name(obj)),
            lambda obj: self.url(obj.id),
            refused=lambda errors: self.render(self.posted_state(), errors, None),
        )

    def edit(self, object_id: int) -> ResponseReturnValue:
        """The form of a saved object, and its post (a stale form is refused)."""
        obj = self.to_change(current_user(), object_id)
        if request.method != "POST":
            return self.render(self.state_of(obj), None, obj)
        return save(
            lambda: self.save(obj),
            _("Saved your changes"),
            self.url(object_id),
            refused=lambda errors: self.render(self.posted_state(), errors, reloaded(self.model, object_id)),
        )

    def delete(self, object_id: int) -> ResponseReturnValue:
        """The delete button: gone to the list, or back to the object's page with the reason."""
        obj = self.to_change(current_user(), object_id)
        return save(
            lambda: self.remove(current_actor(), obj, version_of(request.form)),
            _("Deleted “%(name)s”", name=self.name(obj)),
            url_for(self.listing),
            refused=self.url(object_id),
        )
