"""Projects and their transactions, in and out of the API."""

from __future__ import annotations

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from registry import money
from registry.errors import RegistryError
from registry.models.scope import INFRASTRUCTURE_KINDS, SCOPES, infrastructure_code, scope_code
from registry.models.types import (
    WSIS_ACTION_LINES,
    Instrument,
    ProjectStatus,
    SourceKind,
    TransactionType,
    tied_status_code,
)
from registry.schemas.common import (
    ID,
    REQUIRED_TEXT,
    YEAR,
    Currency,
    DecimalString,
    Share,
    StrictSchema,
    VersionedOut,
    area_exists,
    check_amount,
    check_ordered,
    check_shares,
    country_exists,
    region_exists,
    run_checks,
    version_field,
)
from registry.schemas.messages import N_
from registry.services import rules
from registry.services.direction import COLLABORATION_TYPES, DIRECTIONS, project_direction
from registry.services.search import SORT_CHOICES

STATUSES = [s.value for s in ProjectStatus]
INSTRUMENTS = [i.value for i in Instrument]
TRANSACTION_TYPES = [t.value for t in TransactionType]


def purpose_code(code: str) -> None:
    """Validator: a DAC 5-digit purpose code (the rule of registry.services.rules.sectors)."""
    try:
        rules.sectors([code])
    except RegistryError as exc:
        raise ValidationError(exc.message) from None


class TiedStatus(fields.String):
    """An IATI TiedStatus code: 3 partially tied, 4 tied, 5 untied (the words are taken too);
    null: unknown (a flow's null follows its project's default)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("allow_none", True)
        kwargs.setdefault(
            "metadata",
            {
                "description": "IATI TiedStatus code: 3 partially tied, 4 tied, 5 untied "
                "(or tied, partially_tied, untied); null: unknown",
                "enum": ["3", "4", "5", None],
            },
        )
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return tied_status_code(text)
        except ValueError:
            raise ValidationError(
                _("Unknown tied status %(value)s: 3 partially tied, 4 tied, 5 untied", value=repr(text))
            ) from None


class ScopeField(fields.String):
    """A project's geographic scope: national, multi_country, regional or global (an IATI
    ActivityScope code 1-8 is taken too); null: derived from the recipients."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("allow_none", True)
        kwargs.setdefault(
            "metadata",
            {
                "description": "national, multi_country, regional or global (or an IATI ActivityScope code "
                "1-8); null: derived from the recipients",
                "enum": [*SCOPES, None],
            },
        )
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return scope_code(text)
        except ValueError:
            raise ValidationError(
                _(
                    "Unknown scope %(value)s: national, multi_country, regional or global (or an IATI "
                    "ActivityScope code 1-8)",
                    value=repr(text),
                )
            ) from None


