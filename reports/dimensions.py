"""Every report dimension and measure, declared once.

A dimension says what a report's rows can be grouped by: its key (the parameter value,
``by=donor``), its label, its meaning (both shown in the OpenAPI document, the pages and
the workbooks), and where its value comes from:

- ``Level.FLOW``: an attribute of a transaction (year, donor, finance type...), grouped by
  the database in stage one. ``sql`` is its expression over ``transactions`` (joined to
  ``funding_sources`` when ``joins_source``); ``fact`` names the column of the report facts
  (``report_flow_facts``) that keeps it. A flow-level dimension without a fact column is
  still reported in full: its reports read the transactions instead of the facts, so a new
  one needs only its entry here (and, for the speed of the facts, a fact column, its
  migration and the facts refresh).
- ``Level.RECIPIENT`` and ``Level.AREA``: where a project's money goes, by the shares of its
  recipients (countries, regions and what a country belongs to) and of its priority areas,
  weighted in stage two (``reports.keys`` and ``reports.cells_sql``).
- ``Level.TAG``: a label a project carries without shares (its WSIS action lines, its scope):
  the project's whole money sits in the row of each of its tags, so the rows of a tag with
  several values per project overlap and do not add up to the total (like recipient
  categories; ``OVERLAPPING``); a project has one scope, so its rows add up.
- ``Level.PROJECT``: the project itself (the workbook's list of projects; not a parameter).

Labels: ``names`` reads (reference, name) of the ids a dimension holds (donor, funding
source, project); ``codes`` gives the code list a code is labelled from.

A measure says what a report's cells hold: which of the five sums per project it is made
of (pledge, commitment, disbursement, expenditure, need; ``sums``), whether it counts a
transaction type, and whether it is a difference of two other measures (the gap).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask_babel import gettext
from sqlalchemy import cast, extract
from sqlalchemy.sql import ColumnElement

from registry.extensions import db
from registry.i18n import current_language
from registry.models import FundingSource, Organisation, Project, Transaction
from registry.models.scope import SCOPE_LABELS
from registry.models.types import N_, WSIS_ACTION_LINES, SourceKind, TransactionType, label
from registry.reference_names import area_name, category_name, country_name, income_group_name
from registry.services import direction, reference

if TYPE_CHECKING:
    from reports.queries import Reference


class Level(enum.StrEnum):
    """Where a dimension's value comes from (see the module docstring)."""

    FLOW = "flow"
    RECIPIENT = "recipient"
    AREA = "area"
    TAG = "tag"
    PROJECT = "project"


def _plain(value: Any) -> Any:
    return value


def _int(value: Any) -> int:
    return int(value)


def _enum_value(value: Any) -> str:
    return str(getattr(value, "value", value))


INCOME_GROUPS = reference.income_groups()  # code -> label, from registry/data/income_groups.csv


@dataclass(frozen=True)
class Dimension:
    """One way to group a report's rows (see the module docstring)."""

    key: str
    label: str
    meaning: str
    level: Level
    # flow level: the expression over the transactions, the report facts' column keeping it
    sql: Callable[[], ColumnElement] | None = None
    fact: str | None = None
    joins_source: bool = False  # sql (and the facts' value) read funding_sources.kind
    in_project_facts: bool = False  # report_project_facts (the coarse facts) keep it too
    carries_need: bool = False  # a project's need can be put under it (year: of the need date)
    decode: Callable[[Any], Any] = _plain  # the database's value as the report shows it
    # labels: ids named by (reference, name) of a model, or codes from a code list
    names: Callable[[], tuple] | None = None  # (id column, reference column, name column)
    sort_by_name: bool = False  # rows in the order of their names, not of their ids
    codes: Callable[[Reference], Mapping[str, str]] | None = None
    code_in_label: bool = False  # "23b Connectivity" rather than "Connectivity"
    public: bool = True  # a report parameter (``project`` is only the workbook's)

    def flow_level(self) -> bool:
        return self.level is Level.FLOW

    def fact_column(self, model) -> ColumnElement:
        """Its value in a report facts table (``model``), which keeps it (``fact``)."""
        if self.joins_source:
            return self.sql()
        return getattr(model, self.fact)

    def labeller(self, ref: Reference, names: Mapping) -> Callable[[Any], str]:
        """value -> label of a row (``names``: queries.labels_for of the values shown)."""
        if self.names is not None:

            def by_name(value: Any) -> str:
                found = names.get(value)
                return f"{found[1]} ({found[0]})" if found else str(value)

            return by_name
        if self.codes is not None:
            codes = self.codes(ref)
            if self.code_in_label:
                return lambda value: f"{value} {codes[value]}" if value in codes else str(value)
            return lambda value: codes.get(value, str(value))
        return str


