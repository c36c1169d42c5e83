"""Text cells that spreadsheet programs show as text and never run as formulas (OWASP CSV
injection): every CSV and workbook the registry writes, from the reports, the downloads and
the importers' exports, passes its text through :func:`safe_text`."""

from __future__ import annotations

# A cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def safe_text(value: str) -> str:
    """Text that a spreadsheet shows as text, never runs as a formula."""
    if value and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
