"""The IATI file as XML: streamed activity by activity, refused when unsafe, its version checked.

lxml ``iterparse`` reads the file; each ``iati-activity`` is handed over once, then cleared
together with its earlier siblings, so memory stays bounded whatever the file size. Any
DOCTYPE (and with it any entity declaration: XXE, "billion laughs") is refused before a
single activity is handed over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

from lxml import etree

from importers.messages import Text
from registry.models.types import N_

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SUPPORTED_VERSIONS = ("2.01", "2.02", "2.03")


class _Refusal(ValueError):
    """A refusal of the whole file: ``str(exc)`` is its message, a ``Text`` (English, shown in
    the reader's language), so that the batch keeps its id and parameters."""

    def __str__(self) -> str:
        return self.args[0] if self.args and isinstance(self.args[0], str) else super().__str__()


class UnsafeXMLError(_Refusal):
    """The file declares a DOCTYPE or entities; it is refused unread."""


class IatiFileError(_Refusal):
    """The file is not IATI activity XML that can be read (broken XML, wrong version)."""


def stream_activities(source: BinaryIO, filename: str, on_root: Callable[[object], None]) -> Iterator[object]:
    """Each ``iati-activity`` element of the file, in order; ``on_root`` gets the
    ``iati-activities`` element first (when its start is read). An activity is cleared,
    with what precedes it, once the consumer asks for the next one."""
    # Whether the file declares a DOCTYPE or entities, to tell such a refusal from a file that
    # is simply not XML (an error page or a JSON body saved as .xml) when parsing fails early.
    declares = True
    if source.seekable():
        head = source.read(65536).lower()
        source.seek(0)
        declares = b"<!doctype" in head or b"<!entity" in head
    context = etree.iterparse(
        source,
        events=("start", "end"),
        tag=("iati-activities", "iati-activity"),
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )
    checked = False
    try:
        for event, elem in context:
            if not checked:
                refuse_doctype(elem, filename)
                checked = True
            if event == "start":
                if elem.tag == "iati-activities":
                    on_root(elem)
                continue
            if elem.tag != "iati-activity":
                continue
            yield elem
            # Free the activity and everything before it: bounded memory.
            elem.clear(keep_tail=False)
            parent = elem.getparent()
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        if (not checked and declares) or "entit" in str(exc).lower() and "DOCTYPE" in str(exc):
            raise UnsafeXMLError(
                Text(
                    N_(
                        "%(file)s: refused: the file declares a DOCTYPE or entities, which IATI files never need "
                        "(protection against XXE and entity expansion)"
                    ),
                    file=filename,
                )
            ) from None
        raise IatiFileError(Text(N_("%(file)s: not well-formed XML: %(error)s"), file=filename, error=exc)) from None
    if not checked:
        raise IatiFileError(Text(N_("%(file)s: no iati-activities element: not IATI activity XML"), file=filename))


def refuse_doctype(elem, filename: str) -> None:
    """Raise UnsafeXMLError when the document declares a DOCTYPE, IatiFileError when its root
    is not ``iati-activities``."""
    info = elem.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        if info.doctype:
            message = Text(
                N_(
                    "%(file)s: refused: the file declares a DOCTYPE (%(doctype)s); IATI files never need one, "
                    "and DOCTYPEs carry entity attacks (XXE, billion laughs). Nothing was imported."
                ),
                file=filename,
                doctype=info.doctype,
            )
        else:
            message = Text(
                N_(
                    "%(file)s: refused: the file declares a DOCTYPE (internal subset); IATI files never need "
                    "one, and DOCTYPEs carry entity attacks (XXE, billion laughs). Nothing was imported."
                ),
                file=filename,
            )
        raise UnsafeXMLError(message)
    if elem.tag != "iati-activities":
        raise IatiFileError(
            Text(N_("%(file)s: the root element is <%(tag)s>, not <iati-activities>"), file=filename, tag=str(elem.tag))
        )


def check_version(version: str, filename: str) -> None:
    """Raise IatiFileError for a stated version this reader does not read (an empty one is read as 2.03)."""
    if version and version not in SUPPORTED_VERSIONS:
        raise IatiFileError(
            Text(
                N_("%(file)s: IATI version %(version)s is not supported (versions 2.01 to 2.03 are)"),
                file=filename,
                version=version,
            )
        )


def looks_like_iati(head: bytes) -> bool:
    """True when the first bytes of an upload look like IATI activity XML (upload detection)."""
    text = head[:4096]
    for encoding in ("utf-8", "utf-16"):
        try:
            decoded = text.decode(encoding, errors="ignore")
        except LookupError:  # pragma: no cover
            continue
        if "<iati-activities" in decoded:
            return True
    return False
