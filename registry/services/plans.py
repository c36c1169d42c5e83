"""A project's forward plans: its budgets and planned disbursements by period (IATI ``budget``
and ``planned-disbursement``), checked and stored with their USD value at the value date's rate.

Every path (the API, the project form, the imports) sets plans through these functions. A
plan is never refused for its rate: plans lie in the future, where no rate is published yet;
one no rate converts today keeps its currency without a USD value, and reports convert it
at the last rate known, saying so (``reports.forward``).
"""

from __future__ import annotations

import datetime as dt
import functools
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


def plan_values(values: Mapping[str, Any], import_batch_id: int | None) -> dict[str, Any]:
    """The column values of a plan row from its checked values (``check_budgets``,
    ``check_planned``): its minor units and its USD value at the value date's rate (none when
    no rate converts it yet)."""
    values = dict(values)
    amount, currency = values.pop("amount"), values["currency"]
    try:
        conversion: money.Conversion | None = money.convert(
            amount, currency, "USD", values["value_date"], _max_rate_age()
        )
    except (ConversionError, MoneyError):  # kept in its own currency, converted by reports later
        conversion = None
    return values | {
        "amount_minor": money.to_minor(amount, currency),
        "usd_minor": money.to_minor(conversion.amount, "USD") if conversion else None,
        "usd_rate": str(conversion.rate) if conversion else None,
        "usd_rate_date": conversion.rate_date if conversion else None,
        "usd_rate_source": conversion.source if conversion else None,
        "import_batch_id": import_batch_id,
    }


