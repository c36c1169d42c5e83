"""The report parameters, declared once: the schema the API, the pages and the CLI load them through.

``ReportQuery`` (and ``GapQuery``, whose default measures are the funding gap's) turns a query
string into a validated ``ReportSpec``. The API reads it with flask-smorest
(``@blp.arguments(ReportQuery, location="query")``: a bad parameter is the usual 422 with the
field named) and so documents every dimension and measure in the OpenAPI document, each
with its meaning, read from ``reports.dimensions`` when the document is generated; the pages
and the command line load their parameters through the same schema (:func:`load_spec`),
so that a parameter means the same on every channel.

List parameters repeat (``by=region&by=priority_area``) or use commas (``by=region,country``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from flask_babel import gettext as _
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema
from sqlalchemy import select

from registry import errors, money
from registry.extensions import db
from registry.models import Country, Organisation, PriorityArea, RecipientCategory, Region
from registry.models.scope import INFRASTRUCTURE_KINDS, INFRASTRUCTURE_LABELS, SCOPE_LABELS, SCOPES, scope_code
from registry.models.types import N_, WSIS_ACTION_LINES, ProjectStatus, SourceKind, label
from registry.services.direction import VALUES as DIRECTION_VALUES
from registry.services.direction import label as direction_label
from reports import dimensions, queries
from reports.dimensions import MEASURE_LABELS
from reports.spec import CONFIRMED, ReportSpec

INVALID = N_("The report parameters are not valid")


def _dimension_entries() -> dict[str, str]:
    return {d.key: f"{d.label}: {d.meaning}" for d in dimensions.public()}


def _measure_entries() -> dict[str, str]:
    return {
        m.key: m.meaning if m.meaning.startswith(m.label) else f"{m.label}: {m.meaning}" for m in dimensions.measures()
    }


class Choice(validate.Validator):
    """One of the keys of ``entries()``, read when used: a dimension registered after this
    schema was declared is accepted and documented all the same."""

    def __init__(self, entries: Callable[[], Mapping[str, str]]):
        self.entries = entries

    @property
    def choices(self) -> list[str]:
        return list(self.entries())

    def __call__(self, value: str) -> str:
        if value not in self.entries():
            raise ValidationError(_("Must be one of: %(choices)s.", choices=", ".join(self.choices)))
        return value


class Codes(fields.List):
    """A list of codes, repeated or comma-separated; each value normalised (``normalise``) and
    checked by ``check`` (which returns a message per bad value), every bad value named in one
    list of messages. ``entries``: the code list itself (key -> meaning), listed in the
    OpenAPI document with the description."""

    def __init__(
        self,
        description: str,
        *,
        normalise: Callable[[str], str] = str,
        check: Callable[[list[str]], list[str]] | None = None,
        entries: Callable[[], Mapping[str, str]] | None = None,
        **kwargs: Any,
    ):
        self._description = description
        self._entries = entries
        self._normalise = normalise
        self._check = check
        super().__init__(fields.String(validate=Choice(entries) if entries else None), load_default=list, **kwargs)

    @property
    def metadata(self) -> dict:
        """The description, with each accepted value and its meaning when the values are a code list."""
        meta = {**self._metadata, "description": self._description}
        if self._entries is not None:
            entries = self._entries()
            meta["description"] += "\n" + "".join(f"\n- `{key}`: {text}" for key, text in entries.items())
            meta["x-enum-descriptions"] = dict(entries)
        return meta

    @metadata.setter
    def metadata(self, value: Mapping) -> None:
        self._metadata = dict(value or {})

    def _deserialize(self, value, attr, data, **kwargs) -> list[str]:
        out: list[str] = []
        for item in value if isinstance(value, list | tuple) else [value]:
            item = item if isinstance(item, str) else str(item)
            out += [self._normalise(part.strip()) for part in item.split(",") if part.strip()]
        problems = self._check(out) if self._check else []
        if problems:
            raise ValidationError(problems)
        return out


class Year(fields.Integer):
    """A year between 1900 and 2200; empty means no limit."""

    def __init__(self, description: str):
        super().__init__(load_default=None, allow_none=True, metadata={"description": description})

    def _deserialize(self, value, attr, data, **kwargs) -> int | None:
        if value in (None, ""):
            return None
        try:
            year = int(str(value))
        except ValueError:
            raise ValidationError(_("%(value)s is not a year", value=repr(value))) from None
        if not 1900 <= year <= 2200:
            raise ValidationError(_("%(year)s is outside %(first)s-%(last)s", year=value, first=1900, last=2200))
        return year


class Currency(fields.String):
    """An ISO 4217 code with exchange rates (ECB or IMF)."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        code = (super()._deserialize(value, attr, data, **kwargs) or "USD").strip().upper()
        if not money.is_currency(code):
            raise ValidationError(
                _("Unknown currency %(code)s (expected an ISO 4217 code such as USD or EUR)", code=repr(code))
            )
        if not money.is_convertible(code):
            raise ValidationError(
                _(
                    "No exchange rates are available for %(code)s (neither the ECB nor the IMF publishes it); "
                    "choose USD, EUR or another currency with ECB or IMF rates",
                    code=code,
                )
            )
        return code


