"""Project pages: list with filters, detail with history, forms for projects and transactions.

Views stay thin: load (with the same rights checks as the API), call the service,
commit once through ``saving.save``, render.
"""

from __future__ import annotations

from math import ceil
from typing import Any

from flask import render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import EXCLUDE
from marshmallow import ValidationError as SchemaError
from sqlalchemy import func, select

from registry import money
from registry.auth import current_actor, current_user, login_required
from registry.extensions import db
from registry.i18n import money as money_text
from registry.models import Project, Transaction
from registry.models.plans import PLAN_LABELS
from registry.models.types import ProjectStatus, Role, label, tied_status_label
from registry.schemas.common import flatten
from registry.schemas.projects import ProjectIn, ProjectQuery, TransactionIn
from registry.services import direction, permissions, rights, tied
from registry.services import plans as plan_service
from registry.services import projects as service
from registry.services.history import changes, project_history
from registry.services.search import ProjectFilters, project_count_query, project_query, with_details
from registry.web import by_name, codelists, forms
from registry.web.choices import choices
from registry.web.deleted import load_or_deleted
from registry.web.saving import ObjectPages, reloaded, save
from registry.web.views import bp

PER_PAGE = 25
SECTOR_ROWS = 3  # purpose code rows offered without JavaScript


def usd_totals(project_ids: list[int]) -> dict[int, dict[str, Any]]:
    """USD totals by transaction type for each project, summed in the database."""
    if not project_ids:
        return {}
    rows = db.session.execute(
        select(Transaction.project_id, Transaction.type, func.sum(Transaction.usd_minor))
        .where(Transaction.project_id.in_(project_ids))
        .group_by(Transaction.project_id, Transaction.type)
    )
    totals: dict[int, dict[str, Any]] = {}
    for project_id, kind, minor in rows:
        totals.setdefault(project_id, {})[kind.value] = money.from_minor(minor or 0, "USD")
    return totals


def list_arguments() -> tuple[dict, dict[str, list[str]]]:
    """The query string read through the API's ProjectQuery; bad filters are reported, not fatal."""
    raw = {k: v for k, v in request.args.items() if v != ""}
    try:
        return ProjectQuery(unknown=EXCLUDE).load(raw), {}
    except SchemaError as exc:
        errors = flatten(exc.messages)
        clean = {k: v for k, v in raw.items() if k not in errors}
        try:
            return ProjectQuery(unknown=EXCLUDE).load(clean), errors
        except SchemaError:
            return ProjectQuery().load({}), errors


def page_url(page: int) -> str:
    args = request.args.to_dict()
    args["page"] = str(page)
    return url_for(request.endpoint, **(request.view_args or {}), **args)


@bp.get("/projects")
def projects():
    """Projects with the same filters as the API, paginated."""
    args, errors = list_arguments()
    filters = ProjectFilters.from_mapping(args)
    per_page = args.get("per_page", PER_PAGE)
    total = db.session.scalar(project_count_query(filters)) or 0
    pages = max(1, ceil(total / per_page))
    page = min(args.get("page", 1), pages)
    items = list(db.session.scalars(with_details(project_query(filters)).limit(per_page).offset((page - 1) * per_page)))
    return render_template(
        "projects/list.html",
        items=items,
        totals=usd_totals([p.id for p in items]),
        total=total,
        page=page,
        pages=pages,
        page_url=page_url,
        args=args,
        filter_errors=errors,
        choices=choices(),
        can_create=permissions.can_register_project(current_user()),
        can_post_pipeline=current_user() is not None and current_user().role is Role.GOVERNMENT,
    )


