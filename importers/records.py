"""The contract between readers and the import pipeline.

Every reader (spreadsheet, IATI XML, OECD CRS) turns its file into a stream of
``ProjectRecord`` objects and ``Problem`` reports; the shared pipeline
(``importers.pipeline``) validates, previews, commits all-or-nothing, and makes
re-imports idempotent. Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from registry.models.types import N_


@dataclass
class Location:
    """Where a value came from, in words a spreadsheet or XML user knows."""

    file: str = ""
    sheet: str | None = None
    row: int | None = None  # 1-based, as Excel shows it (or the XML line number)
    column: str | None = None  # the column header as written in the file (or XML path)

    def describe(self) -> str:
        """Where the value is ("f.csv, sheet 'Data', row 3, column 'Amount'"): a ``Text``, so a
        message that names it shows it in the reader's language while its own text (the logs'
        and the command line's) stays English."""
        from importers.messages import Text

        known = (bool(self.file), bool(self.sheet), self.row is not None, bool(self.column))
        template = _PLACES.get(known)
        if template is None:
            return self.file  # the file's name alone, or nothing
        params = {"file": self.file, "sheet": repr(self.sheet), "row": str(self.row), "column": repr(self.column)}
        return Text(template, **{k: v for k, v in params.items() if f"%({k})s" in template})


# Where a value is, by which of the file, the sheet, the row and the column are known: each a
# whole phrase, so that a translation puts the parts in its own order.
_PLACES = {
    (True, True, True, True): N_("%(file)s, sheet %(sheet)s, row %(row)s, column %(column)s"),
    (True, True, True, False): N_("%(file)s, sheet %(sheet)s, row %(row)s"),
    (True, True, False, True): N_("%(file)s, sheet %(sheet)s, column %(column)s"),
    (True, True, False, False): N_("%(file)s, sheet %(sheet)s"),
    (True, False, True, True): N_("%(file)s, row %(row)s, column %(column)s"),
    (True, False, True, False): N_("%(file)s, row %(row)s"),
    (True, False, False, True): N_("%(file)s, column %(column)s"),
    (False, True, True, True): N_("sheet %(sheet)s, row %(row)s, column %(column)s"),
    (False, True, True, False): N_("sheet %(sheet)s, row %(row)s"),
    (False, True, False, True): N_("sheet %(sheet)s, column %(column)s"),
    (False, True, False, False): N_("sheet %(sheet)s"),
    (False, False, True, True): N_("row %(row)s, column %(column)s"),
    (False, False, True, False): N_("row %(row)s"),
    (False, False, False, True): N_("column %(column)s"),
}


@dataclass
class Problem:
    """One finding of validation: an error rejects the file, a warning does not."""

    severity: str  # "error" or "warning"
    message: str
    location: Location = field(default_factory=Location)
    value: str | None = None
    code: str = ""  # a short machine name of the kind of problem, e.g. "unknown_country"
    # Every row the problem stands for when a reader reports several at once (location.row
    # is the first); the pipeline uses them to tell which records the problem concerns.
    rows: tuple[int, ...] = ()
    # The records the problem concerns (set by pipeline.attribute): None not yet known,
    # [] none (the file as a whole, or a row that is no record's).
    owners: list[Any] | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        """The problem as the batch keeps it; a message written as a ``Text`` also keeps its
        message id and parameters, to be shown in the reader's language (importers.messages)."""
        from importers.messages import as_stored

        return {
            "severity": self.severity,
            "code": self.code,
            "message": str(self.message),
            "file": self.location.file,
            "sheet": self.location.sheet,
            "row": self.location.row,
            "column": self.location.column,
            "value": self.value,
            **as_stored(self.message),
        }


@dataclass
class RecipientRecord:
    """A recipient and its share. Neither country nor region: the share a file gave to an
    empty or unknown recipient, kept UNALLOCATED (never handed to the other recipients)."""

    country: str | None = None  # ISO3
    region: str | None = None  # M49 code
    share: Decimal | None = None  # percent; None = derive (see pipeline rules)
    # The recipient's amount in the file (e.g. its commitments); when no share is given
    # for any recipient, shares are derived from these weights, else split evenly.
    weight: Decimal | None = None


@dataclass
class AreaRecord:
    code: str  # 23a-23l
    share: Decimal | None = None
    inferred: bool = False


@dataclass
class TransactionRecord:
    type: str  # a registry.models.types.TransactionType value (commitment, disbursement, ...)
    amount: Decimal
    currency: str
    value_date: dt.date
    funding_source: str | None = None  # reference or exact name
    provider_org: str | None = None  # reference, IATI identifier or exact name
    flow_type: str | None = None
    finance_type: str | None = None
    aid_type: str | None = None
    description: str = ""
    location: Location = field(default_factory=Location)
    # A provider the file names but the registry does not know: the flow is stored without
    # one (not with the provider implied for a flow that names none).
    provider_unknown: bool = False
    # None: current prices. "constant": the source gives the amount in constant prices (OECD
    # CRS deflated columns); stored apart from current-price flows (Transaction.price_basis).
    price_basis: str | None = None
    # A recipient given on the flow itself (IATI transaction recipient-country/-region): the
    # flow's money goes to it, whatever the project's recipient shares say.
    recipient_country: str | None = None  # ISO3
    recipient_region: str | None = None  # M49 code
    # The registry's id of the stored flow this one is (the filled template's "Flow id", as
    # written in the cell): the import updates that flow instead of adding one.
    flow_id: str | None = None
    # IATI TiedStatus code (3, 4, 5); None: the project's default_tied_status applies.
    tied_status: str | None = None