_DIMENSIONS: dict[str, Dimension] = {}


def register(dimension: Dimension) -> Dimension:
    """Add a dimension: the schema, the OpenAPI document, the pages and the engine take it up."""
    if dimension.key in _DIMENSIONS:
        raise ValueError(f"dimension {dimension.key!r} is declared twice")
    if dimension.flow_level() and dimension.sql is None:
        raise ValueError(f"flow-level dimension {dimension.key!r} needs its SQL expression")
    _DIMENSIONS[dimension.key] = dimension
    return dimension


def unregister(key: str) -> None:
    """Remove a dimension (a test's own)."""
    _DIMENSIONS.pop(key, None)


def get(key: str) -> Dimension:
    return _DIMENSIONS[key]


def find(key: str) -> Dimension | None:
    return _DIMENSIONS.get(key)


def public() -> list[Dimension]:
    """The dimensions a report can be asked for, in declaration order."""
    return [d for d in _DIMENSIONS.values() if d.public]


def is_flow_level(key: str) -> bool:
    found = _DIMENSIONS.get(key)
    return found is not None and found.flow_level()


def flow_level(keys) -> list[str]:
    """The flow-level dimensions among ``keys``, in their order."""
    return [k for k in keys if is_flow_level(k)]


def need_carried(keys) -> bool:
    """Whether need (a project attribute) can be shown with these flow-level dimensions."""
    return all(get(k).carries_need for k in flow_level(keys))


class Labels(Mapping):
    """key -> label of the public entries of a registry, always current (a live view)."""

    def __init__(self, entries: dict, keep: Callable[[Any], bool]):
        self._entries = entries
        self._keep = keep

    def __getitem__(self, key: str) -> str:
        entry = self._entries[key]
        if not self._keep(entry):
            raise KeyError(key)
        return entry.label

    def __iter__(self) -> Iterator[str]:
        return (k for k, e in self._entries.items() if self._keep(e))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class FlowLevelKeys:
    """The keys of the flow-level dimensions, always current (``"year" in FLOW_LEVEL``)."""

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and is_flow_level(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, d in _DIMENSIONS.items() if d.flow_level())


DIMENSION_LABELS = Labels(_DIMENSIONS, lambda d: d.public)


def dimension_name(key: str) -> str:
    """A dimension's label in the reader's language (``Region``, ``Région``); its key when unknown.

    The labels of ``DIMENSION_LABELS`` stay English: the OpenAPI document and the command
    line read them; people read these."""
    found = _DIMENSIONS.get(key)
    return gettext(found.label) if found is not None else key


def dimension_names() -> dict[str, str]:
    """key -> label in the reader's language of every public dimension, in declaration order."""
    return {d.key: gettext(d.label) for d in public()}


FLOW_LEVEL = FlowLevelKeys()

# The dimensions whose rows overlap: a flow counts in full in each row it belongs to (a country
# in several recipient categories, a project with several WSIS action lines), so the rows do not
# add up to the total, which counts every flow once.
OVERLAPPING = ("category", "action_line")


def overlaps(dims) -> bool:
    """Whether a report by ``dims`` has overlapping rows (see OVERLAPPING)."""
    return any(d in OVERLAPPING for d in dims)


# The code lists rows are labelled from, in the reader's language: the registry's own names
# for a reader of English (CLDR words some countries otherwise) and where the catalogue or CLDR
# has none.


def in_english() -> bool:
    return current_language() == "en"


def _country_names(ref: Reference) -> dict[str, str]:
    if in_english():
        return {iso3: row[0] for iso3, row in ref.countries.items()}
    return {iso3: country_name(ref.iso2.get(iso3), row[0]) for iso3, row in ref.countries.items()}


def _category_names(ref: Reference) -> dict[str, str]:
    if in_english():
        return dict(ref.categories)
    return {code: category_name(code, name) for code, name in ref.categories.items()}


def _income_group_names(ref: Reference) -> dict[str, str]:
    if in_english():
        return dict(INCOME_GROUPS)
    return {code: income_group_name(code, name) for code, name in INCOME_GROUPS.items()}


