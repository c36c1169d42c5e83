"""The funding finder: which funding sources fit a need, which pipeline projects fit a source.

Every funding source is assessed criterion by criterion (met / not met / unknown, each
with a reason a person can check). The ranking rule and its tie-breaking are documented
in docs/funding-finder.md; keep the two in step. The package, by what each module holds:

- ``need``: the Need, checked from the finder's input or read from a pipeline project;
- ``criteria``: the five criteria, their weights, the reasons, ``assess`` and ``base_score``;
- ``wording``: lists and clauses of the reasons joined as the reader's language joins them;
- ``evidence``: the commitment queries, share-weighted track records and the evidence bonus;
- ``similar``: past projects like the need, for each source;
- ``finder``: ``find_funding``, every source ranked for one need;
- ``donor``: funding gaps, open pipeline projects and ``matching_projects`` for one source.

Callers import from here (``from registry.services import matching``); the names below
are the package's public face.
"""

from registry.services.matching.criteria import (
    HARD,
    LABELS,
    MET,
    NOT_MET,
    UNKNOWN,
    WEIGHTS,
    Assessed,
    Criterion,
    ReferenceCache,
    assess,
    base_score,
)
from registry.services.matching.donor import (
    Gap,
    ProjectMatch,
    funding_gaps,
    listed_gaps,
    matching_projects,
    matching_projects_by_source,
    pipeline_projects,
    pipeline_statement,
    project_sort_key,
    with_lists,
)
from registry.services.matching.evidence import (
    BONUS_AREA,
    BONUS_COUNTRY,
    BONUS_REGION,
    EVIDENCE_YEARS,
    MAX_BONUS,
    MAX_SCORE,
    Evidence,
    EvidenceTables,
    Figures,
    countries_funded_by,
    countries_funded_by_sources,
    evidence_bonus,
    evidence_region,
    evidence_regions,
    evidence_tables,
    place_members,
)
from registry.services.matching.finder import (
    FinderResult,
    SourceMatch,
    find_funding,
    get_source,
    source_sort_key,
)
from registry.services.matching.need import Need, build_need, codes_of, looks_like_code, project_need
from registry.services.matching.similar import SIMILAR_LIMIT, Candidate, Similar, similar_projects

__all__ = [
    "BONUS_AREA",
    "BONUS_COUNTRY",
    "BONUS_REGION",
    "EVIDENCE_YEARS",
    "HARD",
    "LABELS",
    "MET",
    "NOT_MET",
    "SIMILAR_LIMIT",
    "UNKNOWN",
    "WEIGHTS",
    "Assessed",
    "Candidate",
    "Criterion",
    "Evidence",
    "EvidenceTables",
    "Figures",
    "FinderResult",
    "Gap",
    "Need",
    "ProjectMatch",
    "ReferenceCache",
    "Similar",
    "SourceMatch",
    "assess",
    "base_score",
    "build_need",
    "codes_of",
    "countries_funded_by",
    "countries_funded_by_sources",
    "evidence_bonus",
    "MAX_BONUS",
    "MAX_SCORE",
    "evidence_region",
    "evidence_regions",
    "place_members",
    "evidence_tables",
    "find_funding",
    "funding_gaps",
    "listed_gaps",
    "get_source",
    "looks_like_code",
    "matching_projects",
    "matching_projects_by_source",
    "pipeline_projects",
    "pipeline_statement",
    "project_need",
    "project_sort_key",
    "similar_projects",
    "source_sort_key",
    "with_lists",
]
