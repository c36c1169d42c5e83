"""Rows into projects: a project's own cells (description, status, dates, need, recipients
with their shares, priority areas, purpose codes, WSIS action lines), the flows of its rows
added with the weights its countries get from them, and each project finished once the file
is read (shares from the flows when no share is given, and one warning for the file when a
project's flows of another type split over its countries otherwise).

``ProjectCells`` is a part of ``SheetReader`` (see ``importers.sheets.reader``): it uses the
reader's ``problem``, ``lookups``, ``amounts``, ``default_currency``, ``unit`` and ``builders``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from importers.messages import Text
from importers.records import AreaRecord, Location, PlanRecord, ProjectRecord, RecipientRecord, TransactionRecord
from importers.sheets.amounts import Amount, currency_code
from importers.sheets.columns import header_of
from importers.sheets.fields import WIDE_TYPES, vocabulary
from importers.sheets.sheet_amounts import Where
from importers.sheets.text import CellError, NumText, norm
from importers.sheets.values import parse_share, split_items
from registry.models.scope import infrastructure_code, scope_code
from registry.models.types import N_

# An unknown recipient, by the column it is in; with a suggestion or without.
_UNKNOWN = {
    "country": (N_("Unknown country %(value)s"), N_("Unknown country %(value)s; did you mean %(hint)s?")),
    "region": (N_("Unknown region %(value)s"), N_("Unknown region %(value)s; did you mean %(hint)s?")),
    "recipient": (
        N_("Unknown country or region %(value)s"),
        N_("Unknown country or region %(value)s; did you mean %(hint)s?"),
    ),
}
# The flows a project's country shares are read from, named in the plural.
_FLOWS = {
    "commitment": N_("commitments"),
    "disbursement": N_("disbursements"),
    "expenditure": N_("expenditures"),
    "pledge": N_("pledges"),
    "incoming_funds": N_("incoming funds"),
}

_WEIGHT_KINDS = WIDE_TYPES  # the flows a project's country shares may come from, in this order


class SheetTransaction(TransactionRecord):
    """A transaction read from a sheet; its Location is made only when something asks for it.

    The reader hands over (file, sheet, row, column) instead of a Location object: most
    transactions never have a problem, and 100,000 fewer objects keep large files fast
    (fewer allocations, less for the garbage collector to walk)."""

    @property  # type: ignore[override]
    def location(self) -> Location:
        where = self._where
        if where.__class__ is tuple:
            where = self._where = Location(*where)
        return where

    @location.setter
    def location(self, value: Location | tuple) -> None:
        self._where = value


class Recipient(NamedTuple):
    """A recipient a row names: its (country, region) key, and the record with its share."""

    key: tuple[str | None, str | None]
    record: RecipientRecord


@dataclass
class ProjectBuilder:
    """A project while its rows are read: its record, and what its rows add up to."""

    record: ProjectRecord
    recipients: dict[tuple, RecipientRecord] = field(default_factory=dict)
    weights: dict[tuple, dict[str, Decimal]] = field(default_factory=dict)  # recipient -> type -> sum
    currencies: set = field(default_factory=set)
    areas: dict[str, AreaRecord] = field(default_factory=dict)
    last_codes: tuple = ()  # the area/sector/action-line texts of the previous row
    last_rkey: tuple | None = None  # the recipient texts of the previous row
    plain_rkeys: set = field(default_factory=set)  # recipient texts merged already that give no share
    # Planned disbursements by year (the "Planned 2027" columns): (year, currency) -> the sum of
    # its cells, and where each year was first given; a year given only zeros plans nothing.
    plans: dict[tuple[int, str], Decimal] = field(default_factory=dict)
    plan_years: dict[int, Location] = field(default_factory=dict)

    def add_plan(self, year: int, currency: str, amount: Decimal, where: Location) -> None:
        """Add a planned disbursement cell: its amount to the year's plan in its currency (a row
        per country adds up, as the flows of wide columns do)."""
        self.plan_years.setdefault(year, where)
        if amount:
            self.plans[(year, currency)] = self.plans.get((year, currency), Decimal(0)) + amount

    def add_flow(self, tx: TransactionRecord, recipients: list[Recipient]) -> None:
        """Add a transaction of a row, and its amount to the weights of the row's recipients."""
        self.record.transactions.append(tx)
        self.currencies.add(tx.currency)
        kind, amount = tx.type, tx.amount
        for recipient in recipients:
            w = self.weights[recipient.key]
            w[kind] = w.get(kind, _ZERO) + amount


_ZERO = Decimal(0)


class UnevenSplit(NamedTuple):
    """A project whose flows of one type split over its countries unlike those its shares come from."""

    builder: ProjectBuilder
    kind: str  # the type the shares come from
    base: dict  # recipient key -> share of that type's flows
    other: str  # the type that splits otherwise
    split: dict


