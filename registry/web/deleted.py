"""The "Deleted" pages: what was deleted, by whom and when, with a Restore button for the
object's owner (its organisation's donor editors) or an administrator; and the page a
deleted object's own address shows them (others get 404)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, make_response, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from registry.auth import current_actor, current_user, roles_required
from registry.errors import NotFoundError
from registry.extensions import db
from registry.i18n import money
from registry.models import Organisation
from registry.models.soft_delete import INCLUDE_DELETED
from registry.models.types import Role, label
from registry.services import audit, deletion
from registry.services.history import changes, project_history
from registry.services.lookup import load
from registry.web.saving import save

bp = Blueprint("deleted", __name__, template_folder="templates")

# URL segment -> (kind of registry.services.deletion, heading, tab)
PAGES = {
    "projects": ("project", _l("Deleted projects"), _l("Projects")),
    "flows": ("transaction", _l("Deleted money flows"), _l("Money flows")),
    "funding-sources": ("funding_source", _l("Deleted funding sources"), _l("Funding sources")),
    "organisations": ("organisation", _l("Deleted organisations"), _l("Organisations")),
}
SEGMENT = {kind: segment for segment, (kind, _heading, _tab) in PAGES.items()}


def words_of(kind: str, org: str) -> dict[str, str]:
    """The deleted object's page in whole sentences for its kind (translators see each one)."""
    if kind == "project":
        return {
            "of": _("Project of %(organisation)s", organisation=org),
            "deleted": _("This project is deleted."),
            "restore": _("Restore this project"),
            "all": _("All deleted projects"),
        }
    if kind == "transaction":
        return {
            "of": _("Money flow of %(organisation)s", organisation=org),
            "deleted": _("This money flow is deleted."),
            "restore": _("Restore this money flow"),
            "all": _("All deleted money flows"),
        }
    if kind == "funding_source":
        return {
            "of": _("Funding source of %(organisation)s", organisation=org),
            "deleted": _("This funding source is deleted."),
            "restore": _("Restore this funding source"),
            "all": _("All deleted funding sources"),
        }
    return {
        "of": _("Organisation of %(organisation)s", organisation=org),
        "deleted": _("This organisation is deleted."),
        "restore": _("Restore this organisation"),
        "all": _("All deleted organisations"),
    }


def _owner_scope(kind: str) -> int | None:
    """Whose deleted objects the user sees: every one (administrator) or their organisation's."""
    user = current_user()
    if user.role is Role.ADMIN:
        return None
    if kind == "organisation" or (user.role is Role.GOVERNMENT and kind == "funding_source"):
        abort(403)
    return user.org_id


def name_of(kind: str, obj: Any) -> str:
    if kind == "transaction":
        return _(
            "%(kind)s of %(amount)s on %(date)s",
            kind=label(obj.type.value),
            amount=money(obj.amount, obj.currency),
            date=obj.value_date,
        )
    return getattr(obj, "title", None) or obj.name


def org_of(kind: str, obj: Any) -> str:
    org_id = deletion.owner_org_id(kind, obj)
    org = db.session.get(Organisation, org_id, execution_options=INCLUDE_DELETED) if org_id else None
    return org.name if org is not None else "–"


@bp.get("/deleted")
@bp.get("/deleted/<any(projects, flows, 'funding-sources', organisations):what>")
@roles_required(Role.ADMIN, Role.DONOR, Role.GOVERNMENT)
def index(what: str = "projects") -> ResponseReturnValue:
    """The deleted objects of a kind the user may restore, newest deletion first."""
    kind, heading, _tab = PAGES[what]
    scope = _owner_scope(kind)
    items = deletion.list_deleted(kind, scope)
    own = {"project", "transaction"} | ({"funding_source"} if current_user().role is not Role.GOVERNMENT else set())
    tabs = [(segment, tab) for segment, (k, _heading, tab) in PAGES.items() if k in own or scope is None]
    rows = [
        {
            "obj": obj,
            "name": name_of(kind, obj),
            "org": org_of(kind, obj),
            "project": deletion.project_of(obj) if kind == "transaction" else None,
        }
        for obj in items
    ]
    return render_template("deleted/list.html", kind=kind, what=what, heading=heading, rows=rows, tabs=tabs)


@bp.post("/deleted/<any(projects, flows, 'funding-sources', organisations):what>/<int:object_id>/restore")
@roles_required(Role.ADMIN, Role.DONOR, Role.GOVERNMENT)
def restore(what: str, object_id: int) -> ResponseReturnValue:
    """The Restore button: the object is back, with an audit entry, or the reason it is not."""
    kind = PAGES[what][0]
    obj = deletion.load_deleted(kind, object_id)
    user = current_user()
    if not deletion.may_restore(user, kind, obj):
        abort(403)
    name = name_of(kind, obj)
    return save(
        lambda: deletion.restore(current_actor(), kind, obj),
        _("Restored “%(name)s”", name=name),
        lambda restored: restored_url(kind, restored),
        refused=url_for("deleted.index", what=what),
    )


def restored_url(kind: str, obj: Any) -> str:
    """Where a restored object is seen again."""
    if kind == "project":
        return url_for("web.project", project_id=obj.id)
    if kind == "transaction":
        return url_for("web.project", project_id=obj.project_id)
    if kind == "funding_source":
        return url_for("web.funding_source", source_id=obj.id)
    return url_for("web.organisation", org_id=obj.id)


def _history(kind: str, obj: Any) -> list:
    """The audit trail of a deleted object (a project's with its flows'), readable still."""
    if kind == "project":
        return project_history(obj.id, limit=100)
    return audit.history(kind, obj.id)[:100]


def load_or_deleted(model: type, object_id: int, what: str) -> Any:
    """A live object for its page; for a deleted one, the "deleted" page with Restore if the
    user may restore it, else 404 as for an object that never was."""
    try:
        return load(model, object_id, what)
    except NotFoundError:
        kind = deletion.kind_of(model)
        obj = deletion.find_deleted(kind, object_id)
        user = current_user()
        if obj is None or not deletion.may_restore(user, kind, obj):
            raise
        page = render_template(
            "deleted/object.html",
            kind=kind,
            what=SEGMENT[kind],
            obj=obj,
            name=name_of(kind, obj),
            words=words_of(kind, org_of(kind, obj)),
            history=[(e, changes(e)) for e in _history(kind, obj)],
        )
        abort(make_response(page, 410))