class Confirmed(fields.String):
    """all | only (see reports.spec.CONFIRMED)."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        choice = (super()._deserialize(value, attr, data, **kwargs) or "all").strip().lower()
        if choice not in CONFIRMED:
            raise ValidationError(
                _(
                    "Unknown choice %(value)s; expected one of %(choices)s",
                    value=repr(value),
                    choices=", ".join(CONFIRMED),
                )
            )
        return choice


def _dimensions_check(keys: list[str]) -> list[str]:
    known = _dimension_entries()
    choices = ", ".join(known)
    problems = [
        _("Unknown dimension %(name)s; expected one of %(choices)s", name=repr(d), choices=choices)
        for d in keys
        if d not in known
    ]
    if len(keys) > 2:
        problems.append(_("At most two dimensions (a cross-tab)"))
    if len(set(keys)) != len(keys):
        problems.append(_("A dimension is given twice"))
    return problems


def _measures_check(keys: list[str]) -> list[str]:
    choices = ", ".join(MEASURE_LABELS)
    return [
        _("Unknown measure %(name)s; expected one of %(choices)s", name=repr(m), choices=choices)
        for m in keys
        if m not in MEASURE_LABELS
    ]


def _known(column, message: str) -> Callable[[list[str]], list[str]]:
    """A check that every code is in ``column`` (one query for all of them); ``message`` (marked
    with N_, a ``%(code)s`` in it) in the request's language."""

    def check(codes: list[str]) -> list[str]:
        if not codes:
            return []
        found = set(db.session.scalars(select(column).where(column.in_(codes))))
        return [_(message, code=repr(code)) for code in codes if code not in found]

    return check


def _in(values: Iterable[str], message: str) -> Callable[[list[str]], list[str]]:
    allowed = set(values)
    return lambda codes: [_(message, code=repr(code)) for code in codes if code not in allowed]


def _scope_word(text: str) -> str:
    """A scope as given (multi-country, 3...) as its code; an unknown one as given, to be named."""
    try:
        return scope_code(text) or text
    except ValueError:
        return text


def _donors_check(refs: list[str]) -> list[str]:
    if not refs:
        return []
    _ids, missing = queries.resolve_refs(Organisation, refs)
    return [_("No organisation with reference %(ref)s", ref=repr(m)) for m in missing]


