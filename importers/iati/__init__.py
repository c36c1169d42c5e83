"""IATI activity XML (versions 2.01-2.03) -> ProjectRecord stream, with problems.

The reading is split by what it reads, one module each:

- ``xml``: the file streamed with lxml ``iterparse``, unsafe XML refused, the version checked;
- ``reader``: ``IatiReader``, which reads each activity through the stages below, in order;
- ``activity``: its title, description, organisations, other identifiers, status, dates;
- ``sectors``: its DAC sectors, the ICT filter and the paragraph 23 areas;
- ``transactions``: its flows, each with a checked value, currency and value date;
- ``recipients``: its recipient countries and regions and their shares;
- ``budgets``: its need, the sum of its budgets;
- ``context`` and ``values``: the problems every stage reports and the small readings they share.

Mapping rules are in docs/iati-crs.md. The names other modules import are re-exported here.
"""

from importers.iati.context import IatiProjectRecord
from importers.iati.reader import IatiReader, read_iati
from importers.iati.sectors import AREA_VOCABULARY, AREA_VOCABULARY_URI, INFERRED_MARK
from importers.iati.xml import SUPPORTED_VERSIONS, IatiFileError, UnsafeXMLError, looks_like_iati

__all__ = [
    "AREA_VOCABULARY",
    "AREA_VOCABULARY_URI",
    "INFERRED_MARK",
    "SUPPORTED_VERSIONS",
    "IatiFileError",
    "IatiProjectRecord",
    "IatiReader",
    "UnsafeXMLError",
    "looks_like_iati",
    "read_iati",
]