class ProjectCells:
    """The project part of SheetReader (see the module docstring)."""

    def _merge_recipients(self, b: ProjectBuilder, rkey: tuple | None, recipients: list[Recipient]) -> None:
        """Add a row's recipients to its project (a share given again replaces the earlier one).

        ``rkey`` (the row's recipient texts, None when they had a problem) is remembered so that
        the next rows with the same texts need not merge again: merging the same recipients
        twice in a row changes nothing, nor at any time when none of them carries a share."""
        known = b.recipients
        shares = False
        for recipient in recipients:
            key, rec = recipient.key, recipient.record
            if key not in known:
                known[key] = RecipientRecord(country=rec.country, region=rec.region, share=rec.share)
                b.weights[key] = {}
            elif rec.share is not None:
                known[key].share = rec.share
            shares = shares or rec.share is not None
        b.last_rkey = rkey
        if rkey is not None and not shares:
            b.plain_rkeys.add(rkey)

    def _project_fields(self, b: ProjectBuilder, values: dict, columns, sheet, rownum) -> None:
        """The project's own cells, from the first row of the project."""
        rec = b.record
        rec.description = values.get("description", "")
        rec.iati_identifier = values.get("iati_identifier") or None
        if values.get("status"):
            status = vocabulary()["status"].get(norm(values["status"]))
            if status is None:
                self.problem(
                    "error",
                    "unknown_status",
                    Text(
                        N_("Unknown status %(value)s (pipeline, active, completed, cancelled, suspended)"),
                        value=repr(values["status"]),
                    ),
                    sheet,
                    rownum,
                    header_of(columns, "status"),
                    values["status"],
                )
            rec.status = status
        for name in ("planned_start", "planned_end", "actual_start", "actual_end"):
            if values.get(name):
                setattr(rec, name, self._date(values[name], name, columns, sheet, rownum))
        if values.get("scope"):
            try:
                rec.scope = scope_code(values["scope"])
            except ValueError:
                self.problem(
                    "error",
                    "unknown_scope",
                    Text(
                        N_(
                            "Unknown scope %(value)s (national, multi-country, regional, global, or an IATI "
                            "ActivityScope code 1-8)"
                        ),
                        value=repr(values["scope"]),
                    ),
                    sheet,
                    rownum,
                    header_of(columns, "scope"),
                    values["scope"],
                )
        if values.get("infrastructure"):
            try:
                rec.infrastructure = infrastructure_code(values["infrastructure"])
            except ValueError:
                self.problem(
                    "error",
                    "unknown_infrastructure",
                    Text(
                        N_(
                            "Unknown infrastructure %(value)s (IXP, backbone, submarine cable, satellite, "
                            "data centre, spectrum and regulation, none)"
                        ),
                        value=repr(values["infrastructure"]),
                    ),
                    sheet,
                    rownum,
                    header_of(columns, "infrastructure"),
                    values["infrastructure"],
                )
        if values.get("need_amount"):
            col = next(c for c in columns if c.field == "need_amount")
            text = values["need_amount"]
            fallback = col.currency or values.get("currency") or self.default_currency
            if text.__class__ is NumText:  # a number cell: never read as a text that looks the same
                settled = Amount(Decimal(text), currency_code(values.get("need_currency") or fallback or ""))
            else:
                settled = self.amounts.settle(
                    text, values.get("need_currency"), fallback, col.unit * self.unit, Where(sheet, rownum, col.header)
                )
            if settled is not None:
                rec.need_amount = settled.value * col.unit * self.unit
                rec.need_currency = settled.currency

    def _recipients(self, values, columns, sheet, rownum) -> list[Recipient]:
        """The recipient countries and regions a row names, with their shares (unknown ones reported)."""
        out = []
        share_text = values.get("share")
        for name in ("country", "region", "recipient"):
            text = values.get(name)
            if not text:
                continue
            items = split_items(text)
            for each in items:
                item, item_share = each.text, each.share
                country = region = None
                if name in ("country", "recipient"):
                    country = self.lookups.country(item)
                if country is None and name in ("region", "recipient"):
                    region = self.lookups.region(item)
                if country is None and region is None:
                    hint = self.lookups.suggest(item, countries=name != "region", regions=name != "country")
                    self.problem(
                        "error",
                        f"unknown_{'country' if name != 'region' else 'region'}",
                        Text(_UNKNOWN[name][bool(hint)], value=repr(item), hint=hint or ""),
                        sheet,
                        rownum,
                        header_of(columns, name),
                        item,
                    )
                    continue
                share = None
                given = item_share or (share_text if len(items) == 1 else None)
                if given:
                    try:
                        share = parse_share(given)
                        if not 0 < share <= 100:  # the registry's rule, said here with its row
                            self.problem(
                                "error",
                                "invalid_share",
                                Text(N_("Share %(value)s must be above 0 and at most 100"), value=given),
                                sheet,
                                rownum,
                                header_of(columns, "share"),
                                given,
                            )
                            share = None
                    except CellError:
                        self.problem(
                            "error",
                            "invalid_share",
                            Text(N_("%(value)s is not a percentage"), value=repr(given)),
                            sheet,
                            rownum,
                            header_of(columns, "share"),
                            given,
                        )
                out.append(Recipient((country, region), RecipientRecord(country=country, region=region, share=share)))
        return out

    def _areas_and_codes(self, b: ProjectBuilder, values, columns, sheet, rownum) -> None:
        """Add a row's priority areas, purpose codes and WSIS action lines to its project."""
        rec = b.record
        if values.get("area"):
            for each in split_items(values["area"], commas=True):
                item, share = each.text, each.share
                code = self.lookups.area(item)
                if code is None:
                    rec.incomplete.add("areas")
                    self.problem(
                        "error",
                        "unknown_area",
                        Text(N_("Unknown priority area %(value)s (23a-23l or its name)"), value=repr(item)),
                        sheet,
                        rownum,
                        header_of(columns, "area"),
                        item,
                    )
                elif code not in b.areas:
                    b.areas[code] = AreaRecord(code=code, share=Decimal(share) if share else None)
        if values.get("sector"):
            for item in (each.text for each in split_items(values["sector"], commas=True)):
                m = re.match(r"\d{5}", item)
                if not m:
                    self.problem(
                        "error",
                        "invalid_sector",
                        Text(N_("%(value)s is not a DAC 5-digit purpose code"), value=repr(item)),
                        sheet,
                        rownum,
                        header_of(columns, "sector"),
                        item,
                    )
                elif m.group(0) not in rec.sectors:
                    rec.sectors.append(m.group(0))
        if values.get("wsis_action_line"):
            for item in re.split(r"[;,/|\s]+", values["wsis_action_line"]):
                code = item.strip().upper()
                if code and code not in rec.wsis_action_lines:
                    rec.wsis_action_lines.append(code)

    def _finish(self, b: ProjectBuilder) -> ProjectRecord:
        """The project's record once every row is read: its recipients' shares or weights, its areas."""
        rec = b.record
        recipients = list(b.recipients.values())
        shares = [r.share for r in recipients]
        if shares and all(s is not None for s in shares) and sum(shares) <= Decimal("1.0001") and len(shares) > 1:
            for r in recipients:  # fractions (0.6, 0.4) from cells formatted as percentages
                r.share = r.share * 100
        if all(s is None for s in shares) and len(b.currencies) <= 1:
            totals = list(b.weights.values())
            for kind in _WEIGHT_KINDS:
                if any(w.get(kind) for w in totals):
                    for key, r in b.recipients.items():
                        r.weight = b.weights[key].get(kind)
                    if len(b.recipients) > 1:
                        self._check_split(b, kind)
                    break
        rec.recipients = recipients
        rec.areas = list(b.areas.values())
        if b.plan_years:
            # The years the file states: only their plans are replaced (plan_years).
            rec.plan_years = set(b.plan_years)
            rec.planned_disbursements = [
                PlanRecord(
                    period_start=dt.date(year, 1, 1),
                    period_end=dt.date(year, 12, 31),
                    amount=amount,
                    currency=currency,
                    location=b.plan_years[year],
                )
                for (year, currency), amount in sorted(b.plans.items())
            ]
        return rec

    def _check_split(self, b: ProjectBuilder, kind: str) -> None:
        """Note a project whose flows of another type split over its countries unlike the ones
        its shares come from (reported once for the file by ``_report_splits``)."""
        proportions = {}
        for each in _WEIGHT_KINDS:
            total = sum(w.get(each) or 0 for w in b.weights.values())
            if total > 0:
                proportions[each] = {key: (w.get(each) or 0) / total for key, w in b.weights.items()}
        base = proportions.get(kind)
        if base is None:
            return
        for other, split in proportions.items():
            if other != kind and any(abs(split[key] - base[key]) > Decimal("0.005") for key in base):
                self._splits.append(UnevenSplit(b, kind, base, other, split))
                return

    def _report_splits(self) -> None:
        """One warning for the file: reports spread every flow of a project by one set of shares."""
        if not self._splits:
            return
        first = self._splits[0]
        b, kind, base, other, split = first.builder, first.kind, first.base, first.other, first.split

        def words(shares: dict) -> str:
            parts = []
            for key, share in shares.items():
                if share:
                    r = b.recipients[key]
                    parts.append(f"{r.country or r.region} {share * 100:.0f}%")
            return ", ".join(parts)

        more = len(self._splits) - 1
        loc = b.record.location
        self.problem(
            "warning",
            "split_differs",
            Text(
                N_(
                    "Project %(project)s: its country shares come from its %(kind)s (%(base)s), but its %(other)s "
                    "split otherwise (%(split)s). Reports spread every flow of a project by the same shares; give a "
                    "country share column, or one project per country, if they should differ."
                ),
                project=repr(b.record.reference)
                if not more
                else Text(N_("%(ref)s (and 1 more project)"), ref=repr(b.record.reference))
                if more == 1
                else Text(N_("%(ref)s (and %(n)s more projects)"), ref=repr(b.record.reference), n=more),
                kind=_flows(kind),
                base=words(base),
                other=_flows(other),
                split=words(split),
            ),
            loc.sheet,
            loc.row,
            b.record.columns.get("recipients"),
        )


def _flows(kind: str) -> str:
    """The flows of a type named in the plural, as a message of its own ("commitments")."""
    plural = _FLOWS.get(kind)
    return Text(plural) if plural else f"{kind.replace('_', ' ')}s"
