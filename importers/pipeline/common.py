"""What every stage of the import pipeline shares: the shape of a validated flow (``TX_FIELDS``),
the batch sizes, the maker of problem reports, and the garbage-collector pause of a run."""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterable
from typing import Any

from importers.records import Location, Problem

Progress = Callable[[int, int, str], None]
CHUNK_SIZE = 5000  # transactions per INSERT executemany (and per progress step)
MAX_STORED_PROBLEMS = 5000  # the batch keeps this many; the counts keep them all
# A validated transaction is a tuple of these values (see _Resolver.tx_row); the batch's
# rows get project_id, import_batch_id and created_at in front of them (TX_INSERT). It stays a
# plain tuple, not a named one: it is the INSERT's row as the driver takes it, a hundred
# thousand of them in a large file; its positions are named by the *_AT constants below.
TX_FIELDS = (
    "funding_source_id",
    "provider_org_id",
    "type",
    "amount_minor",
    "currency",
    "value_date",
    "flow_type",
    "finance_type",
    "aid_type",
    "description",
    "usd_minor",
    "usd_rate",
    "usd_rate_date",
    "price_basis",
    "recipient_country_iso3",
    "recipient_region_code",
    "confirmed",  # see projects.flow_confirmed: another organisation's source waits for it
    "usd_rate_source",
    "tied_status",  # IATI TiedStatus code; None: the project's default applies
)
_USD_AT = TX_FIELDS.index("usd_minor")
_TYPE_AT, _AMOUNT_AT = TX_FIELDS.index("type"), TX_FIELDS.index("amount_minor")
_TIED_AT = TX_FIELDS.index("tied_status")
_CURRENCY_AT, _VALUE_DATE_AT = TX_FIELDS.index("currency"), TX_FIELDS.index("value_date")
TX_INSERT = ("project_id", "import_batch_id", "created_at", *TX_FIELDS)
# Every column of a stored transaction (read back for the undo log of replaced ones).
TX_COLUMNS = ("id", "project_id", *TX_FIELDS, "import_batch_id", "created_at")


def _problem(
    severity: str,
    code: str,
    message: str,
    location: Location | None,
    value: Any = None,
    column: str | None = None,
) -> Problem:
    loc = Location(**vars(location)) if location is not None else Location()
    if column:
        loc.column = column
    return Problem(severity, message, loc, None if value is None else str(value), code)


_MISSING = object()
# The record fields (``ProjectRecord.columns``) that carry money: a file with none of them
# says nothing about a project's flows.
_FLOW_FIELDS = frozenset({"amount", "commitment", "disbursement", "expenditure", "pledge", "incoming_funds"})


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def gc_paused(func: Callable) -> Callable:
    """Run ``func`` with the cyclic garbage collector paused.

    An import builds hundreds of thousands of small objects (records, rows, snapshots)
    that all live until the end of the run; the collector would walk them again and again
    (a third of the pipeline's CPU time on a 100,000-row file) and find nothing to free.
    Reference counting still frees everything as usual; the collector resumes afterwards."""

    @functools.wraps(func)
    def paused(*args: Any, **kwargs: Any) -> Any:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return paused
