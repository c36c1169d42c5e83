"""A project's forward plans: its budgets and planned disbursements by period (IATI ``budget``
and ``planned-disbursement``), checked and stored with their USD value at the value date's rate.

Every path (the API, the project form, the imports) sets plans through these functions. A
plan is never refused for its rate: plans lie in the future, where no rate is published yet;
one no rate converts today keeps its currency without a USD value, and reports convert it
at the last rate known, saying so (``reports.forward``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from registry import money
from registry.errors import ConversionError, MoneyError, ValidationError
from registry.extensions import db
from registry.models import Project
from registry.models.plans import BUDGET_STATUSES, PLAN_KINDS, PlannedDisbursement, ProjectBudget
from registry.services import audit, rules
from registry.services.actor import Actor
from registry.services.projects import _max_rate_age

BUDGET_FIELDS = ("kind", "status", "period_start", "period_end", "amount", "currency", "value_date")
PLANNED_FIELDS = (
    "kind",
    "period_start",
    "period_end",
    "amount",
    "currency",
    "value_date",
    "provider_ref",
    "provider_name",
    "receiver_ref",
    "receiver_name",
)
ORG_TEXT_MAX = {"provider_ref": 200, "provider_name": 300, "receiver_ref": 200, "receiver_name": 300}


def default_value_date(period_start: dt.date, today: dt.date | None = None) -> dt.date:
    """The value date of a plan stated without one: the first day of its period once that day has
    come, else the day the plan is stated (a rate is published for it; the period's is not yet)."""
    today = today or dt.date.today()
    return min(period_start, today)


def year_period(year: int) -> tuple[dt.date, dt.date]:
    """The calendar year ``year`` as a plan period: 1 January to 31 December."""
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def _code_or_word(value: Any, codes: Mapping[str, str], default: str, field: str, where: str) -> str:
    """A codelist value given as its IATI code (1, 2) or its word (original, indicative, ...)."""
    text = str(value if value is not None else "").strip().lower()
    if not text:
        return default
    if text in codes:
        return codes[text]
    if text in codes.values():
        return text
    allowed = ", ".join(f"{code} {word}" for code, word in codes.items())
    raise ValidationError(
        _("%(where)s: %(value)s is not one of %(allowed)s", where=where, value=repr(value), allowed=allowed),
        {field: [_("Not one of %(allowed)s", allowed=allowed)]},
    )


def _checked(item: Mapping[str, Any], fields: tuple[str, ...], where: str) -> dict[str, Any]:
    """One plan's values checked as the registry keeps money; ValidationError names the plan and field."""
    unknown = sorted(set(item) - set(fields))
    if unknown:
        raise ValidationError(
            _("%(where)s: unknown field %(field)s", where=where, field=unknown[0]), {unknown[0]: [_("Unknown field")]}
        )
    start, end = item.get("period_start"), item.get("period_end")
    if not isinstance(start, dt.date):
        raise ValidationError(
            _("%(where)s: the period start is missing", where=where), {"period_start": [_("Required")]}
        )
    if end is not None and end < start:
        raise ValidationError(
            _("%(where)s: the period ends before it starts", where=where),
            {"period_end": [_("Before the period start")]},
        )
    try:
        currency = rules.currency(item.get("currency"))
        amount = rules.amount(item.get("amount"), currency)
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc.message}", exc.errors) from None
    if amount < 0:
        raise ValidationError(
            _("%(where)s: a planned amount is not negative", where=where), {"amount": [_("Negative")]}
        )
    if amount >= money.MAX_AMOUNT:
        raise ValidationError(_("%(where)s: the amount is too large", where=where), {"amount": [_("Too large")]})
    out = {
        "kind": _code_or_word(item.get("kind"), PLAN_KINDS, "original", "kind", where),
        "period_start": start,
        "period_end": end,
        "amount": amount,
        "currency": currency,
        "value_date": item.get("value_date") or default_value_date(start),
    }
    if "status" in fields:
        out["status"] = _code_or_word(item.get("status"), BUDGET_STATUSES, "indicative", "status", where)
    for name in ORG_TEXT_MAX:
        if name in fields:
            text = " ".join(str(item.get(name) or "").split())[: ORG_TEXT_MAX[name]]
            out[name] = text or None
    return out


def _row(model: type, values: dict[str, Any], import_batch_id: int | None) -> Any:
    """A plan row with its minor units and its USD value at the value date's rate (none when no
    rate converts it yet)."""
    amount, currency = values.pop("amount"), values["currency"]
    try:
        conversion: money.Conversion | None = money.convert(
            amount, currency, "USD", values["value_date"], _max_rate_age()
        )
    except (ConversionError, MoneyError):  # kept in its own currency, converted by reports later
        conversion = None
    return model(
        **values,
        amount_minor=money.to_minor(amount, currency),
        usd_minor=money.to_minor(conversion.amount, "USD") if conversion else None,
        usd_rate=str(conversion.rate) if conversion else None,
        usd_rate_date=conversion.rate_date if conversion else None,
        usd_rate_source=conversion.source if conversion else None,
        import_batch_id=import_batch_id,
    )