@bp.get("/projects/<int:project_id>")
def project(project_id: int):
    """One project: recipients and areas with shares, money flows, funding sources, history."""
    item = load_or_deleted(Project, project_id, "project")
    user = current_user()
    sources = {t.funding_source.id: t.funding_source for t in item.transactions if t.funding_source}
    events = project_history(item.id, limit=100)
    flow_directions = direction.flow_directions(item)
    return render_template(
        "projects/detail.html",
        project=item,
        flow_directions=flow_directions,
        project_direction=direction.project_direction(item, flow_directions),
        direction_label=direction.label,
        tied_status_label=tied_status_label,
        tied=tied.project_tied(item),
        totals=usd_totals([item.id]).get(item.id, {}),
        sources=by_name(sources.values(), lambda s: s.name),
        history=[(e, changes(e)) for e in events],
        can_edit=permissions.can_edit_project(user, item),
        # Unconfirmed flows the user may confirm: their organisation manages the flow's source.
        can_confirm={
            t.id
            for t in item.transactions
            if t.confirmed is False and t.funding_source and permissions.can_edit_source(user, t.funding_source)
        },
        show_people=user is not None,
        plan_years=plan_service.plan_by_year(item),
        budgets_in_force={b.id for b in plan_service.budgets_in_force(item.budgets)},
        plan_label=lambda value: _(PLAN_LABELS[value]) if value in PLAN_LABELS else value,
    )


# -- project form ------------------------------------------------------------


def rows_for(items: list[dict], minimum: int = forms.EMPTY_ROWS) -> list[dict]:
    """Form rows: the given ones, then blank rows up to ``minimum`` (and one spare)."""
    rows = list(items)
    while len(rows) < max(minimum, len(items) + 1):
        rows.append({})
    return rows


def state_from_project(item: Project) -> dict[str, Any]:
    """What the edit form shows for a saved project."""
    values = {key: "" if getattr(item, key) is None else str(getattr(item, key)) for key in service.SCALAR_FIELDS}
    values["status"] = item.status.value
    values["instrument_sought"] = item.instrument_sought.value if item.instrument_sought else ""
    values["version"] = str(item.version)
    values["org_id"] = str(item.org_id)
    if item.need_minor is not None and item.need_currency:
        values["need_amount"] = str(money.from_minor(item.need_minor, item.need_currency))
        values["need_currency"] = item.need_currency
    recipients = [
        {
            "place": r.country_iso3 or (f"R:{r.region_code}" if r.region_code else forms.UNALLOCATED_PLACE),
            "share": f"{r.share.normalize():f}",
        }
        for r in item.recipients
    ]
    areas = [{"code": a.area_code, "share": f"{a.share.normalize():f}"} for a in item.areas]
    return {
        "fields": values,
        "recipients": rows_for(recipients),
        "areas": rows_for(areas),
        "sectors": rows_for([{"code": s.code} for s in item.sectors], minimum=SECTOR_ROWS),
        "action_lines": item.action_lines,
    }


def state_from_form() -> dict[str, Any]:
    """What the user typed, to show again with the errors."""
    form = request.form

    def rows(prefix: str, fields: tuple[str, ...]) -> list[dict]:
        numbers = [
            int(key.split("-")[1]) for key in form if key.startswith(f"{prefix}-") and key.split("-")[1].isdigit()
        ]
        count = min(max(numbers, default=-1) + 1, forms.MAX_ROWS)
        return rows_for([{f: form.get(f"{prefix}-{n}-{f}", "") for f in fields} for n in range(count)])

    return {
        "fields": form.to_dict(),
        "recipients": rows("recipients", ("place", "share")),
        "areas": rows("areas", ("code", "share")),
        "sectors": rows_for(
            [{"code": code} for code in forms.sector_codes(form)][: forms.MAX_ROWS], minimum=SECTOR_ROWS
        ),
        "action_lines": form.getlist("wsis_action_lines"),
    }


def render_project_form(state: dict, errors: forms.FormErrors | None, item: Project | None):
    user = current_user()
    return render_template(
        "projects/form.html",
        purpose_codes=codelists.options("sectors"),
        project=item,
        state=state,
        errors=errors.errors if errors else {},
        message=errors.message if errors else None,
        choices=choices(),
        is_admin=user.role is Role.ADMIN,
        is_government=user.role is Role.GOVERNMENT,
    ), (422 if errors else 200)


