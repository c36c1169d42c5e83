"""An activity's flows: each transaction's type, value, currency and value date, checked as the
registry keeps money (an ISO 4217 currency, no more decimals than it allows, a real date).

A transaction is left out only with a problem that says which one and why; its money in the
message when the value could be read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from importers.iati.context import IatiProjectRecord, ReadingContext
from importers.iati.recipients import UnplacedFlow, read_recipient
from importers.iati.values import aid_type_of, code_of, narrative, parse_date, parse_decimal, tied_status_of
from importers.messages import Text
from importers.records import Location, TransactionRecord
from registry import money
from registry.models.types import N_, TransactionType

# A flow without a readable date of its own is dated on the activity's, in this order.
FALLBACK_DATES = ("actual_start", "planned_start", "actual_end", "planned_end")
_FALLBACK_MESSAGES = {
    "actual_start": N_(
        "The transaction has no readable date of its own: it is dated on the activity's actual start date %(day)s"
    ),
    "planned_start": N_(
        "The transaction has no readable date of its own: it is dated on the activity's planned start date %(day)s"
    ),
    "actual_end": N_(
        "The transaction has no readable date of its own: it is dated on the activity's actual end date %(day)s"
    ),
    "planned_end": N_(
        "The transaction has no readable date of its own: it is dated on the activity's planned end date %(day)s"
    ),
}
# A date outside these years parses but is no real value date (a typo such as 1010-12-09).
PLAUSIBLE_YEARS = (1900, dt.date.today().year + 50)
TX_DESCRIPTION_MAX = 1000


@dataclass(frozen=True)
class FlowDefaults:
    """The activity's default flow, finance and aid types, for transactions that give none."""

    flow_type: str | None
    finance_type: str | None
    aid_type: str | None

    @classmethod
    def of(cls, act) -> FlowDefaults:
        return cls(
            code_of(act, "default-flow-type"),
            code_of(act, "default-finance-type"),
            aid_type_of(act, "default-aid-type"),
        )


@dataclass
class FlowsRead:
    """What the reading of the transactions tells the recipients: whether any transaction
    names a recipient, and the flows whose named recipient cannot be placed."""

    named_recipient: bool = False
    unplaced: list[UnplacedFlow] = field(default_factory=list)


class WrittenDate(NamedTuple):
    """A date as the transaction writes it: where (the XML path), the text, and the day it reads as."""

    where: str
    text: str
    day: dt.date


def read_transactions(
    ctx: ReadingContext, act, record: IatiProjectRecord, currency: str | None, defaults: FlowDefaults, lang: str
) -> FlowsRead:
    """The activity's flows into ``record.transactions`` (``currency``: the activity's default)."""
    read = FlowsRead()
    for index, tx in enumerate(act.findall("transaction"), start=1):
        path = f"transaction[{index}]"
        # The first child of each name, in one pass (what tx.find(name) returns, without a
        # search of the children for each of the ten names a transaction may carry).
        first: dict = {}
        for child in tx:
            first.setdefault(child.tag, child)
        type_elem = first.get("transaction-type")
        code = (type_elem.get("code") or "").strip() if type_elem is not None else ""
        kind = TransactionType.from_iati(code)
        value = first.get("value")
        raw = (value.text or "").strip() if value is not None else ""
        tx_currency = ((value.get("currency") or "").strip().upper() if value is not None else "") or currency
        if kind is None:
            ctx.counts["transactions_skipped"] += 1
            text = (type_elem.text or "").strip() if type_elem is not None else ""
            if code:
                what = Text(
                    N_(
                        "Transaction type %(code)s is not an IATI 2.03 transaction type (1 to 13, or a 1.x letter code)"
                    ),
                    code=code,
                )
            elif text:
                what = Text(
                    N_("transaction-type has no @code (its text %(text)s is not where IATI puts the type)"),
                    text=repr(text),
                )
            else:
                what = Text(N_("The transaction has no transaction-type/@code"))
            ctx.warn(
                "transaction_type",
                Text(
                    N_("%(why)s: this flow of %(amount)s %(currency)s is left out"),
                    why=what,
                    amount=raw,
                    currency=tx_currency or "(no currency)",
                )
                if raw
                else Text(N_("%(why)s: this flow of no value is left out"), why=what),
                tx,
                f"{path}/transaction-type/@code",
                code,
            )
            continue
        amount = read_amount(ctx, tx, path, raw, tx_currency)
        if amount is None:
            continue
        day = value_date(ctx, tx, value, record, path, first.get("transaction-date"))
        if day is None:
            continue
        named = [e for e in tx if e.tag in ("recipient-country", "recipient-region")]
        found = [read_recipient(ctx, e, f"{path}/{e.tag}") for e in named]
        # IATI allows one recipient per transaction: the first one the registry can place.
        entry = next((e for e in found if not e.why), found[0]) if found else None
        if len(named) > 1:
            ctx.warn(
                "several_recipients",
                Text(
                    N_("A transaction has %(n)s recipients (%(codes)s); IATI allows one: %(used)s is used"),
                    n=len(named),
                    codes=", ".join(e.label for e in found),
                    used=entry.label,
                ),
                tx,
                f"{path}/{named[1].tag}",
            )
        provider = first.get("provider-org")
        flow = TransactionRecord(
            type=kind.value,
            amount=amount,
            currency=tx_currency,
            value_date=day,
            provider_org=(provider.get("ref") or narrative(provider, lang) or None) if provider is not None else None,
            flow_type=_code(first.get("flow-type")) or defaults.flow_type,
            finance_type=_code(first.get("finance-type")) or defaults.finance_type,
            aid_type=(aid_type_of(tx, "aid-type") if "aid-type" in first else None) or defaults.aid_type,
            # the flow's own; without one the project's default (default-tied-status) applies
            tied_status=tied_status_of(ctx, tx, "tied-status") if "tied-status" in first else None,
            description=narrative(first.get("description"), lang)[:TX_DESCRIPTION_MAX],
            location=Location(file=ctx.filename, row=tx.sourceline, column=path),
            recipient_country=entry.country if entry else None,
            recipient_region=entry.region if entry else None,
        )
        record.transactions.append(flow)
        ctx.counts["transactions"] += 1
        if entry is not None:
            read.named_recipient = True
            if entry.why:
                read.unplaced.append(UnplacedFlow(flow, entry))
    return read


