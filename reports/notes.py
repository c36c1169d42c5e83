"""A report's notes: each is its English text (the JSON's ``notes``, the command line) with a
kind and the parameters it is said from, so that a page, an export or an API answer says it in
the reader's language.

``Note("need_year")`` is the note of that kind in English; :func:`shown` says a note in the
reader's language (the English text itself for a reader of English, and for a plain string).
Each kind is worded once, in :data:`WORDINGS`, through a speaker: the English one (the note's
own text) or the reader's (the catalogue, the reader's numbers and amounts).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import flask_babel

from registry import i18n, money
from registry.models.types import N_, TransactionType, label
from registry.services.shares import UNALLOCATED_AREA


class _English:
    """Says a note as its English text: the messages as written, amounts as money.format_amount."""

    english = True

    @staticmethod
    def gettext(message: str, **params: Any) -> str:
        return message % params if params else message

    @staticmethod
    def ngettext(singular: str, plural: str, num: int, **params: Any) -> str:
        return (singular if num == 1 else plural) % {"num": num, **params}

    @staticmethod
    def money(amount: Decimal, currency: str) -> str:
        return money.format_amount(amount, currency)

    @staticmethod
    def type_name(kind: TransactionType) -> str:
        return kind.value.replace("_", " ")


class _Reader:
    """Says a note in the reader's language."""

    english = False
    gettext = staticmethod(flask_babel.gettext)
    ngettext = staticmethod(flask_babel.ngettext)

    @staticmethod
    def money(amount: Decimal, currency: str) -> str:
        return i18n.money(amount, currency)

    @staticmethod
    def type_name(kind: TransactionType) -> str:
        return label(kind.value).lower()


ENGLISH, READER = _English(), _Reader()


class Note(str):
    """A note's English text, with its kind and parameters (see the module docstring)."""

    kind: str
    params: dict

    def __new__(cls, kind: str, **params: Any) -> Note:
        note = super().__new__(cls, WORDINGS[kind](ENGLISH, **params))
        note.kind, note.params = kind, params
        return note

    def __reduce__(self):
        return (_note, (self.kind, self.params))

    def said(self) -> str:
        """The note in the reader's language."""
        return WORDINGS[self.kind](READER, **self.params)


def _note(kind: str, params: dict) -> Note:
    return Note(kind, **params)


def kind(note: str) -> str | None:
    return getattr(note, "kind", None)


def shown(note: str) -> str:
    """A note in the reader's language (the English text for a reader of English)."""
    if not isinstance(note, Note) or i18n.current_language() == "en":
        return str(note)
    return note.said()


# -- the wordings ---------------------------------------------------------------------

# The plural nouns of the measures as the conversion notes name them ("commitments 12.00 USD").
PLURAL = {
    "need": N_("needs"),
    "pledge": N_("pledges"),
    "commitment": N_("commitments"),
    "disbursement": N_("disbursements"),
    "expenditure": N_("expenditure"),
}
# registry.money.RATE_SOURCE, for the catalogue
N_(
    "European Central Bank daily reference rate (or legal euro parity, or IMF annual average where the ECB publishes no rate)"  # noqa: E501
)


def _fixed(message: str) -> Callable[..., str]:
    return lambda s: s.gettext(message)


def _measure_amount(s, measure: str, amount: str, currency: str) -> str:
    return s.gettext(
        "%(measure)s %(amount)s", measure=s.gettext(PLURAL[measure]), amount=s.money(Decimal(amount), currency)
    )


def _beyond_one_cent(s, count: int, cells: str) -> str:
    return s.ngettext(
        "%(num)d cell(s) of this cross-tab differ from their exact value by one cent or more (less than two), "
        "because the rows' and the columns' own roundings could not both be met otherwise: %(cells)s.",
        "%(num)d cell(s) of this cross-tab differ from their exact value by one cent or more (less than two), "
        "because the rows' and the columns' own roundings could not both be met otherwise: %(cells)s.",
        count,
        cells=cells,
    )


def _recipients(s) -> str:
    from reports.keys import GLOBAL, UNALLOCATED_RECIPIENT

    return s.gettext(
        "A flow that names its own recipient country or region counts wholly for it; other flows are "
        "spread over their project's recipient shares. Flows to a region appear as '%(regional)s', "
        "the share a source gave to no or an unknown recipient as '%(unallocated)s' (never "
        "handed to the other recipients), projects without any recipient as '%(global)s', and "
        "projects without a priority area as '%(no_area)s'.",
        regional=s.gettext("Regional: %(region)s", region=s.gettext("<region>")),
        unallocated=s.gettext(UNALLOCATED_RECIPIENT),
        **{"global": s.gettext(GLOBAL)},
        no_area=s.gettext(UNALLOCATED_AREA),
    )


