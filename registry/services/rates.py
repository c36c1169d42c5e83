"""Loading exchange-rate files: check one, show what it changes in stored flows, put it in force.

A loaded file is written to the instance folder (``RATES_DIR``, by default
``instance/rates/``), where it overrides the file shipped in ``registry/data/``: an upgrade
of the application then never changes a figure by itself, and deleting the loaded file
goes back to the shipped one. Loading writes an audit event. Stored flows keep the USD
value they were recorded with unless the load is asked to re-convert them (``apply``):
the diff says what that would change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import bindparam, select, update

from registry import money
from registry.errors import ConversionError, ValidationError
from registry.extensions import db
from registry.models import Transaction
from registry.services import audit
from registry.services.actor import Actor

KINDS = {"ecb": "ECB daily reference rates (eurofxref-hist)", "imf": "IMF annual average rates (ENDA, per USD)"}


@dataclass
class CurrencyChange:
    """What a rates file changes in the stored flows of one currency."""

    flows: int = 0  # flows whose USD value changes
    usd_before: int = 0  # minor units, of the flows that stay converted
    usd_after: int = 0
    newly_converted: int = 0
    newly_unconverted: int = 0


class Span(NamedTuple):
    """The first and last day (ECB) or year (IMF) a rates file covers, as text."""

    first: str
    last: str


class UsdValue(NamedTuple):
    """A flow's USD value as stored: minor units, the rate (text), its date and its source;
    all None when the flow cannot be converted."""

    minor: int | None
    rate: str | None
    rate_date: dt.date | None
    source: str | None


class FlowUpdate(NamedTuple):
    """A stored flow whose USD value a rates file changes, and its new value."""

    tx_id: int
    value: UsdValue


NOT_CONVERTED = UsdValue(None, None, None, None)


@dataclass
class RatesLoad:
    """A checked rates file and what it would change."""

    kind: str
    name: str
    text: str
    sha256: str
    table: money.RateTable | money.AnnualTable
    span: Span
    currencies: int
    changes: dict[str, CurrencyChange] = field(default_factory=dict)
    updates: list[FlowUpdate] = field(default_factory=list)  # every flow whose USD value changes

    @property
    def changed_flows(self) -> int:
        return len(self.updates)

    def summary(self) -> dict:
        """The load as plain values (audit event, command output)."""
        return {
            "kind": self.kind,
            "file": self.name,
            "sha256": self.sha256,
            "first": self.span.first,
            "last": self.span.last,
            "currencies": self.currencies,
        }


def read_rates_file(path: Path) -> RatesLoad:
    """Check a rates file (ECB CSV or ZIP as the ECB publishes it, IMF CSV as shipped).

    Raises ValidationError saying the file, line, column and value of the first problem."""
    try:
        text = money.rates_text(path.read_bytes(), path.name)
    except (OSError, UnicodeDecodeError, zipfile.BadZipFile, money.RatesFileError) as exc:
        raise ValidationError(f"{path.name}: cannot be read as a rates file ({exc})", {"file": [str(exc)]}) from None
    first_line = text.split("\n", 1)[0]
    header = [h.strip() for h in first_line.split(",")]
    kind = "imf" if {"Rate", "Currency"} <= set(header) else "ecb"
    try:
        if kind == "ecb":
            money.check_ecb_text(text, path.name)
            table: money.RateTable | money.AnnualTable = money.RateTable.from_ecb_text(text)
            days = [b for c in table.currencies if c != "EUR" and (b := table.bounds(c))]
            span = Span(min(d.first for d in days).isoformat(), max(d.last for d in days).isoformat())
            currencies = len(table.currencies - {"EUR"})
        else:
            table = money.AnnualTable.from_text(text, path.name)
            years = [y for c in table.currencies for y in table.rates(c)]
            span = Span(str(min(years)), str(max(years)))
            currencies = len(table.currencies)
    except money.RatesFileError as exc:
        raise ValidationError(str(exc), {"file": [str(exc)]}) from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return RatesLoad(kind, path.name, text, digest, table, span, currencies)


def diff_stored_flows(load: RatesLoad, max_age_days: int = 7) -> RatesLoad:
    """Fill ``load.changes`` and ``load.updates``: every stored flow converted again with the
    file in force (one rate look-up per currency and day), compared with what is stored."""
    stmt = select(
        Transaction.id,
        Transaction.currency,
        Transaction.value_date,
        Transaction.amount_minor,
        Transaction.usd_minor,
        Transaction.usd_rate,
        Transaction.usd_rate_date,
        Transaction.usd_rate_source,
    ).where(Transaction.currency != "USD")
    quotes: dict[tuple[str, dt.date], money.Quote | None] = {}
    ratios: dict[tuple[str, dt.date], money.MinorRatio] = {}
    changes: dict[str, CurrencyChange] = defaultdict(CurrencyChange)
    updates: list[FlowUpdate] = []
    with money.rates_in_force(**{load.kind: load.table}):
        for tx_id, cur, day, amount, usd, rate, rate_day, source in db.session.execute(stmt):
            key = (cur, day)
            if key not in quotes:
                try:
                    quotes[key] = money.quote(cur, "USD", day, max_age_days)
                    ratios[key] = money.minor_ratio(quotes[key].rate, cur, "USD")
                except ConversionError:
                    quotes[key] = None
            found = quotes[key]
            if found is None:
                new = NOT_CONVERTED
            else:
                new = UsdValue(money.convert_minor(amount, ratios[key]), str(found.rate), found.rate_date, found.source)
            if new == UsdValue(usd, rate, rate_day, source):
                continue
            updates.append(FlowUpdate(tx_id, new))
            change = changes[cur]
            change.flows += 1
            if usd is None and new.minor is not None:
                change.newly_converted += 1
            elif usd is not None and new.minor is None:
                change.newly_unconverted += 1
            elif usd is not None:
                change.usd_before += usd
                change.usd_after += new.minor
    load.changes = dict(sorted(changes.items()))
    load.updates = updates
    return load


def apply_rates_load(actor: Actor, load: RatesLoad, *, reconvert: bool) -> None:
    """Record the load in the audit log and, with ``reconvert``, store the flows' new USD values
    (the session is flushed, not committed; ``install_rates_file`` then puts the file in place)."""
    if reconvert and load.updates:
        db.session.execute(
            update(Transaction.__table__)
            .where(Transaction.__table__.c.id == bindparam("tx_id"))
            .values(
                usd_minor=bindparam("usd_minor"),
                usd_rate=bindparam("usd_rate"),
                usd_rate_date=bindparam("usd_rate_date"),
                usd_rate_source=bindparam("usd_rate_source"),
            ),
            [
                {
                    "tx_id": u.tx_id,
                    "usd_minor": u.value.minor,
                    "usd_rate": u.value.rate,
                    "usd_rate_date": u.value.rate_date,
                    "usd_rate_source": u.value.source,
                }
                for u in load.updates
            ],
        )
        db.session.expire_all()  # flows already loaded read their new values
    before = current_file(load.kind)
    after = {**load.summary(), "reconverted_flows": load.changed_flows if reconvert else 0}
    audit.record(
        actor,
        "update",
        "exchange_rates",
        0,
        before,
        after,
        f"Loaded {KINDS[load.kind]} from {load.name} ({load.span.first} to {load.span.last}); "
        + (
            f"{load.changed_flows} stored flows re-converted"
            if reconvert
            else f"{load.changed_flows} stored flows would change (not re-converted)"
        ),
    )
    db.session.flush()


def install_rates_file(load: RatesLoad) -> Path:
    """Write the file where the registry reads it (``RATES_DIR``), replacing any earlier one."""
    folder = money.rates_dir()
    if folder is None:
        raise ValidationError("No RATES_DIR is configured: a loaded rates file has nowhere to go")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (money.ECB_LOADED if load.kind == "ecb" else money.IMF_FILE)
    temporary = target.with_suffix(".tmp")
    temporary.write_text(load.text, "utf-8")
    os.replace(temporary, target)
    money.forget_tables()
    return target


def current_file(kind: str) -> dict:
    """Which file of ``kind`` is in force: its path (loaded or shipped) and checksum."""
    path = money.rate_file(kind)
    text = money.ecb_text(path) if kind == "ecb" else path.read_text("utf-8-sig")
    return {
        "kind": kind,
        "file": path.name,
        "loaded": money.rates_dir() is not None and path.parent == money.rates_dir(),
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
    }


def describe_changes(load: RatesLoad) -> list[str]:
    """The diff as lines: flows whose USD value changes, and the total change by currency."""
    if not load.updates:
        return ["No stored flow changes: every one keeps its USD value."]
    lines = [f"{load.changed_flows} stored flows get a different USD value:"]
    for cur, c in load.changes.items():
        delta = money.from_minor(c.usd_after - c.usd_before, "USD")
        parts = [f"{c.flows} flows"]
        if c.usd_before or c.usd_after:
            parts.append(
                f"USD {money.format_amount(money.from_minor(c.usd_before, 'USD'))} -> "
                f"{money.format_amount(money.from_minor(c.usd_after, 'USD'))} "
                f"({'+' if delta >= 0 else ''}{money.format_amount(delta)})"
            )
        if c.newly_converted:
            parts.append(f"{c.newly_converted} converted for the first time")
        if c.newly_unconverted:
            parts.append(f"{c.newly_unconverted} no longer convertible")
        lines.append(f"  {cur}: " + ", ".join(parts))
    return lines


def total_change(load: RatesLoad) -> Decimal:
    """The change of the USD total of the flows that stay converted."""
    return money.from_minor(sum(c.usd_after - c.usd_before for c in load.changes.values()), "USD")
