"""An activity's forward plans: every ``budget`` and ``planned-disbursement`` as IATI gives it,
each with its type, period, value, currency and value date (and a budget's status, a planned
disbursement's provider and receiver organisations).

Kept as written, one plan per element (a revised budget beside the original it revises: the
reports choose, ``registry.services.plans.budgets_in_force``). A plan the registry cannot
keep is left out with a warning that names its money and why; it never rejects the activity.
"""

from __future__ import annotations

from importers.iati.context import IatiProjectRecord, ReadingContext
from importers.iati.values import narrative, parse_date, parse_decimal
from importers.messages import Text
from importers.records import Location, PlanRecord
from registry import money
from registry.models.plans import BUDGET_STATUSES, PLAN_KINDS
from registry.models.types import N_

_LEFT_OUT = {
    "budget": N_("Budget of %(amount)s %(currency)s left out: %(why)s"),
    "planned-disbursement": N_("Planned disbursement of %(amount)s %(currency)s left out: %(why)s"),
}


def _org(elem, tag: str, lang: str) -> tuple[str | None, str | None]:
    org = elem.find(tag)
    if org is None:
        return None, None
    return (org.get("ref") or "").strip() or None, narrative(org, lang) or None


def _plan(ctx: ReadingContext, elem, path: str, default_currency: str | None, lang: str) -> PlanRecord | None:
    """One budget or planned disbursement, or None (with a warning) when it cannot be kept."""
    tag = elem.tag
    value = elem.find("value")
    raw = (value.text or "").strip() if value is not None else ""
    currency = ((value.get("currency") or "").strip().upper() if value is not None else "") or default_currency
    amount = parse_decimal(raw)

    def left_out(why) -> None:
        ctx.warn(
            "plan_left_out",
            Text(_LEFT_OUT[tag], amount=raw or "(no value)", currency=currency or "(no currency)", why=why),
            elem,
            path,
        )

    if amount is None or not currency or not money.is_currency(currency):
        if tag == "planned-disbursement":  # a budget's unreadable value is reported by the need (budgets)
            left_out(Text(N_("no readable value and currency")))
        return None
    start_elem, end_elem = elem.find("period-start"), elem.find("period-end")
    start = parse_date(start_elem.get("iso-date")) if start_elem is not None else None
    end = parse_date(end_elem.get("iso-date")) if end_elem is not None else None
    if start is None:
        left_out(Text(N_("no readable period-start")))
        return None
    if end is not None and end < start:
        left_out(Text(N_("its period ends before it starts")))
        return None
    if amount < 0:
        left_out(Text(N_("a planned amount is not negative")))
        return None
    exact = money.quantize(amount, currency)
    if exact >= money.MAX_AMOUNT:
        left_out(Text(N_("the amount is too large")))
        return None
    if exact != amount:
        ctx.warn(
            "plan_rounded",
            Text(
                N_("%(amount)s %(currency)s has more decimals than the currency has: rounded to %(rounded)s"),
                amount=raw,
                currency=currency,
                rounded=str(exact),
            ),
            elem,
            f"{path}/value",
        )
    kind = PLAN_KINDS.get((elem.get("type") or "1").strip(), "original")
    record = PlanRecord(
        period_start=start,
        period_end=end,
        amount=exact,
        currency=currency,
        value_date=parse_date(value.get("value-date")) or start,
        kind=kind,
        location=Location(file=ctx.filename, row=elem.sourceline, column=path),
    )
    if tag == "budget":
        record.status = BUDGET_STATUSES.get((elem.get("status") or "1").strip(), "indicative")
    else:
        record.provider_ref, record.provider_name = _org(elem, "provider-org", lang)
        record.receiver_ref, record.receiver_name = _org(elem, "receiver-org", lang)
    return record


def read_plans(ctx: ReadingContext, act, record: IatiProjectRecord, currency: str | None, lang: str) -> None:
    """The activity's budgets and planned disbursements into ``record`` (``currency``: the
    activity's default). An activity without either leaves the stored plans as they are."""
    budgets = act.findall("budget")
    planned = act.findall("planned-disbursement")
    if not budgets and not planned:
        return
    record.budgets = [
        p for n, e in enumerate(budgets, 1) if (p := _plan(ctx, e, f"budget[{n}]", currency, lang)) is not None
    ]
    record.planned_disbursements = [
        p
        for n, e in enumerate(planned, 1)
        if (p := _plan(ctx, e, f"planned-disbursement[{n}]", currency, lang)) is not None
    ]