def _plan_dict(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    out = {name: getattr(row, name) for name in fields if name != "amount"}
    out["amount"] = str(row.amount)
    return out


def snapshot(project: Project) -> dict[str, Any]:
    """The project's plans as plain values (for the audit trail, ETags and the import's undo)."""
    return audit._jsonable(
        {
            "budgets": [_plan_dict(b, BUDGET_FIELDS) for b in project.budgets],
            "planned_disbursements": [_plan_dict(p, PLANNED_FIELDS) for p in project.planned_disbursements],
        }
    )


def check_budgets(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Budgets checked (each error names the budget by its position, from 1)."""
    return [_checked(item, BUDGET_FIELDS, _("Budget %(n)s", n=n)) for n, item in enumerate(items, 1)]


def check_planned(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Planned disbursements checked (each error names one by its position, from 1)."""
    return [_checked(item, PLANNED_FIELDS, _("Planned disbursement %(n)s", n=n)) for n, item in enumerate(items, 1)]


def set_plans(
    actor: Actor,
    project: Project,
    *,
    budgets: Iterable[Mapping[str, Any]] | None = None,
    planned: Iterable[Mapping[str, Any]] | None = None,
    summary: str = "Changed the forward plans",
) -> bool:
    """Replace the project's budgets and/or planned disbursements (None: those stay) and record
    one audit event. Returns whether anything changed; flushes, never commits."""
    before = snapshot(project)
    checked_budgets = check_budgets(budgets) if budgets is not None else None
    checked_planned = check_planned(planned) if planned is not None else None
    batch = actor.import_batch_id
    with db.session.no_autoflush:
        if checked_budgets is not None:
            project.budgets = [_row(ProjectBudget, values, batch) for values in checked_budgets]
        if checked_planned is not None:
            project.planned_disbursements = [_row(PlannedDisbursement, values, batch) for values in checked_planned]
    after = snapshot(project)
    if after == before:
        return False
    db.session.flush()
    audit.record(actor, "update", "project", project.id, before, after, summary, project.org_id)
    return True


def set_year_plan(actor: Actor, project: Project, amounts: Mapping[int, Decimal | str | None], currency: str) -> bool:
    """Set the planned disbursements of whole calendar years (a donor's forward plan by year):
    each year given replaces the project's planned disbursements of that calendar year with one
    amount in ``currency``; a year given no amount has none left. Other plans stay."""
    years = set(amounts)
    kept = [
        _plan_dict(p, PLANNED_FIELDS)
        for p in project.planned_disbursements
        if not (p.period_start.year in years and (p.period_end is None or p.period_end.year == p.period_start.year))
    ]
    for year in sorted(years):
        amount = amounts[year]
        if amount in (None, ""):
            continue
        start, end = year_period(year)
        kept.append(
            {"kind": "original", "period_start": start, "period_end": end, "amount": amount, "currency": currency}
        )
    items = [
        {**item, "period_start": _day(item["period_start"]), "period_end": _day(item.get("period_end"))}
        | ({"value_date": _day(item["value_date"])} if item.get("value_date") else {})
        for item in kept
    ]
    items.sort(key=lambda item: item["period_start"])
    return set_plans(actor, project, planned=items, summary="Changed the planned disbursements by year")


def _day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def plan_by_year(project: Project) -> list[dict[str, Any]]:
    """The project's forward plan by calendar year of the period start, for its page: per year and
    currency, the planned disbursements and the budgets (a revised budget of a period replaces
    the original one of the same period), in their own currency."""
    years: dict[tuple[int, str], dict[str, Any]] = {}

    def slot(year: int, currency: str) -> dict[str, Any]:
        return years.setdefault(
            (year, currency),
            {"year": year, "currency": currency, "planned": Decimal(0), "budget": Decimal(0), "has": set()},
        )

    for p in project.planned_disbursements:
        row = slot(p.period_start.year, p.currency)
        row["planned"] += p.amount
        row["has"].add("planned")
    for b in budgets_in_force(project.budgets):
        row = slot(b.period_start.year, b.currency)
        row["budget"] += b.amount
        row["has"].add("budget")
    out = []
    for key in sorted(years):
        row = years[key]
        out.append(
            {
                "year": row["year"],
                "currency": row["currency"],
                "planned": row["planned"] if "planned" in row["has"] else None,
                "budget": row["budget"] if "budget" in row["has"] else None,
            }
        )
    return out


def budgets_in_force(budgets: Iterable[ProjectBudget]) -> list[ProjectBudget]:
    """The budgets that count: where a period has a revised budget, it replaces the original
    budget(s) of the same period start (IATI BudgetType 2 "revised")."""
    budgets = list(budgets)
    revised = {b.period_start for b in budgets if b.kind == "revised"}
    return [b for b in budgets if b.kind == "revised" or b.period_start not in revised]