def _plan_dict(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """A plan as plain values, from a stored plan (ORM object or row) or a row's values (a mapping)."""
    get = row.get if isinstance(row, Mapping) else functools.partial(getattr, row)
    out = {name: get(name) for name in fields if name != "amount"}
    out["amount"] = str(money.from_minor(get("amount_minor"), get("currency")))
    return out


def snapshot_of(budgets: Iterable[Any], planned: Iterable[Any]) -> dict[str, Any]:
    """Plans as plain values (for the audit trail, ETags and the import's undo), in the order
    given (stored plans come by period start, then id)."""
    return audit._jsonable(
        {
            "budgets": [_plan_dict(b, BUDGET_FIELDS) for b in budgets],
            "planned_disbursements": [_plan_dict(p, PLANNED_FIELDS) for p in planned],
        }
    )


USD_COLUMNS = ("usd_minor", "usd_rate", "usd_rate_date", "usd_rate_source")


def usd_refreshed(stored: Iterable[Any], values: list[dict[str, Any]] | None) -> list[tuple[Any, dict[str, Any]]]:
    """The stored plans whose USD value is not the one converting them now gives, with that
    value: ``values`` are the row values (``plan_values``) of the same plans in the same order
    (their snapshots are equal). A plan stored without a USD value gets one once a rate is
    published for its value date; the USD value is derived, not something a user changed, so
    no audit event records it."""
    if values is None:
        return []
    out = []
    for row, new in zip(stored, values, strict=True):
        get = row.get if isinstance(row, Mapping) else functools.partial(getattr, row)
        if any(get(name) != new[name] for name in USD_COLUMNS):
            out.append((row, {name: new[name] for name in USD_COLUMNS}))
    return out


def snapshot(project: Project) -> dict[str, Any]:
    """The project's plans as plain values (for the audit trail, ETags and the import's undo)."""
    return snapshot_of(project.budgets, project.planned_disbursements)


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
    batch = actor.import_batch_id
    new_budgets = None if budgets is None else [plan_values(v, batch) for v in check_budgets(budgets)]
    new_planned = None if planned is None else [plan_values(v, batch) for v in check_planned(planned)]
    after = snapshot_of(
        project.budgets if new_budgets is None else new_budgets,
        project.planned_disbursements if new_planned is None else new_planned,
    )
    if after == before:  # the stored rows stay (their ids, batch and dates); only their USD value may move
        for rows, values in ((project.budgets, new_budgets), (project.planned_disbursements, new_planned)):
            for row, usd in usd_refreshed(rows, values):
                for name, value in usd.items():
                    setattr(row, name, value)
        return False
    with db.session.no_autoflush:
        if new_budgets is not None:
            project.budgets = [ProjectBudget(**values) for values in new_budgets]
        if new_planned is not None:
            project.planned_disbursements = [PlannedDisbursement(**values) for values in new_planned]
    db.session.flush()
    audit.record(actor, "update", "project", project.id, before, after, summary, project.org_id)
    return True


YEAR_MIN, YEAR_MAX = 1950, 2100  # the years a plan by year may be stated for


def within_year(plan: PlannedDisbursement) -> bool:
    """A planned disbursement whose period lies in one calendar year (a plan by year replaces
    those; a plan spanning years is left as it is)."""
    return plan.period_end is None or plan.period_end.year == plan.period_start.year


def year_amounts(project: Project, years: Iterable[int] | None = None) -> dict[int, dict[str, Decimal]]:
    """The project's planned disbursements that lie within one calendar year, summed by year and
    currency ({2027: {"EUR": Decimal("120000.00")}}): what a plan by year states and replaces."""
    wanted = None if years is None else set(years)
    out: dict[int, dict[str, Decimal]] = {}
    for p in project.planned_disbursements:
        year = p.period_start.year
        if within_year(p) and (wanted is None or year in wanted):
            by_currency = out.setdefault(year, {})
            by_currency[p.currency] = by_currency.get(p.currency, Decimal(0)) + p.amount
    return out


def check_year_amounts(
    years: Mapping[int, Mapping[str, Any]],
) -> dict[int, dict[str, Decimal]]:
    """Amounts by year and currency checked as the registry keeps money: a known currency, an
    exact amount in it, not negative, a year from 1950 to 2100; a zero or empty amount states that
    nothing is planned in that currency. ValidationError names the year (``years.<year>``)."""
    out: dict[int, dict[str, Decimal]] = {}
    for year, amounts in years.items():
        where = _("Planned disbursements of %(year)s", year=year)
        key = f"years.{year}"
        if not isinstance(year, int) or not YEAR_MIN <= year <= YEAR_MAX:
            raise ValidationError(
                _("%(where)s: the year is not between %(low)s and %(high)s", where=where, low=YEAR_MIN, high=YEAR_MAX),
                {key: [_("Not a year between %(low)s and %(high)s", low=YEAR_MIN, high=YEAR_MAX)]},
            )
        checked: dict[str, Decimal] = {}
        for code, value in amounts.items():
            if value is None or (isinstance(value, str) and not value.strip()):
                continue  # nothing stated in this currency: the year has none planned in it
            try:
                currency = rules.currency(code)
                amount = rules.amount(value, currency)
            except ValidationError as exc:
                raise ValidationError(f"{where}: {exc.message}", {key: _messages(exc)}) from None
            if amount < 0:
                raise ValidationError(
                    _("%(where)s: a planned amount is not negative", where=where), {key: [_("Negative")]}
                )
            if amount >= money.MAX_AMOUNT:
                raise ValidationError(_("%(where)s: the amount is too large", where=where), {key: [_("Too large")]})
            if amount:
                checked[currency] = checked.get(currency, Decimal(0)) + amount
        out[year] = checked
    return out


def _messages(exc: ValidationError) -> list[str]:
    found = [
        str(m)
        for messages in (exc.errors or {}).values()
        for m in (messages if isinstance(messages, list) else [messages])
    ]
    return found or [exc.message]


def set_years(
    actor: Actor,
    project: Project,
    years: Mapping[int, Mapping[str, Decimal | str | None]],
    summary: str = "Changed the planned disbursements by year",
) -> bool:
    """Set the planned disbursements of whole calendar years (a donor's forward plan by year):
    ``{year: {currency: amount}}``. A year given replaces the project's planned disbursements that
    lie within that year by one whole-year plan per currency (none when its amounts are empty or
    zero), unless they already total exactly those amounts, in which case they stay as they are
    (their quarters, providers and value dates: an unchanged plan is not rewritten). Plans of
    other years, and plans spanning years, stay. Returns whether anything changed."""
    checked = check_year_amounts(years)
    stored = year_amounts(project, checked)
    changed = {year for year, amounts in checked.items() if stored.get(year, {}) != amounts}
    if not changed:
        return False
    kept = [
        _plan_dict(p, PLANNED_FIELDS)
        for p in project.planned_disbursements
        if not (p.period_start.year in changed and within_year(p))
    ]
    for year in sorted(changed):
        start, end = year_period(year)
        for currency, amount in sorted(checked[year].items()):
            kept.append(
                {"kind": "original", "period_start": start, "period_end": end, "amount": amount, "currency": currency}
            )
    items = [
        {**item, "period_start": _day(item["period_start"]), "period_end": _day(item.get("period_end"))}
        | ({"value_date": _day(item["value_date"])} if item.get("value_date") else {})
        for item in kept
    ]
    items.sort(key=lambda item: item["period_start"])
    return set_plans(actor, project, planned=items, summary=summary)


def set_year_plan(actor: Actor, project: Project, amounts: Mapping[int, Decimal | str | None], currency: str) -> bool:
    """Set the planned disbursements of whole calendar years in one currency: each year given
    replaces the project's planned disbursements within that calendar year with one amount in
    ``currency``; a year given no amount has none left (``set_years``). Other plans stay."""
    return set_years(actor, project, {year: {currency: amount} for year, amount in amounts.items()})


def _day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def plan_by_year(project: Project) -> list[dict[str, Any]]:
    """The project's forward plan by calendar year of the period start, for its page: per year and
    currency, the planned disbursements and the budgets (a revised budget of a period replaces
    the original one of the same period), in their own currency and in US dollars at the rate of
    each plan's value date (``*_usd``; ``usd_missing``: some amount of the row has no rate yet,
    so its USD figure leaves it out)."""
    years: dict[tuple[int, str], dict[str, Any]] = {}

    def slot(year: int, currency: str) -> dict[str, Any]:
        return years.setdefault(
            (year, currency),
            {
                "year": year,
                "currency": currency,
                "planned": Decimal(0),
                "budget": Decimal(0),
                "planned_usd": Decimal(0),
                "budget_usd": Decimal(0),
                "usd_missing": False,
                "has": set(),
            },
        )

    for kind, plans in (("planned", project.planned_disbursements), ("budget", budgets_in_force(project.budgets))):
        for p in plans:
            row = slot(p.period_start.year, p.currency)
            row[kind] += p.amount
            row["has"].add(kind)
            if p.usd_amount is None:
                row["usd_missing"] = True
            else:
                row[f"{kind}_usd"] += p.usd_amount
    out = []
    for key in sorted(years):
        row = years[key]
        has = row.pop("has")
        for kind in ("planned", "budget"):
            if kind not in has:
                row[kind] = row[f"{kind}_usd"] = None
        out.append(row)
    return out


def budgets_in_force(budgets: Iterable[ProjectBudget]) -> list[ProjectBudget]:
    """The budgets that count: where a period has a revised budget, it replaces the original
    budget(s) of the same period start (IATI BudgetType 2 "revised")."""
    budgets = list(budgets)
    revised = {b.period_start for b in budgets if b.kind == "revised"}
    return [b for b in budgets if b.kind == "revised" or b.period_start not in revised]