class ReportQuery(Schema):
    """Dimensions, measures, filters and currency of a report; lists repeat or use commas
    (by=region&by=priority_area)."""

    DEFAULT_MEASURES: Sequence[str] = tuple(MEASURE_LABELS)

    class Meta:
        unknown = RAISE

    by = Codes(
        "One or two dimensions (two: a cross-tab); default region.",
        check=_dimensions_check,
        entries=_dimension_entries,
    )
    measure = Codes(
        "The measures to show (default: all of the report's).", check=_measures_check, entries=_measure_entries
    )
    currency = Currency(
        load_default="USD", metadata={"description": "Reporting currency (ISO 4217, with ECB or IMF rates)."}
    )
    year_from = Year("First year of value dates (need: of need dates).")
    year_to = Year("Last year of value dates (need: of need dates).")
    region = Codes(
        "M49 region codes, e.g. 002 (Africa).",
        check=_known(Region.code, N_("Unknown M49 region code %(code)s (e.g. 002 for Africa)")),
    )
    country = Codes(
        "ISO 3166 alpha-3 country codes.",
        normalise=str.upper,
        check=_known(Country.iso3, N_("Unknown country %(code)s (ISO 3166 alpha-3, e.g. KEN)")),
    )
    category = Codes(
        "Recipient categories, e.g. LDC.",
        normalise=str.upper,
        check=_known(RecipientCategory.code, N_("Unknown recipient category %(code)s")),
    )
    priority_area = Codes(
        "Priority areas (paragraph 23), e.g. 23b.",
        normalise=str.lower,
        check=_known(PriorityArea.code, N_("Unknown priority area %(code)s (23a-23l)")),
    )
    source_kind = Codes(
        "Kinds of funding source.",
        normalise=str.lower,
        check=_in((k.value for k in SourceKind), N_("Unknown funding source kind %(code)s")),
        entries=lambda: {k.value: label(k.value) for k in SourceKind},
    )
    donor = Codes("Donor organisations, by reference (or id).", check=_donors_check)
    status = Codes(
        "Project statuses.",
        normalise=str.lower,
        check=_in((s.value for s in ProjectStatus), N_("Unknown project status %(code)s")),
        entries=lambda: {s.value: label(s.value) for s in ProjectStatus},
    )
    action_line = Codes(
        "WSIS action lines, e.g. C5: the projects tagged with any of them.",
        normalise=str.upper,
        check=_in(WSIS_ACTION_LINES, N_("Unknown WSIS action line %(code)s (C1-C11)")),
        entries=lambda: dict(WSIS_ACTION_LINES),
    )
    direction = Codes(
        "Flow directions: north_south, south_south, triangular, multilateral, unknown.",
        normalise=str.lower,
        check=_in(DIRECTION_VALUES, N_("Unknown flow direction %(code)s")),
        entries=lambda: {value: direction_label(value) for value in DIRECTION_VALUES},
    )
    scope = Codes(
        "Project scopes: national, multi_country, regional, global (as stated, else derived from the "
        "recipients); e.g. multi_country,regional for the cross-border projects.",
        normalise=_scope_word,
        check=_in(SCOPES, N_("Unknown scope %(code)s (national, multi_country, regional, global)")),
        entries=lambda: dict(SCOPE_LABELS),
    )
    infrastructure = Codes(
        "Kinds of cross-border infrastructure: ixp, backbone, submarine_cable, satellite, data_centre, "
        "spectrum_regulation, none.",
        normalise=str.lower,
        check=_in(
            INFRASTRUCTURE_KINDS,
            N_(
                "Unknown infrastructure %(code)s (ixp, backbone, submarine_cable, satellite, data_centre, "
                "spectrum_regulation, none)"
            ),
        ),
        entries=lambda: dict(INFRASTRUCTURE_LABELS),
    )
    confirmed = Confirmed(
        load_default="all",
        validate=validate.OneOf(CONFIRMED),
        metadata={
            "description": "all (default): every flow, the meta says how much is unconfirmed; only: flows "
            "confirmed by the organisation that manages their funding source"
        },
    )

    def __init__(self, *args: Any, default_measures: Sequence[str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.default_measures = list(default_measures or self.DEFAULT_MEASURES)

    @validates_schema
    def _years_in_order(self, data: dict, **kwargs: Any) -> None:
        start, end = data.get("year_from"), data.get("year_to")
        if start and end and start > end:
            raise ValidationError(_("The end year is before the start year"), "year_to")

    @post_load
    def _spec(self, data: dict, **kwargs: Any) -> ReportSpec:
        return ReportSpec(
            dimensions=data["by"] or ["region"],
            measures=data["measure"] or list(self.default_measures),
            currency=data["currency"],
            year_from=data["year_from"],
            year_to=data["year_to"],
            regions=data["region"],
            countries=data["country"],
            categories=data["category"],
            areas=data["priority_area"],
            source_kinds=data["source_kind"],
            donors=data["donor"],
            statuses=data["status"],
            action_lines=data["action_line"],
            scopes=data["scope"],
            infrastructures=data["infrastructure"],
            confirmed=data["confirmed"],
            directions=data["direction"],
        )


class GapQuery(ReportQuery):
    """The parameters of a funding-gap report (its default measures: need, commitments, gap...)."""

    DEFAULT_MEASURES = dimensions.GAP_MEASURES


def load_spec(params: Mapping[str, Any], default_measures: Sequence[str] | None = None) -> ReportSpec:
    """A spec from parameters named as in the query string (lists as lists; None: not given),
    through the API's schema; a registry ValidationError names each bad parameter."""
    data = {key: value for key, value in params.items() if value is not None}
    try:
        return ReportQuery(default_measures=default_measures).load(data)
    except ValidationError as exc:
        raise errors.ValidationError(_(INVALID), exc.normalized_messages()) from None


def build_spec(
    by: Iterable[str] | str | None = None,
    measures: Iterable[str] | str | None = None,
    *,
    default_measures: Sequence[str] = tuple(MEASURE_LABELS),
    **filters: Any,
) -> ReportSpec:
    """The spec of raw parameters in Python (``filters`` named as in the query string): load_spec."""
    params = {"by": by, "measure": measures, **filters}
    for key, value in params.items():
        if isinstance(value, str) and isinstance(ReportQuery._declared_fields.get(key), fields.List):
            params[key] = [value]
        elif isinstance(value, tuple):
            params[key] = list(value)
    return load_spec(params, default_measures)


class ReportOut(Schema):
    dimensions = fields.List(fields.String())
    measures = fields.List(fields.String())
    currency = fields.String()
    filters = fields.Dict()
    rows = fields.List(fields.Dict())
    total = fields.Dict()
    notes = fields.List(fields.String())
    generated_at = fields.String()
    exchange_rates = fields.String()
    margins = fields.Dict(
        metadata={
            "description": "two dimensions: each dimension's totals, which the cross-tab's rows/columns add up to"
        }
    )
    confirmation = fields.Dict(
        metadata={"description": "confirmed (all|only), unconfirmed_flows, unconfirmed_included, unconfirmed_amounts"}
    )
    conversion = fields.Dict(
        metadata={"description": "amounts converted at IMF annual rates (and their share), and amounts not converted"}
    )
    transaction_types = fields.Dict(metadata={"description": "the IATI transaction types each measure counts"})
