"""The organisation a file proposes as the owner of its import, for an administrator to confirm.

An administrator may import for any organisation, so the owner is never a silent default: it
is proposed from the file's reporting organisation and confirmed (or changed) before the
commit; with no match, nothing is proposed and the administrator chooses.

- IATI: the activities' ``reporting-org`` (its ref, else its name), when one organisation
  reports every activity.
- OECD CRS: the donor (its code through the CRS donor list, else its name), when one donor
  covers every row.
- Spreadsheets: they name no reporting organisation; nothing is proposed.

A proposal matches a registered organisation by reference, IATI identifier or exact name
(``registry.services.organisations.find_organisation``). A batch keeps what happened in
``options["owner"]``: ``{"proposed_from": "<the file's words>", "confirmed": false}`` until the
administrator confirms it; a batch without it had its owner chosen by whoever imported it.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from registry.models import Organisation
from registry.services.organisations import find_organisation


class Proposal(NamedTuple):
    named: str | None  # how the file names its organisation ("DFID (GB-GOV-1)"), if it names one
    org: Organisation | None  # the registered organisation it matches


NONE = Proposal(None, None)


def propose(kind: str, path: Path, filename: str) -> Proposal:
    """The owner the file proposes (never raises: a file that cannot be read proposes none)."""
    try:
        if kind == "iati":
            found = _iati_publishers(path, filename)
        elif kind == "crs":
            found = _crs_donors(path, filename)
        else:
            return NONE
    except Exception:  # noqa: BLE001 - the check that follows reports what is wrong with the file
        return NONE
    if len(found) != 1:
        return NONE
    ((ref, name),) = found
    named = f"{name} ({ref})" if name and ref else (name or ref)
    org = (find_organisation(ref) if ref else None) or (find_organisation(name) if name else None)
    return Proposal(named or None, org)


def _iati_publishers(path: Path, filename: str) -> set[tuple[str, str]]:
    """The (ref, name) of each organisation reporting activities (two are enough to stop)."""
    from importers.iati.values import narrative
    from importers.iati.xml import stream_activities

    found: dict[str, tuple[str, str]] = {}
    with path.open("rb") as source:
        for act in stream_activities(source, filename, lambda root: None):
            reporting = act.find("reporting-org")
            ref = (reporting.get("ref") or "").strip() if reporting is not None else ""
            name = narrative(reporting, "en").strip() if reporting is not None else ""
            found.setdefault(ref or name.lower(), (ref, name))
            if len(found) > 1:
                break
    return {f for f in found.values() if any(f)} if len(found) == 1 else set(found.values())


def _crs_donors(path: Path, filename: str) -> set[tuple[str, str]]:
    from importers.crs.columns import canonical_frame
    from importers.crs.files import read_frame
    from importers.mapping import load_mapping

    frame, _headers = canonical_frame(read_frame(path, filename), filename, "current")
    codes = {str(c).strip() for c in frame["donor_code"]}
    if len(codes) != 1:
        return {(code, "") for code in codes}  # several donors (or none): no proposal
    (code,) = codes
    donor = load_mapping().donors.get(code)
    names = {str(n).strip() for n in frame["donor_name"]} if "donor_name" in frame else set()
    name = donor.name if donor else (next(iter(names)) if len(names) == 1 else "")
    return {((donor.ref or donor.iati_ref) if donor else "", name)}
