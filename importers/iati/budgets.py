"""An activity's need: the sum of its budgets, in the currency of the first one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import NamedTuple

from importers.iati.context import IatiProjectRecord, ReadingContext
from importers.iati.values import parse_date, parse_decimal
from importers.messages import Text
from registry import money
from registry.errors import ConversionError, MoneyError
from registry.models.types import N_
from registry.services.projects import to_usd


class PeriodBudget(NamedTuple):
    """The budget that counts for one period: its type (1 original, 2 revised) and element."""

    kind: str
    elem: object


def read_budgets(ctx: ReadingContext, act, record: IatiProjectRecord, currency: str | None) -> None:
    """Need = the sum of the budgets; where a period has a revised budget (type 2) it replaces
    the original (type 1) of the same period start. Budgets in another currency than the
    first one are converted at their value date."""
    by_period: dict[dt.date | None, PeriodBudget] = {}
    for budget in act.findall("budget"):
        start = parse_date(
            budget.find("period-start").get("iso-date") if budget.find("period-start") is not None else None
        )
        kind = (budget.get("type") or "1").strip()
        if start in by_period and by_period[start].kind == "2" and kind != "2":
            continue
        by_period[start] = PeriodBudget(kind, budget)
    total, need_currency = Decimal(0), None
    for _, budget in by_period.values():
        value = budget.find("value")
        amount = parse_decimal(value.text if value is not None else None)
        if amount is None:
            ctx.warn("budget_value", N_("Budget without a numeric value: left out"), budget, "budget/value")
            continue
        cur = ((value.get("currency") or "").strip().upper()) or currency
        if not cur or not money.is_currency(cur):
            ctx.warn("budget_currency", N_("Budget without a valid currency: left out"), budget, "budget/value")
            continue
        need_currency = need_currency or cur
        if cur != need_currency:
            day = parse_date(value.get("value-date")) or dt.date.today()
            try:
                amount = money.convert(amount, cur, need_currency, day, 31).amount
            except (ConversionError, MoneyError) as exc:
                ctx.warn(
                    "budget_currency",
                    Text(N_("Budget not converted (%(error)s): left out"), error=exc),
                    budget,
                    "budget/value",
                )
                continue
        total += amount
    if not need_currency or total <= 0:
        return
    need = money.quantize(total, need_currency)
    # Nothing in the budgets rejects an activity: a need the registry cannot keep is left out.
    message = None
    if need >= money.MAX_AMOUNT:
        message = Text(
            N_(
                "The need (sum of the budgets, %(need)s %(currency)s) is too large (amounts stay below "
                "%(max)s): it is left out, the activity is kept"
            ),
            need=f"{need:,}",
            currency=need_currency,
            max=f"{money.MAX_AMOUNT:,}",
        )
    else:
        try:
            to_usd(need, need_currency, record.planned_start or dt.date.today())  # as the need is stored
        except (ConversionError, MoneyError) as exc:
            message = Text(
                N_(
                    "The need (sum of the budgets, %(need)s %(currency)s) cannot be converted to USD "
                    "(%(error)s): it is left out, the activity is kept"
                ),
                need=f"{need:,}",
                currency=need_currency,
                error=exc.message,
            )
    if message:
        ctx.warn("budget_need", message, act, "budget")
        return
    record.need_amount = need
    record.need_currency = need_currency
