"""The description of one activity: what it is called and says, who reports and takes part,
its other identifiers, its status and its dates."""

from __future__ import annotations

from importers.iati.context import IatiProjectRecord, ReadingContext
from importers.iati.values import code_of, narrative, parse_date, tied_status_of
from importers.messages import Text
from importers.records import Location
from registry.models.scope import IATI_ACTIVITY_SCOPES
from registry.models.types import N_
from registry.services import direction

# IATI ActivityStatus -> registry status. 3 "Finalisation" means the physical activity is
# complete (only the accounts remain open), so it counts as completed.
STATUS = {
    "1": "pipeline",
    "2": "active",
    "3": "completed",
    "4": "completed",
    "5": "cancelled",
    "6": "suspended",
}
DATE_FIELDS = {"1": "planned_start", "2": "actual_start", "3": "planned_end", "4": "actual_end"}
TITLE_MAX, DESCRIPTION_MAX = 500, 20_000


def read_description(ctx: ReadingContext, act, identifier: str, lang: str) -> IatiProjectRecord:
    """A record with the activity's reference, title, description, organisations, aliases and status."""
    reporting = act.find("reporting-org")
    title = narrative(act.find("title"), lang)
    if not title:
        ctx.warn("no_title", N_("No title: the identifier is used as title"), act, "title", identifier)
        title = identifier
    if len(title) > TITLE_MAX:
        ctx.warn(
            "title_truncated",
            Text(N_("Title longer than %(max)s characters was cut"), max=str(TITLE_MAX)),
            act,
            "title",
        )
        title = title[: TITLE_MAX - 1] + "…"
    descriptions = act.findall("description")
    general = [d for d in descriptions if (d.get("type") or "1") == "1"] or descriptions
    description = narrative(general[0], lang) if general else ""
    record = IatiProjectRecord(
        reference=identifier[:120],
        title=title,
        org=(reporting.get("ref") or None) if reporting is not None else None,
        org_name=narrative(reporting, lang) or None if reporting is not None else None,
        iati_identifier=identifier,
        description=description[:DESCRIPTION_MAX],
        location=Location(file=ctx.filename, row=act.sourceline, column="iati-activity"),
        other_identifiers=other_identifiers(act),
    )
    if len(identifier) > 120:
        ctx.warn("reference_truncated", N_("Identifier longer than 120 characters: reference cut"), act)
    for org in act.findall("participating-org"):
        record.participating_orgs.append({"role": org.get("role"), "ref": org.get("ref"), "name": narrative(org, lang)})
    # The funding organisations (role 1) with their IATI organisation type: a DAC member or a
    # multilateral among them funding a Southern provider makes the cooperation triangular.
    record.funding_partners = direction.partners_text(
        [
            (org.get("type"), org.get("ref") or "")
            for org in act.findall("participating-org")
            if (org.get("role") or "").strip() == "1"
        ]
    )
    record.collaboration_type = collaboration_type_of(ctx, act)
    status = act.find("activity-status")
    code = status.get("code") if status is not None else None
    record.status = STATUS.get(code or "")
    if record.status is None:
        ctx.warn(
            "status",
            N_("No known activity-status: imported as active"),
            act if status is None else status,
            "activity-status",
            code,
        )
        record.status = "active"
    record.default_tied_status = tied_status_of(ctx, act, "default-tied-status")
    record.scope = activity_scope_of(ctx, act)
    return record


def collaboration_type_of(ctx: ReadingContext, act) -> str | None:
    """The activity's IATI CollaborationType code; None when absent, and when not a code of
    the list (with a warning)."""
    elem = act.find("collaboration-type")
    code = (elem.get("code") or "").strip() if elem is not None else ""
    if not code:
        return None
    try:
        return direction.collaboration_type(code)
    except ValueError:
        ctx.warn(
            "collaboration_type",
            N_("Not an IATI CollaborationType code: the collaboration type is left empty"),
            elem,
            "collaboration-type/@code",
            code,
        )
        return None


def activity_scope_of(ctx: ReadingContext, act) -> str | None:
    """The scope of the activity's IATI activity-scope (1 global, 2 regional, 3 multi-national,
    4-8 national and within one country); None when absent, and when not an ActivityScope code
    (with a warning: the scope is then derived from the recipients)."""
    code = code_of(act, "activity-scope")
    if code is None:
        return None
    if code in IATI_ACTIVITY_SCOPES:
        return IATI_ACTIVITY_SCOPES[code]
    ctx.warn(
        "activity_scope",
        N_("Not an IATI ActivityScope code (1-8): the scope is derived from the recipients"),
        act.find("activity-scope"),
        "activity-scope/@code",
        code,
    )
    return None


def other_identifiers(act) -> list[str]:
    """The activity's other identifiers as "TYPE:ref" (a ref alone when the type is missing).

    The iati-identifier identifies the activity and is the project reference; the other
    identifiers (the publisher's own A1, a previous one, ...) are aliases only: several
    activities may share one, which never merges them."""
    aliases = []
    for other in act.findall("other-identifier"):
        ref = " ".join((other.get("ref") or "").split())
        if ref:
            # As the export writes them back.
            kind = (other.get("type") or "").strip().upper()
            alias = f"{kind}:{ref}" if kind else ref
            if alias not in aliases:
                aliases.append(alias)
    return aliases


def read_dates(ctx: ReadingContext, act, record: IatiProjectRecord) -> None:
    """The planned and actual start and end; an end before its start is left out, and said so."""
    for elem in act.findall("activity-date"):
        name = DATE_FIELDS.get((elem.get("type") or "").strip())
        if name is None:
            continue
        day = parse_date(elem.get("iso-date"))
        if day is None:
            ctx.warn(
                "bad_date",
                N_("Not an ISO date: ignored"),
                elem,
                "activity-date/@iso-date",
                elem.get("iso-date"),
            )
            continue
        setattr(record, name, day)
    for start, end in (("planned_start", "planned_end"), ("actual_start", "actual_end")):
        a, b = getattr(record, start), getattr(record, end)
        if a and b and a > b:
            ctx.warn(
                "dates_reversed",
                Text(
                    N_("planned end %(end)s is before planned start %(start)s: the end date was left out")
                    if end == "planned_end"
                    else N_("actual end %(end)s is before actual start %(start)s: the end date was left out"),
                    end=b.isoformat(),
                    start=a.isoformat(),
                ),
                act,
                "activity-date",
            )
            setattr(record, end, None)