class InfrastructureField(fields.String):
    """The kind of cross-border infrastructure a project builds; null: not said."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("allow_none", True)
        kwargs.setdefault(
            "metadata",
            {
                "description": "ixp, backbone, submarine_cable, satellite, data_centre, spectrum_regulation or none; "
                "null: not said",
                "enum": [*INFRASTRUCTURE_KINDS, None],
            },
        )
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return infrastructure_code(text)
        except ValueError:
            raise ValidationError(
                _(
                    "Unknown infrastructure %(value)s: ixp, backbone, submarine_cable, satellite, data_centre, "
                    "spectrum_regulation or none",
                    value=repr(text),
                )
            ) from None


class RecipientIn(StrictSchema):
    country = fields.String(load_default=None, allow_none=True, validate=[validate.Length(equal=3), country_exists])
    region = fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=3), region_exists])
    share = Share(load_default=None, allow_none=True)

    @validates_schema
    def one_of(self, data: dict, **kwargs) -> None:
        # Neither is the unallocated share (see registry.services.rules.recipients).
        if data.get("country") and data.get("region"):
            raise ValidationError(_(rules.BOTH_PLACES), "country")


class AreaIn(StrictSchema):
    code = fields.String(required=True, validate=[validate.Length(max=3), area_exists])
    share = Share(load_default=None, allow_none=True)


class NeedIn(StrictSchema):
    amount = DecimalString(required=True)
    currency = Currency(required=True)
    date = fields.Date(load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=False)
    def amount_fits_currency(self, data: dict, **kwargs) -> None:
        check_amount(data.get("amount"), data.get("currency"), "amount")
        if str(data.get("amount", "")).startswith("-"):
            raise ValidationError(_(rules.NEGATIVE_NEED), "amount")


class ProjectIn(StrictSchema):
    """A project to register: recipients and areas with shares summing to 100."""

    org_id = fields.Integer(
        load_default=None,
        validate=ID,
        metadata={"description": "Reporting organisation (admins only; others get their own)"},
    )
    reference = fields.String(required=True, validate=validate.Length(min=1, max=120, error=REQUIRED_TEXT))
    iati_identifier = fields.String(allow_none=True, validate=validate.Length(max=200))
    title = fields.String(required=True, validate=validate.Length(min=1, max=500, error=REQUIRED_TEXT))
    description = fields.String(validate=validate.Length(max=20000))
    status = fields.String(validate=validate.OneOf(STATUSES))
    planned_start = fields.Date(allow_none=True)
    planned_end = fields.Date(allow_none=True)
    actual_start = fields.Date(allow_none=True)
    actual_end = fields.Date(allow_none=True)
    need = fields.Nested(NeedIn, allow_none=True)
    recipients = fields.List(fields.Nested(RecipientIn), validate=validate.Length(max=300))
    areas = fields.List(fields.Nested(AreaIn), validate=validate.Length(max=12))
    sectors = fields.List(
        fields.String(validate=purpose_code),
        validate=validate.Length(max=100),
    )
    wsis_action_lines = fields.List(fields.String(validate=validate.OneOf(list(WSIS_ACTION_LINES))))
    instrument_sought = fields.String(allow_none=True, validate=validate.OneOf(INSTRUMENTS))
    contact_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    contact_email = fields.Email(allow_none=True, validate=validate.Length(max=200))
    default_tied_status = TiedStatus()
    collaboration_type = fields.String(
        allow_none=True,
        validate=validate.OneOf(COLLABORATION_TYPES),
        metadata={"description": "IATI CollaborationType code (2, 4 multilateral; 8 triangular co-operation)"},
    )
    direction_override = fields.String(
        allow_none=True,
        validate=validate.OneOf(DIRECTIONS),
        metadata={"description": "The direction set by hand instead of the derived one; null: derived"},
    )
    direction_reason = fields.String(
        allow_none=True,
        validate=validate.Length(max=1000),
        metadata={"description": "Why the direction is set by hand (required with direction_override)"},
    )
    scope = ScopeField()
    infrastructure = InfrastructureField()

    @validates_schema(skip_on_field_errors=False)
    def consistent(self, data: dict, **kwargs) -> None:
        run_checks(
            lambda: check_ordered(data, "planned_start", "planned_end"),
            lambda: check_ordered(data, "actual_start", "actual_end"),
            lambda: check_shares(data.get("recipients") or [], "recipients"),
            lambda: check_shares(data.get("areas") or [], "areas"),
        )


class ProjectPatch(ProjectIn):
    """A change to a project: any subset of fields, plus the version it was read at."""

    version = version_field()


class ProjectDelete(StrictSchema):
    version = version_field()


class OrgRef(Schema):
    id = fields.Integer()
    ref = fields.String()
    name = fields.String()


class RecipientOut(Schema):
    country = fields.String(attribute="country_iso3", allow_none=True)
    country_name = fields.Function(lambda r: r.country.name if r.country else None)
    region = fields.String(attribute="region_code", allow_none=True)
    region_name = fields.Function(lambda r: r.region.name if r.region else None)
    share = Share()


class AreaOut(Schema):
    code = fields.String(attribute="area_code")
    name = fields.Function(lambda a: a.area.short_name)
    share = Share()
    inferred = fields.Boolean()


def need_out(project) -> dict | None:
    """The project's need as decimal strings, with its USD value and date."""
    if project.need_minor is None or not project.need_currency:
        return None
    return {
        "amount": str(money.from_minor(project.need_minor, project.need_currency)),
        "currency": project.need_currency,
        "usd": str(money.from_minor(project.need_usd_minor, "USD")) if project.need_usd_minor is not None else None,
        "date": project.need_date.isoformat() if project.need_date else None,
    }


class ProjectOut(VersionedOut):
    id = fields.Integer()
    org = fields.Nested(OrgRef)
    reference = fields.String()
    iati_identifier = fields.String(allow_none=True)
    title = fields.String()
    description = fields.String()
    status = fields.String()
    planned_start = fields.Date(allow_none=True)
    planned_end = fields.Date(allow_none=True)
    actual_start = fields.Date(allow_none=True)
    actual_end = fields.Date(allow_none=True)
    need = fields.Function(lambda p: need_out(p))
    recipients = fields.List(fields.Nested(RecipientOut))
    areas = fields.List(fields.Nested(AreaOut))
    sectors = fields.Function(lambda p: [s.code for s in p.sectors])
    wsis_action_lines = fields.Function(lambda p: p.action_lines)
    instrument_sought = fields.String(allow_none=True)
    contact_name = fields.String(allow_none=True)
    contact_email = fields.String(allow_none=True)
    default_tied_status = fields.String(allow_none=True)
    collaboration_type = fields.String(allow_none=True)
    funding_partners = fields.Function(
        lambda p: [line.split("|", 1)[1] for line in (p.funding_partners or "").splitlines() if "|" in line],
        metadata={"description": "The organisations funding the activity (IATI participating-org role 1)"},
    )
    direction_override = fields.String(allow_none=True)
    direction_reason = fields.String(allow_none=True)
    scope = fields.String(
        attribute="effective_scope",
        allow_none=True,
        metadata={"description": "national, multi_country, regional or global: as stated, else derived"},
    )
    scope_derived = fields.Boolean(
        metadata={"description": "True when the scope was not stated but derived from the recipients"}
    )
    infrastructure = fields.String(allow_none=True)


