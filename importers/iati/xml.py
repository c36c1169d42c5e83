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

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SUPPORTED_VERSIONS = ("2.01", "2.02", "2.03")


class UnsafeXMLError(ValueError):
    """The file declares a DOCTYPE or entities; it is refused unread."""


class IatiFileError(ValueError):
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
                f"{filename}: refused: the file declares a DOCTYPE or entities, "
                "which IATI "
                "files never need (protection against XXE and entity expansion)"
            ) from None
        raise IatiFileError(f"{filename}: not well-formed XML: {exc}") from None
    if not checked:
        raise IatiFileError(f"{filename}: no iati-activities element: not IATI activity XML")


def refuse_doctype(elem, filename: str) -> None:
    """Raise UnsafeXMLError when the document declares a DOCTYPE, IatiFileError when its root
    is not ``iati-activities``."""
    info = elem.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise UnsafeXMLError(
            f"{filename}: refused: the file declares a DOCTYPE"
            f" ({info.doctype or 'internal subset'}); IATI files never need one, and DOCTYPEs"
            " carry entity attacks (XXE, billion laughs). Nothing was imported."
        )
    if elem.tag != "iati-activities":
        raise IatiFileError(f"{filename}: the root element is <{elem.tag}>, not <iati-activities>")


def check_version(version: str, filename: str) -> None:
    """Raise IatiFileError for a stated version this reader does not read (an empty one is read as 2.03)."""
    if version and version not in SUPPORTED_VERSIONS:
        raise IatiFileError(f"{filename}: IATI version {version} is not supported (versions 2.01 to 2.03 are)")


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
