"""What the parts of one IATI file's reading share: the record they fill and the problems they report.

Every problem says where it is: the file, the line of the XML element and the XML path (the
``column`` of a location), and the value read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from importers.mapping import Mapping
from importers.records import Location, Problem, ProjectRecord


@dataclass
class IatiProjectRecord(ProjectRecord):
    """A project read from IATI, with what the registry keeps only in the report."""

    participating_orgs: list[dict] = field(default_factory=list)
    sector_shares: dict[str, Decimal] = field(default_factory=dict)


class ReadingContext:
    """One file's name, code mapping, counts and problems, as each part of its reading sees them."""

    def __init__(self, filename: str, mapping: Mapping) -> None:
        self.filename = filename
        self.mapping = mapping
        self.problems: list[Problem] = []
        self.counts = {
            "activities": 0,
            "kept": 0,
            "filtered_out": 0,
            "transactions": 0,
            "transactions_skipped": 0,
        }

    def _problem(
        self,
        severity: str,
        code: str,
        message: str,
        elem=None,
        column: str | None = None,
        value=None,
    ):
        line = elem.sourceline if elem is not None else None
        self.problems.append(
            Problem(
                severity=severity,
                code=code,
                message=message,
                location=Location(file=self.filename, row=line, column=column),
                value=None if value is None else str(value),
            )
        )

    def warn(self, code: str, message: str, elem=None, column: str | None = None, value=None) -> None:
        """A warning at ``elem``'s line and the XML path ``column``."""
        self._problem("warning", code, message, elem, column, value)

    def error(self, code: str, message: str, elem=None, column: str | None = None, value=None) -> None:
        """An error at ``elem``'s line and the XML path ``column``."""
        self._problem("error", code, message, elem, column, value)
