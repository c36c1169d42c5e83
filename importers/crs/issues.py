"""The problems of a CRS file, counted by kind: a year of CRS has a million rows, and a
problem that concerns thousands of them is said once, with its count and first row."""

from __future__ import annotations

from dataclasses import dataclass, field

from importers.messages import Text
from importers.records import Location, Problem
from registry.models.types import N_

ERROR_CODES = ("bad_amount", "bad_year", "no_year")  # the rest are warnings


@dataclass
class Issue:
    """One kind of problem (and value) with every row it concerns."""

    code: str
    message: str
    count: int = 0
    first_row: int | None = None
    value: str | None = None
    column: str | None = None
    rows: list[int] = field(default_factory=list)


@dataclass
class IssueLog:
    """The problems of one file, one per kind and value."""

    filename: str
    issues: dict[tuple, Issue] = field(default_factory=dict)

    def note(self, code: str, message: str, rows: list[int], value=None, column: str | None = None) -> None:
        """Count ``rows`` under the problem ``code`` with ``value`` (the first note's message stays)."""
        issue = self.issues.setdefault((code, value), Issue(code, message, 0, rows[0] if rows else None, value, column))
        issue.count += len(rows)
        issue.rows.extend(rows)

    def problems(self) -> list[Problem]:
        """One problem per kind and value, with its count and first row."""
        result = []
        for issue in self.issues.values():
            result.append(
                Problem(
                    severity="error" if issue.code in ERROR_CODES else "warning",
                    code=issue.code,
                    message=Text(
                        N_("%(problem)s (%(count)s rows, first at row %(row)s)"),
                        problem=issue.message if isinstance(issue.message, Text) else Text(issue.message),
                        count=issue.count,
                        row=str(issue.first_row),
                    )
                    if issue.count > 1
                    else issue.message,
                    location=Location(file=self.filename, row=issue.first_row, column=issue.column),
                    value=issue.value,
                    rows=tuple(issue.rows),
                )
            )
        return result