def _save_project(item: Project | None) -> Project:
    """Validate the posted form and create or change the project (not committed); FormErrors on bad input."""
    user = current_user()
    raw, rows = forms.project_data(request.form)
    if item is not None:
        raw.pop("org_id", None)
    unplaced = [n for n in rows["recipients"] if not (request.form.get(f"recipients-{n}-place") or "").strip()]
    if unplaced:
        # An unallocated share is chosen as such ("Unallocated"); a share without any choice
        # is a row left half-filled, not money to leave unallocated.
        message = _("Choose a country or region for this share")
        raise forms.FormErrors({f"recipients.{n}.country": [message] for n in unplaced})
    data = forms.validate(ProjectIn(), raw, rows, lists=("wsis_action_lines", "sectors"))
    unknown = codelists.errors({"sectors": data.get("sectors") or []})
    if unknown:
        raise forms.FormErrors(unknown)
    if user.role is Role.GOVERNMENT:
        data["status"] = ProjectStatus.PIPELINE.value
    if item is None:
        org = rights.reporting_org(user, data.pop("org_id", None))
        rights.check_may_save(user, org, None, data)
        return service.create_project(current_actor(), org, data)
    data.pop("org_id", None)
    rights.check_may_save(user, item.org, item, data)
    return service.update_project(current_actor(), item, data, forms.version_of(request.form))


PROJECT_PAGES = ObjectPages(
    model=Project,
    id_arg="project_id",
    to_change=rights.project_to_change,
    save=_save_project,
    remove=service.delete_project,
    render=render_project_form,
    state_of=state_from_project,
    posted_state=state_from_form,
    detail="web.project",
    listing="web.projects",
    name=lambda item: item.title,
    added=lambda item: _("Registered “%(name)s”", name=item.title),
)


@bp.route("/projects/new", methods=["GET", "POST"])
@login_required
def project_new():
    """Register a project of your organisation (donors and admins; governments post pipeline
    projects on the Pipeline pages, and are told so with a 403, as the API tells them)."""
    user = current_user()
    rights.check_may_register(user)
    values = {"status": "active", "need_currency": "USD", "org_id": str(user.org_id or "")}
    return PROJECT_PAGES.new(
        {
            "fields": values,
            "recipients": rows_for([]),
            "areas": rows_for([]),
            "sectors": rows_for([], minimum=SECTOR_ROWS),
            "action_lines": [],
        }
    )


@bp.route("/projects/<int:project_id>/edit", methods=["GET", "POST"])
@login_required
def project_edit(project_id: int):
    """Change a project; a stale form (someone saved meanwhile) is refused with a reload link."""
    return PROJECT_PAGES.edit(project_id)


@bp.post("/projects/<int:project_id>/delete")
@login_required
def project_delete(project_id: int):
    """Delete a project and its transactions (the audit trail keeps them)."""
    return PROJECT_PAGES.delete(project_id)


# -- transactions ------------------------------------------------------------


def state_from_transaction(tx: Transaction) -> dict[str, str]:
    values = {
        "type": tx.type.value,
        "amount": str(tx.amount),
        "currency": tx.currency,
        "value_date": tx.value_date.isoformat(),
        "description": tx.description or "",
    }
    for key in ("funding_source_id", "provider_org_id", "flow_type", "finance_type", "aid_type", "tied_status"):
        value = getattr(tx, key)
        values[key] = "" if value is None else str(value)
    if service.provider_is_implied(tx):
        values["provider_org_id"] = ""  # "Implied": it follows the source if that is changed
    return values


