"""Row keys and labels: where a project's recipient, area and a flow's attributes put its money.

``RowKeys`` turns a project's recipient x area (and a flow's period) into the key of a report
row per dimension, and applies the geographic filters; :func:`label` and :func:`sort_value`
name and order the rows. The dimensions themselves are declared in ``reports.dimensions``.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict

from flask_babel import gettext

from registry.models.types import N_
from registry.reference_names import region_name
from registry.services.reference import region_and_descendants
from registry.services.shares import UNALLOCATED_AREA
from reports import dimensions, queries
from reports.dimensions import INCOME_GROUPS
from reports.spec import ReportSpec

# The keys of the rows that are no country, region or code; the English keys stay in the JSON,
# the CSV's code columns and the facts, and their labels are said in the reader's language.
GLOBAL = N_("Global (no recipient country/region given)")
UNALLOCATED_RECIPIENT = N_("Unallocated (recipient not stated or unknown)")
NO_RECIPIENT = ""  # the region of the stand-in recipient of a project with none (global)
NO_CATEGORY = N_("Not in any category")
NOT_RECORDED = N_("Not recorded")
N_("Unallocated")  # the label of registry.services.shares.UNALLOCATED_AREA, for the catalogue
REGIONAL = "Regional: "  # the key of the flows to a region: "Regional: Eastern Africa"
GEO_DIMENSIONS = ("region", "subregion", "country", "category", "income_group")


class RowKeys:
    """Turns a project's recipient/area and a flow's attributes into a row key per dimension."""

    def __init__(self, ref: queries.Reference, spec: ReportSpec):
        self.ref = ref
        self.spec = spec
        self.breakpoints = ref.breakpoints()
        self._members: dict[tuple[str, int], list[str]] = {}
        by_country: dict[str, list[tuple[str, dt.date, dt.date | None]]] = defaultdict(list)
        for iso3, cat, start, end in ref.memberships:
            by_country[iso3].append((cat, start, end))
        self._by_country = by_country
        self._share_memo: dict[tuple, list[tuple]] = {}
        self._lines: dict[int, list[str]] | None = None
        self._scopes: dict[int, str | None] | None = None
        self.region_filter: set[str] | None = None
        if spec.regions:
            self.region_filter = set()
            for code in spec.regions:
                self.region_filter |= region_and_descendants(code)

    def bucket_day(self, bucket: int) -> dt.date:
        """A date inside membership period ``bucket`` (its first day)."""
        return dt.date.min if bucket == 0 else self.breakpoints[bucket - 1]

    def bucket_of(self, day: dt.date) -> int:
        return bisect.bisect_right(self.breakpoints, day)

    def categories(self, iso3: str | None, bucket: int) -> list[str]:
        """Categories of a country in a membership period (memberships are constant within one)."""
        if iso3 is None:
            return []
        key = (iso3, bucket)
        found = self._members.get(key)
        if found is None:
            day = self.bucket_day(bucket)
            found = sorted(
                {c for c, start, end in self._by_country.get(iso3, []) if start <= day and (end is None or day < end)}
            )
            self._members[key] = found
        return found

    def share_keys(self, dims, iso3, region, area, cats, lines=(), scope=None) -> list[tuple]:
        """The row keys of one recipient x area (memoised: few distinct combinations)."""
        memo_key = (iso3, region, area, tuple(cats), tuple(lines), scope)
        found = self._share_memo.get(memo_key)
        if found is None:
            found = share_keys(dims, self, iso3, region, area, cats, lines, scope)
            self._share_memo[memo_key] = found
        return found

    def action_lines(self, pid: int) -> list[str]:
        """The WSIS action lines of a project (every project's read once)."""
        if self._lines is None:
            self._lines = queries.project_action_lines()
        return self._lines.get(pid, [])

    def scope_of(self, pid: int) -> str | None:
        """A project's scope, as stated or derived (every project's read once)."""
        if self._scopes is None:
            self._scopes = queries.project_scopes()
        return self._scopes.get(pid)

    def geo_allowed(self, iso3: str | None, region: str | None) -> bool:
        if self.spec.countries and iso3 not in self.spec.countries:
            return False
        if self.region_filter is not None:
            if iso3 is not None:
                if not set(self.ref.country_regions[iso3]) & self.region_filter:
                    return False
            elif region is None or region not in self.region_filter:
                return False
        return True

    def geo_key(self, dim: str, iso3: str | None, region: str | None) -> tuple[str, str]:
        """(value, label) of a recipient in a geographic dimension other than category."""
        if iso3 is None:
            if region == NO_RECIPIENT:
                return GLOBAL, GLOBAL
            if region is None:
                return UNALLOCATED_RECIPIENT, UNALLOCATED_RECIPIENT
            name = f"{REGIONAL}{self.ref.regions.get(region, (region,))[0]}"
            return name, name
        name, reg, sub, income = self.ref.countries[iso3]
        if dim == "country":
            return iso3, name
        if dim == "region":
            text = self.ref.regions[reg][0] if reg in self.ref.regions else NOT_RECORDED
            return text, text
        if dim == "subregion":
            text = self.ref.regions[sub][0] if sub in self.ref.regions else NOT_RECORDED
            return text, text
        if dim == "income_group":
            return (income, INCOME_GROUPS.get(income, income)) if income else (NOT_RECORDED, NOT_RECORDED)
        raise KeyError(dim)


def tx_value(dim: str, value):
    """A flow-level dimension's value from the database as the report shows it."""
    return None if value is None else dimensions.get(dim).decode(value)


def share_keys(dims, keys: RowKeys, iso3, region, area, cats, lines=(), scope=None) -> list[tuple]:
    """Every key combination of the share dimensions for one recipient x area (several for
    categories, and for the WSIS action lines ``lines`` of the project; one for its ``scope``)."""
    parts: list[list] = []
    for dim in dims:
        if dimensions.is_flow_level(dim) or dim == "project":
            continue
        if dim == "priority_area":
            parts.append([area if area is not None else UNALLOCATED_AREA])
        elif dim == "category":
            parts.append(list(cats) if cats else [NO_CATEGORY])
        elif dim == "action_line":
            parts.append(list(lines) if lines else [NOT_RECORDED])
        elif dim == "scope":
            parts.append([scope or NOT_RECORDED])
        else:
            parts.append([keys.geo_key(dim, iso3, region)[0]])
    combos: list[tuple] = [()]
    for options in parts:
        combos = [c + (o,) for c in combos for o in options]
    return combos


def compose(dims, share_key: tuple, dim_values: tuple, pid: int) -> tuple:
    out, s, t = [], 0, 0
    for dim in dims:
        if dim == "project":
            out.append(pid)
        elif dimensions.is_flow_level(dim):
            out.append(dim_values[t])
            t += 1
        else:
            out.append(share_key[s])
            s += 1
    return tuple(out)


def label(ref: queries.Reference, dim: str, value, names: dict) -> str:
    """The label of one row's value (see Dimension.labeller to label many)."""
    return labeller(ref, dim, names)(value)


def labeller(ref: queries.Reference, dim: str, names: dict):
    """value -> label of the rows of a dimension in the reader's language (``names``:
    queries.labels_for of its ids); the keys themselves stay as they are."""
    inner = dimensions.get(dim).labeller(ref, names)
    region_codes = _region_codes(ref) if dim in GEO_DIMENSIONS else {}

    def labelled(value) -> str:
        if value is None:
            return gettext(NOT_RECORDED)
        special = special_label(value, region_codes)
        if special is not None:
            return special
        if dim in ("region", "subregion") and value in region_codes and not dimensions.in_english():
            return region_name(region_codes[value], value)
        return inner(value)

    return labelled


def _region_codes(ref: queries.Reference) -> dict[str, str]:
    """English name -> M49 code of every region (the region and sub-region rows are keyed by name)."""
    return {info[0]: code for code, info in ref.regions.items()}


def special_label(value, region_codes: dict[str, str]) -> str | None:
    """The label of a row that is no country or code (global, unallocated, a region's own
    flows, not recorded) in the reader's language, else None."""
    if not isinstance(value, str):
        return None
    if value in SPECIAL:
        return gettext(value)
    if value.startswith(REGIONAL):
        english = value[len(REGIONAL) :]
        if not dimensions.in_english():
            english = region_name(region_codes.get(english), english)
        return gettext("Regional: %(region)s", region=english)
    return None


SPECIAL = (GLOBAL, UNALLOCATED_RECIPIENT, UNALLOCATED_AREA, NO_CATEGORY, NOT_RECORDED)


def sort_value(dim: str, value, labels: dict | None = None) -> tuple:
    """Rows in the order of their keys (of their names for donors and sources), the
    unallocated and global rows last."""
    if value is None:
        return (1, "")
    special = value in SPECIAL or (isinstance(value, str) and value.startswith(REGIONAL))
    if labels and value in labels and dimensions.get(dim).sort_by_name:
        label_ = labels[value]  # (ref, name)
        name = label_[-1] if isinstance(label_, tuple) else label_
        return (1 if special else 0, str(name).casefold(), str(value))
    if dim == "action_line" and isinstance(value, str) and value[1:].isdigit():
        return (0, f"{int(value[1:]):08d}")  # C2 before C10
    return (1 if special else 0, str(value) if not isinstance(value, int) else f"{value:08d}")