def _area_names(ref: Reference) -> dict[str, str]:
    if in_english():
        return dict(ref.areas)
    return {code: area_name(code, name) for code, name in ref.areas.items()}


def _scope_names(ref: Reference) -> dict[str, str]:
    return {code: gettext(text) for code, text in SCOPE_LABELS.items()}


def _action_line_names(ref: Reference) -> dict[str, str]:
    return {code: gettext(text) for code, text in WSIS_ACTION_LINES.items()}


for _dimension in (
    Dimension("region", N_("Region"), "M49 region (continent) of the recipient country", Level.RECIPIENT),
    Dimension("subregion", N_("Sub-region"), "M49 sub-region of the recipient country", Level.RECIPIENT),
    Dimension("country", N_("Country"), "recipient country (ISO 3166 alpha-3)", Level.RECIPIENT, codes=_country_names),
    Dimension(
        "category",
        N_("Recipient category"),
        "recipient category the country belonged to on the flow's value date (LDC, SIDS...; rows overlap)",
        Level.RECIPIENT,
        codes=_category_names,
        code_in_label=True,
    ),
    Dimension(
        "income_group",
        N_("DAC income group"),
        "OECD DAC income group of the recipient country",
        Level.RECIPIENT,
        codes=_income_group_names,
    ),
    Dimension(
        "priority_area",
        N_("Priority area"),
        "priority area of the project (paragraph 23, 23a-23l), by its area shares",
        Level.AREA,
        codes=_area_names,
        code_in_label=True,
    ),
    Dimension(
        "action_line",
        N_("WSIS action line"),
        "WSIS action line of the project (C1-C11); a project with several counts in full in each, so the "
        "rows overlap and do not add up to the total",
        Level.TAG,
        codes=_action_line_names,
        code_in_label=True,
    ),
    Dimension(
        "scope",
        N_("Scope"),
        "geographic scope of the project: national, multi_country, regional or global, as stated, else derived "
        "from its recipients (one country national, several multi-country, a region regional); each project sits "
        "in one row, so the rows add up to the total, and crossed with a country its money is still split by its "
        "country shares",
        Level.TAG,
        codes=_scope_names,
    ),
    Dimension(
        "funding_source",
        N_("Funding source"),
        "funding source the flow is recorded against",
        Level.FLOW,
        sql=lambda: Transaction.funding_source_id,
        fact="funding_source_id",
        names=lambda: (FundingSource.id, FundingSource.ref, FundingSource.name),
        sort_by_name=True,
    ),
    Dimension(
        "source_kind",
        N_("Funding source kind"),
        "kind of the flow's funding source (bilateral ODA, multilateral...)",
        Level.FLOW,
        sql=lambda: FundingSource.kind,
        joins_source=True,
        decode=_enum_value,
        codes=lambda ref: {k.value: label(k.value) for k in SourceKind},
    ),
    Dimension(
        "donor",
        N_("Donor organisation"),
        "organisation providing the flow",
        Level.FLOW,
        sql=lambda: Transaction.provider_org_id,
        fact="provider_org_id",
        names=lambda: (Organisation.id, Organisation.ref, Organisation.name),
        sort_by_name=True,
    ),
    Dimension(
        "direction",
        N_("Flow direction"),
        "North-South, South-South, triangular or multilateral: from the provider's country and its DAC "
        "membership on the flow's value date, the provider's kind, the activity's IATI collaboration type and "
        "funding partners, or the project's direction set by hand; unknown (no provider country) is its own row",
        Level.FLOW,
        sql=direction.direction_expression,
        fact="direction",
        codes=lambda ref: {value: direction.label(value) for value in direction.VALUES},
    ),
    Dimension(
        "finance_type",
        N_("Finance type"),
        "IATI finance type of the flow (110 grant, 410 loan...)",
        Level.FLOW,
        sql=lambda: Transaction.finance_type,
        fact="finance_type",
    ),
    Dimension(
        "flow_type",
        N_("Flow type"),
        "IATI flow type of the flow (10 ODA, 30 private...)",
        Level.FLOW,
        sql=lambda: Transaction.flow_type,
        fact="flow_type",
    ),
    Dimension(
        "year",
        N_("Year"),
        "year of the flow's value date (need: of the project's need date)",
        Level.FLOW,
        sql=lambda: cast(extract("year", Transaction.value_date), db.Integer),
        fact="year",
        in_project_facts=True,
        carries_need=True,
        decode=_int,
    ),
    Dimension(
        "project",
        N_("Project"),
        "the project itself",
        Level.PROJECT,
        decode=_int,
        names=lambda: (Project.id, Project.reference, Project.title),
        public=False,
    ),
):
    register(_dimension)