def render_transaction_form(item: Project, tx: Transaction | None, values: dict, errors=None):
    return render_template(
        "projects/transaction_form.html",
        project=item,
        tx=tx,
        values=values,
        # the IATI code lists, each with the flow's own code kept when the list no longer offers it
        codes={key: codelists.options(key, values.get(key)) for key in ("flow_type", "finance_type", "aid_type")},
        errors=errors.errors if errors else {},
        message=errors.message if errors else None,
        choices=choices(),
    ), (422 if errors else 200)


def _save_transaction(item: Project, tx: Transaction | None) -> Transaction:
    """Validate the posted form and add or change the flow (not committed); FormErrors on bad input."""
    data = forms.validate(TransactionIn(), forms.transaction_data(request.form))
    unknown = codelists.errors({key: [data[key]] for key in ("flow_type", "finance_type", "aid_type") if data.get(key)})
    if unknown:
        raise forms.FormErrors(unknown)
    rights.guard_project(item)
    if tx is None:
        return service.add_transaction(current_actor(), item, data)
    return service.update_transaction(current_actor(), tx, data)


@bp.route("/projects/<int:project_id>/transactions/new", methods=["GET", "POST"])
@login_required
def transaction_new(project_id: int):
    """Add a pledge, commitment, disbursement or expenditure."""
    item = rights.project_to_change(current_user(), project_id)
    if request.method == "POST":
        return save(
            lambda: _save_transaction(item, None),
            lambda tx: _(
                "Added %(type)s of %(amount)s (USD %(usd)s)",
                type=label(tx.type.value).lower(),
                amount=money_text(tx.amount, tx.currency),
                usd=money_text(tx.usd_amount),
            ),
            url_for("web.project", project_id=project_id) + "#transactions",
            refused=lambda errors: render_transaction_form(
                reloaded(Project, project_id), None, request.form.to_dict(), errors
            ),
        )
    # The project's own currency first: its latest flow's, else its need's.
    latest = max(item.transactions, key=lambda t: (t.value_date, t.id), default=None)
    currency = latest.currency if latest else (item.need_currency or "USD")
    values = {"type": "commitment", "currency": currency}
    return render_transaction_form(item, None, values)


@bp.route("/projects/<int:project_id>/transactions/<int:tx_id>/edit", methods=["GET", "POST"])
@login_required
def transaction_edit(project_id: int, tx_id: int):
    """Change a money flow; its USD value is recomputed at the rate of its value date."""
    item = rights.project_to_change(current_user(), project_id)
    tx = rights.transaction_of(item, tx_id)
    if request.method == "POST":
        return save(
            lambda: _save_transaction(item, tx),
            _("Saved the transaction"),
            url_for("web.project", project_id=project_id) + "#transactions",
            refused=lambda errors: render_transaction_form(
                reloaded(Project, project_id), reloaded(Transaction, tx_id), request.form.to_dict(), errors
            ),
        )
    return render_transaction_form(item, tx, state_from_transaction(tx))


@bp.post("/projects/<int:project_id>/transactions/<int:tx_id>/confirm")
@login_required
def transaction_confirm(project_id: int, tx_id: int):
    """The funding source's organisation confirms a flow another organisation recorded against it."""
    item = rights.load(Project, project_id, "project")
    tx = rights.transaction_of(item, tx_id)
    back = request.form.get("next")
    if not (back and back.startswith("/") and not back.startswith("//")):
        back = url_for("web.project", project_id=project_id) + "#transactions"
    return save(
        lambda: service.confirm_transaction(current_actor(), tx),
        _("Confirmed: the flow now counts as your organisation's"),
        back,
    )


@bp.post("/projects/<int:project_id>/transactions/<int:tx_id>/delete")
@login_required
def transaction_delete(project_id: int, tx_id: int):
    """Delete a money flow."""
    item = rights.project_to_change(current_user(), project_id)
    tx = rights.transaction_of(item, tx_id)
    rights.guard_project(item)
    return save(
        lambda: service.delete_transaction(current_actor(), tx),
        _("Deleted the transaction"),
        url_for("web.project", project_id=project_id) + "#transactions",
    )