def _code(elem) -> str | None:
    """The @code of an element, trimmed; None when absent or empty (``code_of`` for a child found)."""
    return (elem.get("code") or "").strip() or None if elem is not None else None


def read_amount(ctx: ReadingContext, tx, path: str, raw: str, currency: str | None) -> Decimal | None:
    """The transaction's value as an exact Decimal in ``currency``, rounded (with a warning) to
    the currency's decimals; None, with an error, when it cannot be kept."""
    amount = parse_decimal(raw)
    if amount is None:
        ctx.error("bad_value", N_("Transaction value is missing or not a number"), tx, f"{path}/value", raw or None)
        return None
    if not currency or not money.is_currency(currency):
        ctx.error(
            "currency",
            Text(
                N_("%(why)s: neither value/@currency nor the activity's default-currency is an ISO 4217 code"),
                why=Text(N_("Unknown currency %(code)s"), code=repr(currency)),
            )
            if currency
            else N_("No valid currency: neither value/@currency nor the activity's default-currency"),
            tx,
            f"{path}/value/@currency",
            currency,
        )
        return None
    if abs(amount) >= money.MAX_AMOUNT:
        ctx.error(
            "bad_value",
            Text(N_("%(value)s is too large: amounts stay below %(max)s"), value=raw, max=f"{money.MAX_AMOUNT:,}"),
            tx,
            f"{path}/value",
            raw,
        )
        return None
    quantized = money.quantize(amount, currency)
    if quantized != amount:
        ctx.warn(
            "rounded",
            Text(
                N_("%(amount)s has more decimals than %(currency)s allows: rounded to %(rounded)s"),
                amount=str(amount),
                currency=currency,
                rounded=str(quantized),
            ),
            tx,
            f"{path}/value",
            amount,
        )
        return quantized
    return amount


def value_date(ctx: ReadingContext, tx, value, record: IatiProjectRecord, path: str, date_elem) -> dt.date | None:
    """The flow's date: value/@value-date, else transaction-date/@iso-date (``date_elem``, the
    transaction's first), else the activity's dates. A date that parses but is no plausible
    value date (1010-12-09) gives way to a plausible one, else is kept as written: conversion
    flags it; the flow is never dropped."""
    written = (
        ("value/@value-date", value.get("value-date") if value is not None else None),
        ("transaction-date/@iso-date", date_elem.get("iso-date") if date_elem is not None else None),
    )
    given = [(where, text.strip()) for where, text in written if text and text.strip()]
    days = [parse_date(text) for _where, text in given]
    readable = [WrittenDate(where, text, day) for (where, text), day in zip(given, days, strict=True) if day]
    plausible = [r for r in readable if PLAUSIBLE_YEARS[0] <= r.day.year <= PLAUSIBLE_YEARS[1]]
    unreadable = [(where, text) for (where, text), day in zip(given, days, strict=True) if day is None]
    for where, text in unreadable:
        ctx.warn(
            "bad_date",
            Text(N_("%(where)s %(text)s is not a date: ignored"), where=where, text=repr(text)),
            tx,
            f"{path}/{where}",
            text,
        )
    if plausible:
        chosen = plausible[0]
        if readable[0] is not chosen:
            first = readable[0]
            ctx.warn(
                "implausible_date",
                Text(
                    N_("%(where)s %(text)s is not a plausible date: the %(chosen)s %(day)s is used"),
                    where=first.where,
                    text=first.text,
                    chosen=chosen.where,
                    day=chosen.text,
                ),
                tx,
                f"{path}/{first.where}",
                first.text,
            )
        return chosen.day
    if readable:
        first = readable[0]
        ctx.warn(
            "implausible_date",
            Text(
                N_(
                    "%(where)s %(text)s is not a plausible date (before %(first)s or after %(last)s): the flow "
                    "is kept with its date as written; no exchange rate can convert it"
                ),
                where=first.where,
                text=first.text,
                first=str(PLAUSIBLE_YEARS[0]),
                last=str(PLAUSIBLE_YEARS[1]),
            ),
            tx,
            f"{path}/{first.where}",
            first.text,
        )
        return first.day
    for name in FALLBACK_DATES:
        day = getattr(record, name)
        if day is not None:
            ctx.warn(
                "no_date",
                Text(_FALLBACK_MESSAGES[name], day=day.isoformat()),
                tx,
                f"{path}/value/@value-date",
            )
            return day
    ctx.error(
        "no_date",
        N_(
            "The transaction has no readable date (value/@value-date, transaction-date/@iso-date), nor "
            "has the activity: this transaction cannot be imported"
        ),
        tx,
        f"{path}/value/@value-date",
    )
    return None