@dataclass
class PlanRecord:
    """A budget or a planned disbursement as read (its values in the names of
    ``registry.services.plans``), with where it came from."""

    period_start: dt.date
    amount: Decimal
    currency: str
    value_date: dt.date | None = None
    period_end: dt.date | None = None
    kind: str = "original"  # IATI BudgetType: original, revised
    status: str | None = None  # budgets: IATI BudgetStatus indicative, committed
    provider_ref: str | None = None
    provider_name: str | None = None
    receiver_ref: str | None = None
    receiver_name: str | None = None
    location: Location = field(default_factory=Location)

    def as_budget(self) -> dict[str, Any]:
        """The values ``registry.services.plans`` takes for a budget."""
        return {
            "kind": self.kind,
            "status": self.status,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "amount": self.amount,
            "currency": self.currency,
            "value_date": self.value_date,
        }

    def as_planned(self) -> dict[str, Any]:
        """The values ``registry.services.plans`` takes for a planned disbursement."""
        out = self.as_budget()
        del out["status"]
        for name in ("provider_ref", "provider_name", "receiver_ref", "receiver_name"):
            out[name] = getattr(self, name)
        return out


@dataclass
class ProjectRecord:
    """One project as read from a file, before it touches the registry."""

    reference: str
    title: str
    org: str | None = None  # reporting organisation (reference / IATI id); None = the batch's org
    org_name: str | None = None
    iati_identifier: str | None = None
    description: str = ""
    status: str | None = None
    planned_start: dt.date | None = None
    planned_end: dt.date | None = None
    actual_start: dt.date | None = None
    actual_end: dt.date | None = None
    need_amount: Decimal | None = None
    need_currency: str | None = None
    recipients: list[RecipientRecord] = field(default_factory=list)
    areas: list[AreaRecord] = field(default_factory=list)
    sectors: list[str] = field(default_factory=list)
    wsis_action_lines: list[str] = field(default_factory=list)
    # IATI TiedStatus code of the flows that give none (IATI default-tied-status); None: unknown.
    default_tied_status: str | None = None
    # IATI CollaborationType code (8: bilateral, triangular co-operation); None: not given.
    collaboration_type: str | None = None
    # The organisations funding the activity (IATI participating-org role 1) besides its
    # provider, "type|ref" a line (registry.services.direction.partners_text).
    funding_partners: str = ""
    # Geographic scope (registry.models.scope; IATI activity-scope); None: derived from the recipients.
    scope: str | None = None
    # Cross-border infrastructure kind (ixp, backbone, ...); None: not said.
    infrastructure: str | None = None
    transactions: list[TransactionRecord] = field(default_factory=list)
    location: Location = field(default_factory=Location)
    # field name -> the column header (or XML path) it came from, to name it in problems
    columns: dict[str, str] = field(default_factory=dict)
    # Lists the reader could not read in full ("recipients", "areas": an unknown country, a
    # bad share), their problems reported already: the pipeline checks what is left of them
    # but not that their shares add up to 100 (a dropped entry would make that a false alarm).
    incomplete: set[str] = field(default_factory=set)
    # Lists whose shares are relative weights, as the file gives them ("recipients": IATI
    # percentages that do not add up to 100): each part is its share divided by their sum,
    # as the reports divide them, so no sum to 100 is asked of them.
    relative: set[str] = field(default_factory=set)
    # Other identifiers of the activity (IATI other-identifier), each "TYPE:REF" (e.g.
    # "A1:P-0007"): aliases kept on the project. None: the file carries none, the stored
    # ones stay.
    other_identifiers: list[str] | None = None
    # Forward plans (IATI budget and planned-disbursement; a sheet's "Planned <year>" columns).
    # None: the file gives none, the stored ones stay; a list (even empty) replaces them.
    budgets: list[PlanRecord] | None = None
    planned_disbursements: list[PlanRecord] | None = None
    # The calendar years a sheet's "Planned <year>" cells state for the project: only the
    # planned disbursements within those years are replaced (a year given only zeros plans
    # nothing); None: the planned disbursements above replace all of the stored ones.
    plan_years: set[int] | None = None
    # (sheet, row) of every row of the file read into this record, when the reader knows them
    # beyond the record's own location and its transactions' (a row whose amount was refused).
    rows: list[tuple[str | None, int]] = field(default_factory=list)
