"""A project's forward plan page: its planned disbursements by calendar year, edited by a donor.

The page states whole years: each year it lists is saved as the amounts its rows give (one per
currency; an empty or zero amount: nothing planned), through ``services.plans.set_years``,
which leaves a year whose plans already total those amounts as it is. One commit per request
(``saving.save``); a stale form (the project changed meanwhile) is refused like the others.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import render_template, request, url_for
from flask_babel import gettext as _

from registry.auth import current_actor, current_user, login_required
from registry.errors import RegistryError
from registry.models import Project
from registry.services import plans as plan_service
from registry.services import rights
from registry.web import forms
from registry.web.choices import choices
from registry.web.saving import reloaded, save
from registry.web.views import bp

YEARS_SHOWN = 5  # this year and the next four are always on the form
NEW_ROWS = 2  # rows for another year


def default_currency(project: Project) -> str:
    """The project's own currency: its latest flow's, else its need's, else USD."""
    latest = max(project.transactions, key=lambda t: (t.value_date, t.id), default=None)
    return latest.currency if latest else (project.need_currency or "USD")


def _amount_text(value: Decimal) -> str:
    return f"{value:f}"


def state_of(project: Project, today: dt.date | None = None) -> dict[str, Any]:
    """What the form shows: a row per year and currency of the plans within a year (this year
    and the next four at least), then rows for another year."""
    today = today or dt.date.today()
    stored = plan_service.year_amounts(project)
    counts: dict[int, int] = {}
    for p in project.planned_disbursements:
        if plan_service.within_year(p):
            counts[p.period_start.year] = counts.get(p.period_start.year, 0) + 1
    currency = default_currency(project)
    rows = []
    for year in sorted(set(stored) | set(range(today.year, today.year + YEARS_SHOWN))):
        amounts = stored.get(year) or {currency: None}
        for code, amount in sorted(amounts.items()):
            rows.append(
                {
                    "year": str(year),
                    "fixed": True,
                    "amount": "" if amount is None else _amount_text(amount),
                    "currency": code,
                    "plans": counts.get(year, 0),
                }
            )
    for _n in range(NEW_ROWS):
        rows.append({"year": "", "fixed": False, "amount": "", "currency": currency, "plans": 0})
    return {"rows": rows, "version": str(project.version)}


def posted_state(project: Project) -> dict[str, Any]:
    """The rows as the user posted them, to show again with the errors."""
    form = request.form
    counts: dict[int, int] = {}
    for p in project.planned_disbursements:
        if plan_service.within_year(p):
            counts[p.period_start.year] = counts.get(p.period_start.year, 0) + 1
    rows = []
    for n in _row_numbers():
        year = (form.get(f"plan-{n}-year") or "").strip()
        rows.append(
            {
                "year": year,
                "fixed": form.get(f"plan-{n}-fixed") == "1",
                "amount": (form.get(f"plan-{n}-amount") or "").strip(),
                "currency": (form.get(f"plan-{n}-currency") or "").strip().upper(),
                "plans": counts.get(int(year), 0) if year.isdigit() and len(year) == 4 else 0,
            }
        )
    return {"rows": rows, "version": form.get("version", "")}


def _row_numbers() -> list[int]:
    numbers = set()
    for key in request.form:
        parts = key.split("-")
        if len(parts) == 3 and parts[0] == "plan" and parts[1].isdigit():
            numbers.add(int(parts[1]))
    return sorted(n for n in numbers if n < forms.MAX_ROWS)


def posted_years() -> tuple[dict[int, dict[str, str]], dict[int, list[int]]]:
    """The posted rows as {year: {currency: amount}} and the form rows of each year; FormErrors
    names the row and field of a bad year, a missing currency or a year and currency given twice."""
    form = request.form
    years: dict[int, dict[str, str]] = {}
    rows_of: dict[int, list[int]] = {}
    errors: dict[str, list[str]] = {}
    for n in _row_numbers():
        year_text = (form.get(f"plan-{n}-year") or "").strip()
        amount = (form.get(f"plan-{n}-amount") or "").strip()
        currency = (form.get(f"plan-{n}-currency") or "").strip().upper()
        if not year_text and not amount:
            continue  # a blank row for another year
        if not (year_text.isdigit() and len(year_text) == 4):
            errors[f"plan.{n}.year"] = [_("Give the year as four digits, e.g. %(year)s", year=dt.date.today().year + 1)]
            continue
        year = int(year_text)
        if amount and not currency:
            errors[f"plan.{n}.currency"] = [_("The currency is missing")]
            continue
        amounts = years.setdefault(year, {})
        rows_of.setdefault(year, []).append(n)
        if amount and currency in amounts and amounts[currency]:
            errors[f"plan.{n}.amount"] = [
                _("%(year)s in %(currency)s is given twice: give one amount", year=year, currency=currency)
            ]
            continue
        if amount or currency not in amounts:
            amounts[currency] = amount
    if errors:
        raise forms.FormErrors(errors)
    return years, rows_of


def _save(project: Project) -> bool:
    """Check the form and set the years it states (not committed); FormErrors on bad input."""
    years, rows_of = posted_years()
    rights.guard_project(project, forms.version_of(request.form))
    try:
        return plan_service.set_years(current_actor(), project, years)
    except RegistryError as exc:
        errors: dict[str, list[str]] = {}
        for key, messages in (exc.errors or {}).items():
            head, _dot, year = key.partition(".")
            targets = rows_of.get(int(year), []) if head == "years" and year.isdigit() else []
            for n in targets[:1] or [None]:
                name = f"plan.{n}.amount" if n is not None else key
                errors.setdefault(name, []).extend(messages if isinstance(messages, list) else [str(messages)])
        if not errors:
            raise
        raise forms.FormErrors(errors, exc.message) from None


def render_form(project: Project, state: dict[str, Any], errors: forms.FormErrors | None = None):
    return render_template(
        "projects/plan_form.html",
        project=project,
        state=state,
        errors=errors.errors if errors else {},
        message=errors.message if errors else None,
        choices=choices(),
    ), (422 if errors else 200)


@bp.route("/projects/<int:project_id>/plan", methods=["GET", "POST"])
@login_required
def project_plan(project_id: int):
    """The forward plan form: planned disbursements by year, in the project's currencies."""
    project = rights.project_to_change(current_user(), project_id)
    if request.method != "POST":
        return render_form(project, state_of(project))
    return save(
        lambda: _save(project),
        lambda changed: _("Saved the forward plan") if changed else _("The forward plan was already as given"),
        url_for("web.project", project_id=project_id) + "#forward-plan",
        refused=lambda errors: render_form(
            reloaded(Project, project_id), posted_state(reloaded(Project, project_id)), errors
        ),
    )
