"""The marketplace: governments' pipeline projects, donors' interest, commitments, saved searches.

Rights (see docs/funding-finder.md): a recipient government posts, edits and withdraws
pipeline projects of its own organisation for its own country; a donor records and
withdraws its organisation's interest and commits money from its own funding sources;
an administrator may do all of it. Services check these rules themselves, so the API,
the pages and the CLI cannot drift apart; they flush and never commit. By module:

- ``pipeline``: post, change and withdraw a pipeline project; who may;
- ``interest``: donors' interest, recorded and withdrawn;
- ``commitments``: money committed from a donor's source (the project is active once its need is covered);
- ``cofinancing``: the open list with each project's remaining gap, who has committed, who is interested;
- ``searches``: saved searches and the marketplace's list filters;
- ``feeds``: a saved search's current and new matches, for the Atom and CSV feeds;
- ``common``: the actor's account and role, text a database column can hold.

Callers import from here (``from registry.services import marketplace``).
"""

from registry.services.marketplace.cofinancing import (
    SORTS,
    Listing,
    can_see_who_is_interested,
    commitments_by_project,
    commitments_to,
    committer,
    has_commitments,
    interests_by_project,
    is_covered,
    open_projects,
    settle,
)
from registry.services.marketplace.commitments import commit_to_pipeline_project, sources_for
from registry.services.marketplace.feeds import FeedItem, new_matches, search_matches
from registry.services.marketplace.interest import (
    can_see_interests,
    express_interest,
    get_interest,
    interest_of,
    interests,
    withdraw_interest,
)
from registry.services.marketplace.pipeline import (
    PIPELINE_FIELDS,
    REQUIRED,
    can_edit_pipeline,
    get_pipeline_project,
    post_pipeline_project,
    project_country,
    update_pipeline_project,
    was_withdrawn,
    withdraw_pipeline_project,
)
from registry.services.marketplace.searches import (
    FUNDING_KEYS,
    PIPELINE_KEYS,
    SEARCH_KINDS,
    clean_search_params,
    create_saved_search,
    delete_saved_search,
    get_saved_search,
    mark_seen,
    pipeline_filters,
    saved_searches,
    search_by_token,
)

__all__ = [
    "FUNDING_KEYS",
    "PIPELINE_FIELDS",
    "PIPELINE_KEYS",
    "REQUIRED",
    "SEARCH_KINDS",
    "SORTS",
    "FeedItem",
    "Listing",
    "can_edit_pipeline",
    "can_see_interests",
    "can_see_who_is_interested",
    "commitments_to",
    "commitments_by_project",
    "committer",
    "has_commitments",
    "interests_by_project",
    "is_covered",
    "open_projects",
    "settle",
    "clean_search_params",
    "commit_to_pipeline_project",
    "create_saved_search",
    "delete_saved_search",
    "express_interest",
    "get_interest",
    "get_pipeline_project",
    "get_saved_search",
    "interest_of",
    "interests",
    "mark_seen",
    "new_matches",
    "pipeline_filters",
    "post_pipeline_project",
    "project_country",
    "sources_for",
    "search_by_token",
    "search_matches",
    "saved_searches",
    "update_pipeline_project",
    "was_withdrawn",
    "withdraw_interest",
    "withdraw_pipeline_project",
]
