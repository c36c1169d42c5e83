"""Schemas of the funding finder and the pipeline marketplace."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from registry.schemas.funding import SourceRefOut
from registry.schemas.projects import OrgRef
from registry.schemas.reference import StrictSchema


class MatchQuery(StrictSchema):
    country = fields.String(
        load_default=None,
        metadata={
            "description": "ISO 3166 alpha-3 code, e.g. NPL; several separated by commas (NPL,BTN) for one "
            "cross-border project. Give a country, a region or both"
        },
    )
    region = fields.String(
        load_default=None,
        metadata={"description": "M49 region code(s), e.g. 034 (Southern Asia); several separated by commas"},
    )
    priority_area = fields.String(
        load_default=None, metadata={"description": "Paragraph 23 area(s), e.g. 23b or 23b,23c"}
    )
    instrument = fields.String(load_default=None, metadata={"description": "e.g. grant, concessional_loan"})
    amount = fields.String(load_default=None, metadata={"description": "Decimal string, e.g. 2500000"})
    currency = fields.String(load_default=None, metadata={"description": "ISO 4217 code of the amount"})
    date = fields.Date(load_default=None, metadata={"description": "Date the rules are judged on (default today)"})


class CriterionOut(Schema):
    key = fields.String()
    label = fields.String()
    status = fields.String(metadata={"description": "met, not_met or unknown"})
    hard = fields.Boolean(metadata={"description": "A hard criterion not met excludes the source"})
    reason = fields.String()


class FiguresOut(Schema):
    usd = fields.String(metadata={"description": "Share-weighted commitments in USD (exact decimal)"})
    projects = fields.Integer()


class ScopeFiguresOut(Schema):
    country = fields.Nested(FiguresOut)
    region = fields.Nested(FiguresOut)
    area = fields.Nested(FiguresOut)


class EvidenceOut(Schema):
    since = fields.Date()
    until = fields.Date()
    region_code = fields.String(allow_none=True, metadata={"description": "The first region counted"})
    region_codes = fields.List(fields.String(), metadata={"description": "Every region counted"})
    region_name = fields.String(allow_none=True)
    source = fields.Nested(ScopeFiguresOut)
    managing_org = fields.Nested(ScopeFiguresOut)


class SimilarOut(Schema):
    project_id = fields.Integer()
    title = fields.String()
    countries = fields.List(fields.String())
    areas = fields.List(fields.String())
    committed_usd = fields.String()
    same_country = fields.Boolean()
    url = fields.String()


class SourceMatchOut(Schema):
    rank = fields.Integer(allow_none=True)
    source = fields.Nested(SourceRefOut)
    eligible = fields.Boolean()
    score = fields.Integer()
    failed = fields.List(fields.String(), metadata={"description": "Hard criteria not met"})
    criteria = fields.List(fields.Nested(CriterionOut))
    evidence = fields.Nested(EvidenceOut)
    similar_projects = fields.List(fields.Nested(SimilarOut))


class NeedOut(Schema):
    country = fields.String(allow_none=True, metadata={"description": "The first country asked for"})
    countries = fields.List(fields.String(), metadata={"description": "Every country asked for"})
    regions = fields.List(fields.String(), metadata={"description": "M49 regions asked for"})
    priority_areas = fields.List(fields.String())
    instrument = fields.String(allow_none=True)
    amount = fields.String(allow_none=True)
    currency = fields.String(allow_none=True)
    amount_usd = fields.String(allow_none=True)
    date = fields.Date()


class MatchResultOut(Schema):
    query = fields.Nested(NeedOut)
    ranking_rule = fields.String()
    matches = fields.List(fields.Nested(SourceMatchOut))
    failing = fields.List(fields.Nested(SourceMatchOut), metadata={"description": "Sources failing a hard criterion"})


class DateQuery(StrictSchema):
    date = fields.Date(load_default=None, metadata={"description": "Date the rules are judged on (default today)"})
    include_failing = fields.Boolean(load_default=False)


class GapOut(Schema):
    need = fields.String(allow_none=True)
    currency = fields.String(allow_none=True)
    committed = fields.String(allow_none=True)
    gap = fields.String(allow_none=True)
    need_usd = fields.String(allow_none=True)
    committed_usd = fields.String()
    gap_usd = fields.String(allow_none=True)


class CommitmentRefOut(Schema):
    transaction_id = fields.Integer()
    org = fields.Nested(OrgRef, allow_none=True)
    funding_source = fields.Dict(allow_none=True, metadata={"description": "id, ref, name"})
    amount = fields.String()
    currency = fields.String()
    usd = fields.String(allow_none=True)
    value_date = fields.Date()


class InterestedOut(Schema):
    org = fields.Nested(OrgRef)
    created_at = fields.DateTime()


class PipelineProjectOut(Schema):
    id = fields.Integer()
    reference = fields.String()
    title = fields.String()
    description = fields.String()
    status = fields.String()
    org = fields.Nested(OrgRef)
    countries = fields.List(fields.String())
    regions = fields.List(fields.String())
    scope = fields.String(allow_none=True, metadata={"description": "As stated, else derived (scope_derived)"})
    scope_derived = fields.Boolean()
    infrastructure = fields.String(allow_none=True)
    areas = fields.List(fields.String())
    instrument_sought = fields.String(allow_none=True)
    planned_start = fields.Date(allow_none=True)
    planned_end = fields.Date(allow_none=True)
    contact_name = fields.String(allow_none=True)
    contact_email = fields.String(allow_none=True)
    gap = fields.Nested(GapOut)
    commitments = fields.List(fields.Nested(CommitmentRefOut), metadata={"description": "Who has committed"})
    interested = fields.List(
        fields.Nested(InterestedOut), metadata={"description": "Organisations interested (logged-in readers)"}
    )
    interest_count = fields.Integer()
    version = fields.Integer()
    created_at = fields.DateTime()
    url = fields.String()


class ProjectMatchOut(Schema):
    rank = fields.Integer()
    score = fields.Integer()
    eligible = fields.Boolean()
    failed = fields.List(fields.String())
    criteria = fields.List(fields.Nested(CriterionOut))
    project = fields.Nested(PipelineProjectOut)


class MatchingProjectsOut(Schema):
    source = fields.Nested(SourceRefOut)
    date = fields.Date()
    ranking_rule = fields.String()
    projects = fields.List(fields.Nested(ProjectMatchOut))


class PipelineNeedIn(StrictSchema):
    amount = fields.String(required=True)
    currency = fields.String(required=True)


class PipelineProjectIn(StrictSchema):
    reference = fields.String()
    title = fields.String()
    description = fields.String()
    country = fields.String(
        metadata={
            "description": "ISO3; several separated by commas for a cross-border project (NPL,BTN), shared "
            "evenly; a government gives its own, alone or with its neighbours"
        }
    )
    scope = fields.String(
        allow_none=True, metadata={"description": "national, multi_country, regional or global; null: derived"}
    )
    infrastructure = fields.String(
        allow_none=True,
        metadata={"description": "ixp, backbone, submarine_cable, satellite, data_centre, spectrum_regulation, none"},
    )
    areas = fields.List(fields.String())
    need = fields.Nested(PipelineNeedIn)
    instrument_sought = fields.String()
    planned_start = fields.Date(allow_none=True)
    planned_end = fields.Date(allow_none=True)
    contact_name = fields.String(allow_none=True)
    contact_email = fields.Email()
    org_id = fields.Integer(metadata={"description": "Administrators: the government organisation"})
    version = fields.Integer(metadata={"description": "PATCH: the version you read (optimistic locking)"})


class PipelineProjectPatch(PipelineProjectIn):
    """PATCH body: every field optional."""

    def __init__(self, *args, **kwargs):
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)


class PipelineQuery(StrictSchema):
    country = fields.String(
        load_default=None,
        metadata={"description": "ISO3 code(s), several separated by commas: projects in any of them"},
    )
    region = fields.String(
        load_default=None,
        metadata={"description": "M49 code(s): projects with a country in the region, or recorded against it"},
    )
    scope = fields.String(
        load_default=None, metadata={"description": "national, multi_country, regional or global (several: commas)"}
    )
    priority_area = fields.String(load_default=None)
    instrument = fields.String(load_default=None)
    q = fields.String(load_default=None)
    has_commitments = fields.Boolean(load_default=None, allow_none=True)
    min_gap = fields.String(load_default=None, metadata={"description": "Smallest remaining gap in USD"})
    sort = fields.String(load_default=None, metadata={"description": "newest (default), gap or gap_asc"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class InterestIn(StrictSchema):
    note = fields.String(load_default="")


class InterestOut(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    org = fields.Nested(OrgRef)
    user_email = fields.String(allow_none=True)
    note = fields.String()
    created_at = fields.DateTime()


class CommitmentIn(StrictSchema):
    funding_source_id = fields.Integer(required=True)
    amount = fields.String(required=True)
    currency = fields.String(required=True)
    value_date = fields.Date(load_default=None)
    description = fields.String(load_default="")


class CommitmentOut(Schema):
    transaction_id = fields.Integer()
    project_id = fields.Integer()
    project_status = fields.String()
    funding_source_id = fields.Integer()
    amount = fields.String()
    currency = fields.String()
    value_date = fields.Date()
    usd = fields.String()
    gap = fields.Nested(GapOut, metadata={"description": "The project's remaining gap after this commitment"})


class SavedSearchIn(StrictSchema):
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "funding or pipeline"})
    params = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    alert_frequency = fields.String(
        load_default="daily",
        metadata={"description": "how often its new matches are e-mailed: immediate, daily, weekly, or off"},
    )


class SavedSearchOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    params = fields.Dict()
    created_at = fields.DateTime()
    last_seen_at = fields.DateTime(allow_none=True)
    alert_frequency = fields.String()
    atom_url = fields.String()
    csv_url = fields.String()