class ProjectDetailOut(ProjectOut):
    """One project, with what is derived from its flows (not in the lists: it costs a query
    per project)."""

    direction = fields.Function(
        lambda p: project_direction(p),
        metadata={
            "description": "The project's direction (one of north_south, south_south, triangular, multilateral, "
            "unknown): its direction_override when set, else the directions derived from its flows (the "
            "provider's country and its DAC membership on each value date, the provider's kind, the funding "
            "source, the collaboration type; docs/reports.md, Flow direction), several when they differ, in "
            "that order; empty when it has no flow. Given for one project (GET, POST, PATCH), not in the "
            "project lists, where it would cost a query per project.",
        },
    )


class Page(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    pages = fields.Integer()


class ProjectPage(Page):
    items = fields.List(fields.Nested(ProjectOut))


class PageQuery(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))


class ProjectQuery(PageQuery):
    """Filters, sort and page of the project list (see registry.services.search)."""

    country = fields.String(validate=validate.Regexp(r"^[A-Za-z]{3}$", error=N_("An ISO3 code")))
    region = fields.String(validate=validate.Regexp(r"^\d{1,3}$", error=N_("An M49 code")))
    category = fields.String(validate=validate.Length(max=8))
    area = fields.String(validate=validate.Length(max=3))
    status = fields.String(validate=validate.OneOf(STATUSES))
    action_line = fields.String(validate=validate.OneOf(list(WSIS_ACTION_LINES)))
    scope = fields.String(validate=validate.OneOf(SCOPES))
    infrastructure = fields.String(validate=validate.OneOf(INFRASTRUCTURE_KINDS))
    funding_source_id = fields.Integer(validate=ID)
    source_kind = fields.String(validate=validate.OneOf([k.value for k in SourceKind]))
    donor_org_id = fields.Integer(validate=ID)
    org_id = fields.Integer(validate=ID)
    year_from = fields.Integer(validate=YEAR)
    year_to = fields.Integer(validate=YEAR)
    q = fields.String(validate=validate.Length(max=200))
    sort = fields.String(load_default="title", validate=validate.OneOf(SORT_CHOICES))

    @validates_schema(skip_on_field_errors=False)
    def years_ordered(self, data: dict, **kwargs) -> None:
        if data.get("year_from") and data.get("year_to") and data["year_from"] > data["year_to"]:
            raise ValidationError(_("Is before year_from"), "year_to")


# -- transactions ------------------------------------------------------------


class TransactionIn(StrictSchema):
    """A money flow in its original currency, at its value date."""

    type = fields.String(required=True, validate=validate.OneOf(TRANSACTION_TYPES))
    amount = DecimalString(required=True, metadata={"description": 'Decimal string, e.g. "1250.50"'})
    currency = Currency(required=True)
    value_date = fields.Date(required=True)
    funding_source_id = fields.Integer(allow_none=True, validate=ID)
    provider_org_id = fields.Integer(allow_none=True, validate=ID)
    flow_type = fields.String(allow_none=True, validate=validate.Length(max=8))
    finance_type = fields.String(allow_none=True, validate=validate.Length(max=8))
    aid_type = fields.String(allow_none=True, validate=validate.Length(max=8))
    tied_status = TiedStatus()
    description = fields.String(allow_none=True, validate=validate.Length(max=1000))

    @validates_schema(skip_on_field_errors=False)
    def amount_fits_currency(self, data: dict, **kwargs) -> None:
        check_amount(data.get("amount"), data.get("currency"), "amount")


PROJECT_VERSION = version_field("The project's version you read; a stale one gets 409")


class TransactionDelete(StrictSchema):
    project_version = PROJECT_VERSION


class TransactionPatch(TransactionIn):
    """Any subset of a transaction's fields (amount checked with its final currency)."""

    project_version = PROJECT_VERSION


class TransactionOut(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    type = fields.String()
    amount = fields.Function(lambda t: str(t.amount))
    currency = fields.String()
    value_date = fields.Date()
    # All null for a flow no rate source converts (kept in its own currency).
    usd = fields.Function(lambda t: str(t.usd_amount) if t.usd_minor is not None else None)
    usd_rate = fields.String(allow_none=True)
    usd_rate_date = fields.Date(allow_none=True)
    usd_rate_source = fields.String(
        allow_none=True, metadata={"description": "ecb, ecb+parity, imf_annual (rate date: 31 December) or identity"}
    )
    # null: current prices; "constant": constant-price amount (CRS deflated), no USD at its date
    price_basis = fields.String(allow_none=True)
    funding_source_id = fields.Integer(allow_none=True)
    provider_org_id = fields.Integer(allow_none=True)
    flow_type = fields.String(allow_none=True)
    finance_type = fields.String(allow_none=True)
    aid_type = fields.String(allow_none=True)
    tied_status = fields.String(allow_none=True, metadata={"description": "The flow's own IATI TiedStatus code"})
    effective_tied_status = fields.String(
        allow_none=True,
        metadata={"description": "The flow's tied status, else its project's default; null: unknown"},
    )
    description = fields.String()
    confirmed = fields.Boolean(
        metadata={"description": "False while the organisation managing the flow's funding source has not confirmed it"}
    )
    created_at = fields.DateTime()