# -- measures ---------------------------------------------------------------------------

SUMS = ("pledge", "commitment", "disbursement", "expenditure", "need")  # the five sums per project


@dataclass(frozen=True)
class Measure:
    """One figure of a report's cells (see the module docstring)."""

    key: str
    label: str
    meaning: str
    sums: tuple[int, ...]  # indexes in SUMS of the sums it is computed from
    kind: str = "amount"  # amount (money), ratio, or count
    transaction_type: TransactionType | None = None  # the flows it sums
    from_need: bool = False  # shown only where need can be (not by donor, source...)
    difference: tuple[str, str] | None = None  # (plus, minus): the measure is their difference


_MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure(
            "pledge",
            N_("Pledges"),
            N_("Promises not yet committed (IATI transaction type 12, outgoing pledge), share-weighted."),
            (0,),
            transaction_type=TransactionType.PLEDGE,
        ),
        Measure(
            "commitment",
            N_("Commitments"),
            N_("Firm obligations to provide an amount (IATI type 2, outgoing commitment), share-weighted."),
            (1,),
            transaction_type=TransactionType.COMMITMENT,
        ),
        Measure(
            "disbursement",
            N_("Disbursements"),
            N_("Money actually paid out (IATI type 3), share-weighted."),
            (2,),
            transaction_type=TransactionType.DISBURSEMENT,
        ),
        Measure(
            "expenditure",
            N_("Expenditure"),
            N_("Money spent by the implementer (IATI type 4), share-weighted."),
            (3,),
            transaction_type=TransactionType.EXPENDITURE,
        ),
        Measure(
            "need",
            N_("Need"),
            N_(
                "The project's total cost or stated requirement, converted at the rate of its need date, "
                "share-weighted."
            ),
            (4,),
            from_need=True,
        ),
        Measure(
            "gap",
            N_("Funding gap"),
            N_("Funding gap: need minus commitments."),
            (1, 4),
            from_need=True,
            difference=("need", "commitment"),
        ),
        Measure(
            "coverage",
            N_("Coverage"),
            N_("Commitments divided by need (1 = fully covered); empty where there is no need."),
            (1, 4),
            kind="ratio",
            from_need=True,
        ),
        Measure(
            "undisbursed",
            N_("Undisbursed balance"),
            N_("Undisbursed balance: commitments minus disbursements."),
            (1, 2),
            difference=("commitment", "disbursement"),
        ),
        Measure(
            "projects",
            N_("Projects"),
            N_("Number of distinct projects with a flow or a need in the row (a project can be in several rows)."),
            (),
            kind="count",
        ),
    )
}


def measure(key: str) -> Measure:
    return _MEASURES[key]


def measures() -> list[Measure]:
    return list(_MEASURES.values())


MEASURE_LABELS = Labels(_MEASURES, lambda m: True)


def measure_name(key: str) -> str:
    """A measure's label in the reader's language (``Commitments``, ``Engagements``)."""
    found = _MEASURES.get(key)
    return gettext(found.label) if found is not None else key


def measure_definition(key: str) -> str:
    """A measure's meaning in the reader's language (the workbooks' definitions)."""
    return gettext(_MEASURES[key].meaning)


DEFINITIONS: dict[str, str] = {m.key: m.meaning for m in _MEASURES.values()}
AMOUNT_MEASURES = tuple(m.key for m in _MEASURES.values() if m.kind == "amount")
NEED_MEASURES = tuple(m.key for m in _MEASURES.values() if m.from_need)
FLOW_MEASURES = tuple(m.key for m in _MEASURES.values() if m.transaction_type is not None)
DIFFERENCES = tuple((m.key, *m.difference) for m in _MEASURES.values() if m.difference)
RAW_AMOUNTS: dict[str, tuple[int, ...]] = {m.key: m.sums for m in _MEASURES.values()}
GAP_MEASURES = ("need", "commitment", "gap", "coverage", "disbursement", "undisbursed", "projects")

# The transaction types a report sums, in the order of the measure vectors.
FLOW_TYPES: tuple[TransactionType, ...] = tuple(_MEASURES[k].transaction_type for k in FLOW_MEASURES)
