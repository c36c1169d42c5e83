"""Where an activity's money goes: its recipient countries and regions and their shares.

Recipients are given either on the activity (with percentages) or on each transaction (one
per flow). A code the registry cannot place keeps its share unallocated, with a warning that
says how much money and why; nobody is scaled up to take another's share.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from importers.allocate import shares_from_weights
from importers.iati.context import IatiProjectRecord, ReadingContext
from importers.iati.values import parse_decimal
from importers.mapping import iso2_to_iso3, known_region
from importers.messages import Text
from importers.records import RecipientRecord, TransactionRecord
from registry import money
from registry.errors import ConversionError, MoneyError
from registry.models.types import N_, TransactionType
from registry.services.projects import to_usd


class Place(NamedTuple):
    """A recipient as the registry keeps it: a country (ISO 3), or a region (M49), or neither
    (unallocated)."""

    country: str | None
    region: str | None


@dataclass
class RecipientEntry:
    """One recipient as the file gives it, with its element. Neither country nor region:
    unallocated, ``why``."""

    country: str | None
    region: str | None
    percentage: Decimal | None
    label: str
    why: str = ""  # a Text: a whole sentence, shown in the reader's language
    elem: object = None

    @property
    def place(self) -> Place:
        return Place(self.country, self.region)


class UnplacedFlow(NamedTuple):
    """A flow whose own recipient (given on the transaction) the registry cannot place."""

    flow: TransactionRecord
    entry: RecipientEntry


def read_recipient(ctx: ReadingContext, elem, path: str) -> RecipientEntry:
    """A recipient-country or recipient-region element as an entry. An empty or unknown
    code gives an unallocated entry (neither country nor region) that says why."""
    entry = _entry(ctx, elem, elem.tag, path)
    entry.elem = elem
    return entry


def _entry(ctx: ReadingContext, elem, kind: str, path: str) -> RecipientEntry:
    code = (elem.get("code") or "").strip()
    raw = elem.get("percentage")
    percentage = parse_decimal(raw)
    if raw is not None and raw.strip() and (percentage is None or percentage < 0):
        ctx.warn(
            "bad_percentage",
            Text(
                N_("Percentage %(value)s of recipient %(code)s is not a number from 0 to 100: read as not given"),
                value=repr(raw.strip()),
                code=code or "(empty)",
            ),
            elem,
            f"{path}/@percentage",
            raw,
        )
        percentage = None
    if kind == "recipient-country":
        code = code.upper()
        if not code:
            return RecipientEntry(None, None, percentage, "(empty)", Text(N_("recipient-country has no code")))
        iso3 = iso2_to_iso3(code)
        if iso3 is None:
            why = Text(N_("recipient-country %(code)s is not a country the registry knows"), code=code)
            return RecipientEntry(None, None, percentage, code, why)
        return RecipientEntry(iso3, None, percentage, code)
    vocabulary = (elem.get("vocabulary") or "1").strip()
    if not code:
        return RecipientEntry(None, None, percentage, "(empty)", Text(N_("recipient-region has no code")))
    if vocabulary == "1":
        mapped = ctx.mapping.recipients.get(code)
        if mapped and mapped.iso3:
            return RecipientEntry(mapped.iso3, None, percentage, code)
        if mapped and mapped.region:
            return RecipientEntry(None, mapped.region, percentage, code)
        why = (
            Text(N_('DAC region %(code)s "%(name)s" has no UN M49 equivalent'), code=code, name=mapped.name)
            if mapped
            else Text(N_("recipient-region %(code)s is not a DAC region code"), code=code)
        )
        return RecipientEntry(None, None, percentage, code, why)
    if vocabulary == "2" and known_region(code.zfill(3)):
        return RecipientEntry(None, code.zfill(3), percentage, code)
    return RecipientEntry(
        None,
        None,
        percentage,
        code,
        Text(
            N_("recipient-region %(code)s (vocabulary %(vocabulary)s) is not a UN M49 region the registry knows"),
            code=code,
            vocabulary=vocabulary,
        ),
    )


def read_recipients(
    ctx: ReadingContext, act, record: IatiProjectRecord, on_transactions: bool, unplaced: list[UnplacedFlow]
) -> None:
    """The project's recipient shares, once its flows are read. ``on_transactions``: whether any
    transaction names a recipient; ``unplaced``: the flows whose own recipient cannot be placed."""
    elems, seen = [], {}
    for elem in act:
        if elem.tag not in ("recipient-country", "recipient-region"):
            continue
        key = (elem.tag, *(" ".join((elem.get(a) or "").split()) for a in ("code", "vocabulary", "percentage")))
        if key in seen:
            seen[key] += 1
            continue
        seen[key] = 1
        elems.append(elem)
    for (tag, code, _vocabulary, percentage), times in seen.items():
        if times > 1:
            ctx.warn(
                "repeated_recipient",
                Text(
                    N_(
                        "%(tag)s %(code)s with %(percentage)s %% is listed %(times)s times: read once (a "
                        "repetition, not more shares)"
                    ),
                    tag=tag,
                    code=code or "(empty)",
                    percentage=percentage,
                    times=times,
                )
                if percentage
                else Text(
                    N_("%(tag)s %(code)s is listed %(times)s times: read once (a repetition, not more shares)"),
                    tag=tag,
                    code=code or "(empty)",
                    times=times,
                ),
                act,
                f"{tag}/@code",
                code,
            )
    entries = [read_recipient(ctx, e, e.tag) for e in elems]
    own = [t for t in record.transactions if t.recipient_country or t.recipient_region]
    loose = [t for t in record.transactions if not (t.recipient_country or t.recipient_region)]
    if entries:
        _activity_shares(ctx, act, record, entries, loose)
        if on_transactions:
            ctx.warn(
                "recipients_on_both",
                Text(
                    N_(
                        "Recipients are given both on the activity and on transactions (IATI asks for one or "
                        "the other): the %(n)s flows with their own recipient keep it; the activity's "
                        "shares apply to the other flows"
                    ),
                    n=len(own),
                ),
                act,
                "transaction/recipient-country",
            )
        for flow, entry in unplaced:
            ctx.warn(
                "unknown_recipient",
                Text(
                    N_("%(why)s: this flow (%(money)s) follows the activity's recipient shares"),
                    why=entry.why,
                    money=money_text([flow]),
                ),
                entry.elem,
                flow.location.column,
                entry.label,
            )
        return
    if not on_transactions:
        return
    for flow, entry in unplaced:
        ctx.warn(
            "unknown_recipient",
            Text(N_("%(why)s: this flow (%(money)s) stays unallocated"), why=entry.why, money=money_text([flow])),
            entry.elem,
            flow.location.column,
            entry.label,
        )
    if loose:
        # Some flows have no recipient the registry can place: their money stays
        # unallocated, so the project's own list is one unallocated share (the flows with
        # their own recipient keep it; the need is not split by guesswork).
        record.recipients = [RecipientRecord(country=None, region=None, share=Decimal(100))]
        ctx.warn(
            "unallocated",
            Text(
                N_(
                    "Recipients are given on transactions, and %(n)s of %(total)s flows have none the registry "
                    "can place (%(money)s): those flows and the need stay unallocated; each other flow stays "
                    "with its own recipient"
                ),
                n=len(loose),
                total=len(record.transactions),
                money=money_text(loose),
            ),
            act,
            "transaction/recipient-country",
        )
        return
    places = list(dict.fromkeys(Place(t.recipient_country, t.recipient_region) for t in own))
    weights = _recipient_weights(own, places)
    record.recipients = [  # a share too small to store leaves the list, not its flows
        RecipientRecord(country=p.country, region=p.region, share=s)
        for p, s in zip(places, shares_from_weights(weights), strict=True)
        if s > 0
    ]
    if len(places) > 1:
        ctx.warn(
            "shares_from_transactions",
            N_(
                "Recipients are given on transactions: each flow stays with its own recipient. The project "
                "lists them with shares following each one's commitments (its other flows when it has none) in "
                "USD at each value date, or equal shares when a flow cannot be converted; these shares split "
                "only the need"
            ),
            act,
            "transaction/recipient-country",
        )


def _recipient_weights(flows: list[TransactionRecord], places: list[Place]) -> list[Decimal]:
    """Each recipient's commitments in USD (its other flows when it has no commitment); all
    equal when a flow cannot be converted."""
    commitments = {
        Place(t.recipient_country, t.recipient_region) for t in flows if t.type == TransactionType.COMMITMENT.value
    }
    totals = dict.fromkeys(places, Decimal(0))
    for t in flows:
        place = Place(t.recipient_country, t.recipient_region)
        if place in commitments and t.type != TransactionType.COMMITMENT.value:
            continue
        try:
            usd = to_usd(t.amount, t.currency, t.value_date).amount
        except (ConversionError, MoneyError):
            return [Decimal(1)] * len(places)
        totals[place] += abs(usd)
    return [totals[p] for p in places]


def _activity_shares(
    ctx: ReadingContext,
    act,
    record: IatiProjectRecord,
    found: list[RecipientEntry],
    loose: list[TransactionRecord],
) -> None:
    """Countries AND regions with their percentages; an empty or unknown code keeps its share
    unallocated. Nobody is scaled up to take someone else's share: percentages that do not
    add up to 100 are all divided by their sum."""
    given = [entry.percentage for entry in found]
    if all(p is None for p in given):
        weights = [Decimal(1)] * len(found)
        if len(found) > 1:
            ctx.warn(
                "equal_split",
                Text(N_("No recipient percentages: the %(n)s recipients get equal shares"), n=len(found)),
                act,
                "recipient-country/@percentage",
            )
    elif any(p is None for p in given):
        rest = Decimal(100) - sum(p for p in given if p is not None)
        missing = sum(1 for p in given if p is None)
        fill = rest / missing if rest > 0 else Decimal(0)
        weights = [p if p is not None else fill for p in given]
        ctx.warn(
            "partial_percentages",
            Text(
                N_("Some recipients have no percentage: the %(n)s without one share the remaining %(rest)s %%"),
                n=missing,
                rest=max(rest, 0),
            ),
            act,
            "recipient-country/@percentage",
        )
    else:
        weights = list(given)
        total = sum(weights)
        if total <= 0:
            weights = [Decimal(1)] * len(found)
            ctx.warn(
                "equal_split",
                Text(
                    N_("Recipient percentages add up to %(total)s: the %(n)s recipients get equal shares"),
                    total=total,
                    n=len(found),
                ),
                act,
                "recipient-country/@percentage",
                total,
            )
        elif abs(total - 100) >= Decimal("0.0001"):  # a difference a stored share (4 decimals) can show
            ctx.warn(
                "percentages_rescaled",
                Text(
                    N_(
                        "Recipient percentages add up to %(total)s, not 100: each is divided by %(total)s "
                        "(every recipient keeps its proportion, the unallocated included)"
                    ),
                    total=total,
                ),
                act,
                "recipient-country/@percentage",
                total,
            )
    total = sum(weights)
    for entry, weight in zip(found, weights, strict=True):
        if entry.why and weight > 0:
            effective = weight * 100 / total
            of_activity = f"{effective.quantize(Decimal('0.0001')).normalize():f}"
            if entry.percentage is None:
                message = N_(
                    "%(why)s: its share (%(effective)s %% of the activity) of the activity's flows (%(money)s) "
                    "stays unallocated, not handed to the other recipients"
                )
            elif effective != entry.percentage:
                message = N_(
                    "%(why)s: %(percentage)s %% (%(effective)s %% of the activity) of the activity's flows "
                    "(%(money)s) stays unallocated, not handed to the other recipients"
                )
            else:
                message = N_(
                    "%(why)s: %(percentage)s %% of the activity's flows (%(money)s) stays unallocated, not "
                    "handed to the other recipients"
                )
            ctx.warn(
                "unallocated_recipient",
                Text(
                    message,
                    why=entry.why,
                    percentage=str(entry.percentage),
                    effective=of_activity,
                    money=money_text(loose, effective),
                ),
                entry.elem,
                f"{entry.elem.tag}/@code",
                entry.label,
            )
    # One row per place: several codes may name one M49 region, and every code the
    # registry cannot place is the one unallocated row.
    merged: dict[Place, Decimal] = {}
    for entry, weight in zip(found, weights, strict=True):
        merged[entry.place] = merged.get(entry.place, Decimal(0)) + weight
    keep = [(p, w) for p, w in merged.items() if w > 0] or [(p, Decimal(1)) for p in merged]
    shares = relative_shares([w for _, w in keep])
    if shares is None:
        shares = shares_from_weights([w for _, w in keep])
    else:
        # Kept as the file gives them; each recipient's part is its share divided by their sum.
        record.relative.add("recipients")
    record.recipients = [
        RecipientRecord(country=p.country, region=p.region, share=s)
        for (p, _), s in zip(keep, shares, strict=True)
        if s > 0
    ]


def relative_shares(weights: list[Decimal]) -> list[Decimal] | None:
    """Percentages that do not add up to 100, kept as they are (to the 4 decimals a share
    holds) when that keeps every recipient's proportion exactly: the registry divides a
    project's shares by their sum, so 100 + 20 stays five sixths and one sixth to the cent,
    where shares scaled to 100 (83.3333 + 16.6667) would not. None when the weights add up to
    100, or when 4 decimals cannot keep their proportions (then they are scaled to 100)."""
    total = sum(weights)
    if total == 100 or total <= 0 or any(w <= 0 or w > 100 for w in weights):
        return None
    if len(set(weights)) == 1:  # equal shares (none given, or all alike): equal to the last decimal
        share = (Decimal(100) / len(weights)).quantize(Decimal("0.0001"))
        return [share] * len(weights) if share > 0 else None
    kept = [w.quantize(Decimal("0.0001")) for w in weights]
    if any(k <= 0 for k in kept):
        return None
    kept_total = sum(kept)
    if any(k * total != w * kept_total for k, w in zip(kept, weights, strict=True)):
        return None
    return kept


def money_text(flows: list[TransactionRecord], percentage: Decimal | None = None) -> str:
    """The money of ``flows`` (times ``percentage`` %) by type and currency, for a warning."""
    totals: dict[tuple[str, str], Decimal] = {}
    for t in flows:
        totals[(t.type, t.currency)] = totals.get((t.type, t.currency), Decimal(0)) + t.amount
    if percentage is not None:
        totals = {k: v * percentage / 100 for k, v in totals.items()}
    parts = [f"{kind.replace('_', ' ')} {money.quantize(v, cur):,} {cur}" for (kind, cur), v in totals.items()]
    return "; ".join(parts) or "no flows"