def _transaction_types(s) -> str:
    from reports.dimensions import FLOW_TYPES
    from reports.flow_sums import EXCLUDED_TYPES

    names = {
        TransactionType.PLEDGE: s.gettext("pledges: type 12 (outgoing pledge)"),
        TransactionType.COMMITMENT: s.gettext("commitments: 2 (outgoing commitment)"),
        TransactionType.DISBURSEMENT: s.gettext("disbursements: 3"),
        TransactionType.EXPENDITURE: s.gettext("expenditure: 4"),
    }
    counted = "; ".join(names[t] for t in FLOW_TYPES)
    left = ", ".join(f"{t.iati_code} {s.type_name(t)}" for t in sorted(EXCLUDED_TYPES, key=lambda t: int(t.iati_code)))
    return s.gettext(
        "IATI transaction types counted: %(counted)s. No measure counts the other types (%(left)s).",
        counted=counted,
        left=left,
    )


def _stale_rates(s, count: int) -> str:
    return s.ngettext(
        "%(num)d currency/date pairs fall after the last published rate or in a gap of the rate history; "
        "the last earlier rate was used for them.",
        "%(num)d currency/date pairs fall after the last published rate or in a gap of the rate history; "
        "the last earlier rate was used for them.",
        count,
    )


def _euro_parities(s, parities: list) -> str:
    listed = ", ".join(s.gettext("%(currency)s %(rate)s per EUR", currency=code, rate=rate) for code, rate in parities)
    return s.gettext(
        "Currencies fixed to the euro are converted through their legal parity (%(parities)s).", parities=listed
    )


def _unconfirmed(s, count: int, included: bool, amounts: list, currency: str) -> str:
    from reports.dimensions import measure

    parts = [
        s.gettext(
            "%(measure)s %(currency)s %(amount)s",
            measure=s.gettext(measure(m).label).lower(),
            currency=currency,
            amount=a,
        )
        for m, a in amounts
    ]
    shown_ = "; ".join(parts) or s.gettext("nothing in the rows shown")
    if included:
        return s.ngettext(
            "These figures include %(num)d unconfirmed flows (%(amounts)s): flows a donor recorded against another "
            "organisation's funding source, not yet confirmed by that organisation; confirmed=only leaves them out.",
            "These figures include %(num)d unconfirmed flows (%(amounts)s): flows a donor recorded against another "
            "organisation's funding source, not yet confirmed by that organisation; confirmed=only leaves them out.",
            count,
            amounts=shown_,
        )
    return s.ngettext(
        "These figures leave out %(num)d unconfirmed flows (%(amounts)s): flows a donor recorded against another "
        "organisation's funding source, not yet confirmed by that organisation; confirmed=all includes them.",
        "These figures leave out %(num)d unconfirmed flows (%(amounts)s): flows a donor recorded against another "
        "organisation's funding source, not yet confirmed by that organisation; confirmed=all includes them.",
        count,
        amounts=shown_,
    )


def _rates(s, currency: str, first: str | None = None, last: str | None = None) -> str:
    source = money.RATE_SOURCE if s.english else s.gettext(money.RATE_SOURCE)
    if currency == "USD":
        return s.gettext(
            "USD values of each flow at the %(source)s of its value date, as recorded with the flow.", source=source
        )
    if first is None:
        return s.gettext(
            "Converted from each flow's original currency to %(currency)s at the %(source)s of its value date, "
            "per project, day and currency, rounded half-even.",
            currency=currency,
            source=source,
        )
    return s.gettext(
        "Converted from each flow's original currency to %(currency)s at the %(source)s of its value date "
        "(rate dates %(first)s to %(last)s), per project, day and currency, rounded half-even.",
        currency=currency,
        source=source,
        first=first,
        last=last,
    )


def _annual_rates(s, parts: list, currency: str) -> str:
    """``parts``: (measure, amount, share of the figure or None) of each measure with an amount."""
    said = []
    for measure, amount, share in parts:
        text = _measure_amount(s, measure, amount, currency)
        if share is not None:
            percent = Decimal(share) * 100
            # A non-zero amount is never "0.0 %" of the figure: that reads as none.
            if percent >= Decimal("0.05"):
                shown_ = f"{percent:.1f} %" if s.english else i18n.number(percent, 1) + " %"
                text = s.gettext("%(amount)s (%(share)s of the figure)", amount=text, share=shown_)
            else:
                text = s.gettext("%(amount)s (less than 0.1 %% of the figure)", amount=text)
        said.append(text)
    return s.gettext(
        "Converted at IMF annual average rates (a currency the ECB does not publish, or a date before its daily "
        "rates): %(amounts)s. Every other amount at ECB daily rates or legal euro parities.",
        amounts="; ".join(said),
    )


