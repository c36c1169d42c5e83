"""What a report is asked for: the validated parameters (a ``ReportSpec``) and what follows from them.

Raw parameters (API query string, page form, command line) become a spec only through
``reports.schemas``; the engine reads only specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.models import Organisation
from reports import dimensions, queries
from reports.dimensions import MEASURE_LABELS
from reports.flow_sums import TxFilter
from reports.notes import Note

# Report parameter ``confirmed``: "all" (the default: no money leaves a report unsaid; the
# meta and a note say how much of it is unconfirmed) or "only" (confirmed flows alone).
CONFIRMED = ("all", "only")
NEED_NOT_ATTRIBUTED = Note("need_not_attributed")


@dataclass
class ReportSpec:
    """What to report: dimensions, measures, filters and currency (validated)."""

    dimensions: list[str] = field(default_factory=lambda: ["region"])
    measures: list[str] = field(default_factory=lambda: list(MEASURE_LABELS))
    currency: str = "USD"
    year_from: int | None = None
    year_to: int | None = None
    regions: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    areas: list[str] = field(default_factory=list)
    source_kinds: list[str] = field(default_factory=list)
    donors: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    action_lines: list[str] = field(default_factory=list)  # WSIS action lines (C1-C11): projects tagged with any
    scopes: list[str] = field(default_factory=list)  # projects of these scopes (stated, else derived)
    infrastructures: list[str] = field(default_factory=list)  # projects building these kinds of infrastructure
    # "all": every flow, unconfirmed ones included (the meta says how much); "only": only flows
    # confirmed by the organisation that manages their funding source (see CONFIRMED).
    confirmed: str = "all"
    # Only flows of these directions (north_south, south_south, triangular, multilateral, unknown).
    directions: list[str] = field(default_factory=list)
    # Only flows of these tied statuses (see reports.tied; not a report parameter).
    tied_statuses: list[str] = field(default_factory=list)

    def filters(self) -> dict:
        """The filters in force, as plain values (for the response and the workbook)."""
        out: dict = {}
        for name in ("year_from", "year_to"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        for name in (
            "regions",
            "countries",
            "categories",
            "areas",
            "source_kinds",
            "donors",
            "statuses",
            "action_lines",
            "directions",
            "scopes",
            "infrastructures",
        ):
            if getattr(self, name):
                out[name] = list(getattr(self, name))
        if self.confirmed != "all":
            out["confirmed"] = self.confirmed
        return out


def tx_filter(spec: ReportSpec) -> TxFilter:
    """The transaction filters of a spec (donor references resolved to ids)."""
    donor_ids = queries.resolve_refs(Organisation, spec.donors)[0] if spec.donors else []
    return TxFilter(
        year_from=spec.year_from,
        year_to=spec.year_to,
        statuses=spec.statuses,
        action_lines=spec.action_lines,
        scopes=spec.scopes,
        infrastructures=spec.infrastructures,
        source_kinds=spec.source_kinds,
        donor_ids=donor_ids,
        confirmed_only=spec.confirmed == "only",
        tied_statuses=list(spec.tied_statuses),
        directions=list(spec.directions),
    )


def need_applies(spec: ReportSpec) -> bool:
    """Whether need, gap and coverage can be shown (not by donor, source or finance type)."""
    narrowed_to_flows = spec.source_kinds or spec.donors or spec.directions
    return dimensions.need_carried(spec.dimensions) and not narrowed_to_flows