def _unconverted(s, entries: list) -> str:
    flows = sum(e["flows"] for e in entries)
    parts = []
    for e in entries:
        by = ", ".join(_measure_amount(s, m, v, e["currency"]) for m, v in e["by_measure"].items())
        parts.append(
            s.ngettext(
                "%(amount)s (%(num)d flow: %(measures)s)",
                "%(amount)s (%(num)d flows: %(measures)s)",
                e["flows"],
                amount=s.money(Decimal(e["amount"]), e["currency"]),
                measures=by,
            )
        )
    return s.ngettext(
        "Not converted, so not in the figures: %(num)d flow kept in its own currency because no exchange rate "
        "covers its currency and date: %(amounts)s.",
        "Not converted, so not in the figures: %(num)d flows kept in their own currency because no exchange rate "
        "covers their currency and date: %(amounts)s.",
        flows,
        amounts="; ".join(parts),
    )


def _unconverted_needs(s, entries: list) -> str:
    count = sum(e["flows"] for e in entries)
    parts = [f"{s.money(Decimal(e['amount']), e['currency'])} ({e['flows']})" for e in entries]
    return s.ngettext(
        "Needs not converted, so not in the need, gap and coverage figures: %(num)d project whose need no "
        "exchange rate covers on its date: %(amounts)s.",
        "Needs not converted, so not in the need, gap and coverage figures: %(num)d projects whose need no "
        "exchange rate covers on its date: %(amounts)s.",
        count,
        amounts="; ".join(parts),
    )


def _constant_prices(s, found: dict) -> str:
    flows = sum(v["flows"] for v in found.values())
    parts = ", ".join(
        s.gettext("%(measure_amount)s (constant USD)", measure_amount=_measure_amount(s, m, v["amount"], "USD"))
        for m, v in found.items()
    )
    return s.ngettext(
        "Not in the figures: %(num)d flow recorded at constant prices (OECD CRS deflated amounts, kept apart from "
        "current prices and never added to them): %(amounts)s.",
        "Not in the figures: %(num)d flows recorded at constant prices (OECD CRS deflated amounts, kept apart from "
        "current prices and never added to them): %(amounts)s.",
        flows,
        amounts=parts,
    )


WORDINGS: dict[str, Callable[..., str]] = {
    "categories_overlap": _fixed(
        N_(
            "Recipient categories overlap (a country can be LDC and SIDS at once), so category rows do not add up "
            "to the total; a flow counts in a category when its country belonged to it on the flow's value date "
            "(need: on the project's need date)."
        )
    ),
    "categories_cross": _fixed(
        N_(
            "Each category's cells add up exactly to the category's own figure (the report by category alone) and "
            "each cell is within one cent of its exact value."
        )
    ),
    "action_lines_overlap": _fixed(
        N_(
            "WSIS action lines carry no shares: a project tagged with several action lines counts in full in each "
            "of them, so the action-line rows do not add up to the total, which counts every project once. "
            "Projects tagged with none are under Not recorded."
        )
    ),
    "action_lines_cross": _fixed(
        N_(
            "Each action line's cells add up exactly to the action line's own figure (the report by action line "
            "alone) and each cell is within one cent of its exact value."
        )
    ),
    "cross_rounding": _fixed(
        N_(
            "Amounts are multiplied by the country share and the priority-area share of their project; cells are "
            "rounded so that each row and each column adds up exactly to the report by that dimension alone, and "
            "all to the total (controlled rounding); each cell is within one cent of its exact value unless a note "
            "below says otherwise."
        )
    ),
    "rounding": _fixed(
        N_(
            "Amounts are multiplied by the country share and the priority-area share of their project; rows add up "
            "exactly to the total and each row is within one cent of its exact value."
        )
    ),
    "beyond_one_cent": _beyond_one_cent,
    "recipients": _recipients,
    "transaction_types": _transaction_types,
    "projects_counted": _fixed(
        N_("Projects are counted once per row; a project spread over several rows appears in each.")
    ),
    "negative_gap": _fixed(
        N_(
            "A negative funding gap means more was committed than the need stated: projects funded beyond their "
            "need, or with no need recorded (their commitments still count against the total need). Gaps are not "
            "floored at zero, so that rows add up to the total."
        )
    ),
    "need_year": _fixed(N_("The need of a project is counted in the year of its need date.")),
    "need_not_attributed": _fixed(
        N_(
            "Need, funding gap and coverage are recorded per project, so they are not shown by donor, funding "
            "source, source kind, finance type or flow type."
        )
    ),
    "stale_rates": _stale_rates,
    "euro_parities": _euro_parities,
    "unconfirmed": _unconfirmed,
    "rates": _rates,
    "annual_rates": _annual_rates,
    "unconverted": _unconverted,
    "unconverted_needs": _unconverted_needs,
    "constant_prices": _constant_prices,
}
