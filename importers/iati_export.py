"""Projects -> IATI 2.03 activity XML that validates against the official schema.

Written incrementally (lxml ``xmlfile``), one activity at a time, so memory does not grow
with the number of projects. What each registry field becomes is in docs/iati-export.md;
the paragraph 23 areas are a ``sector`` of vocabulary 99 (reporting organisation) with a
vocabulary URI pointing at docs/area-mapping.md, so the file carries them in the standard
and our importer reads them back as stated (not inferred) areas.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import BinaryIO

from flask import current_app
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from importers.allocate import shares_from_weights
from importers.iati import AREA_VOCABULARY, AREA_VOCABULARY_URI, INFERRED_MARK
from registry.extensions import db
from registry.models import Country, PriorityArea, Project
from registry.models.types import OrganisationKind, ProjectStatus, TransactionType
from registry.money import from_minor

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
STATUS_CODES = {
    ProjectStatus.PIPELINE: "1",
    ProjectStatus.ACTIVE: "2",
    ProjectStatus.COMPLETED: "4",
    ProjectStatus.CANCELLED: "5",
    ProjectStatus.SUSPENDED: "6",
}
# IATI OrganisationType for our organisation kinds.
ORG_TYPES = {
    OrganisationKind.DONOR_AGENCY: "10",
    OrganisationKind.GOVERNMENT: "10",
    OrganisationKind.MULTILATERAL: "40",
    OrganisationKind.REGIONAL_BANK: "40",
    OrganisationKind.FUND: "90",
    OrganisationKind.IMPLEMENTER: "90",
    OrganisationKind.NGO: "21",
    OrganisationKind.PRIVATE: "70",
}
# Every stored type by its IATI 2.03 code: the outgoing pledge is 12 (11 is an incoming commitment).
TX_CODES = {t.value: t.iati_code for t in TransactionType}


def _percent(share_ppm: int) -> str:
    return format((Decimal(share_ppm) / 10_000).normalize(), "f")


def _org_ref(org) -> str:
    return org.iati_ref or org.ref


def activity_identifier(project: Project) -> str:
    """The project's IATI identifier, else its organisation's identifier + '-' + reference."""
    return project.iati_identifier or f"{_org_ref(project.org)}-{project.reference}"


def _activity(project: Project, iso2: dict[str, str], area_names: dict[str, str], area_uri: str) -> etree._Element:
    org = project.org
    today = dt.date.today()
    act = etree.Element("iati-activity", {XML_LANG: "en", "hierarchy": "1"})
    act.set(
        "last-updated-datetime",
        (project.updated_at or dt.datetime.now(dt.UTC)).replace(microsecond=0).isoformat(),
    )
    currencies = {t.currency for t in project.transactions} | ({project.need_currency} - {None})
    if len(currencies) == 1:
        act.set("default-currency", next(iter(currencies)))
    etree.SubElement(act, "iati-identifier").text = activity_identifier(project)
    reporting = etree.SubElement(act, "reporting-org", ref=_org_ref(org), type=ORG_TYPES.get(org.kind, "90"))
    etree.SubElement(reporting, "narrative").text = org.name
    title = etree.SubElement(act, "title")
    etree.SubElement(title, "narrative").text = project.title
    description = etree.SubElement(act, "description", type="1")
    etree.SubElement(description, "narrative").text = project.description or ""
    funder = etree.SubElement(act, "participating-org", ref=_org_ref(org), role="1", type=ORG_TYPES.get(org.kind, "90"))
    etree.SubElement(funder, "narrative").text = org.name
    # Our reference is the publisher's own identifier (type A1): it comes back on import.
    etree.SubElement(act, "other-identifier", ref=project.reference, type="A1")
    etree.SubElement(act, "activity-status", code=STATUS_CODES.get(project.status, "2"))
    dates = [
        ("1", project.planned_start),
        ("2", project.actual_start),
        ("3", project.planned_end),
        ("4", project.actual_end),
    ]
    written = False
    for code, day in dates:
        if day is not None:
            etree.SubElement(act, "activity-date", type=code, **{"iso-date": day.isoformat()})
            written = True
    if not written:
        # The standard needs a date: without any, the registration day is the planned start.
        created = (project.created_at or dt.datetime.now(dt.UTC)).date()
        etree.SubElement(act, "activity-date", type="1", **{"iso-date": created.isoformat()})
    for r in project.recipients:
        if r.country_iso3:
            etree.SubElement(
                act,
                "recipient-country",
                code=iso2.get(r.country_iso3, r.country_iso3),
                percentage=_percent(r.share_ppm),
            )
    for r in project.recipients:
        if r.region_code:
            etree.SubElement(
                act,
                "recipient-region",
                code=r.region_code,
                vocabulary="2",
                percentage=_percent(r.share_ppm),
            )
    sectors = list(project.sectors)
    if sectors:
        if all(s.share_ppm for s in sectors) and sum(s.share_ppm for s in sectors) == 1_000_000:
            shares = [_percent(s.share_ppm) for s in sectors]
        else:
            shares = [format(s.normalize(), "f") for s in shares_from_weights([Decimal(1)] * len(sectors))]
        for sector, share in zip(sectors, shares, strict=True):
            etree.SubElement(act, "sector", vocabulary="1", code=sector.code, percentage=share)
    for area in sorted(project.areas, key=lambda a: a.area_code):
        elem = etree.SubElement(
            act,
            "sector",
            vocabulary=AREA_VOCABULARY,
            **{"vocabulary-uri": area_uri},
            code=area.area_code,
            percentage=_percent(area.share_ppm),
        )
        name = area_names.get(area.area_code, area.area_code)
        etree.SubElement(elem, "narrative").text = name + (INFERRED_MARK if area.inferred else "")
    if project.need_minor is not None and project.need_currency:
        start = project.planned_start or project.need_date or today
        end = project.planned_end or start
        budget = etree.SubElement(act, "budget", type="1", status="1")
        etree.SubElement(budget, "period-start", **{"iso-date": start.isoformat()})
        etree.SubElement(budget, "period-end", **{"iso-date": max(start, end).isoformat()})
        value = etree.SubElement(
            budget,
            "value",
            currency=project.need_currency,
            **{"value-date": (project.need_date or start).isoformat()},
        )
        value.text = str(from_minor(project.need_minor, project.need_currency))
    for tx in project.transactions:
        t = etree.SubElement(act, "transaction")
        etree.SubElement(
            t,
            "transaction-type",
            code=TX_CODES[str(tx.type.value if hasattr(tx.type, "value") else tx.type)],
        )
        etree.SubElement(t, "transaction-date", **{"iso-date": tx.value_date.isoformat()})
        value = etree.SubElement(t, "value", currency=tx.currency, **{"value-date": tx.value_date.isoformat()})
        value.text = str(tx.amount)
        if tx.description:
            desc = etree.SubElement(t, "description")
            etree.SubElement(desc, "narrative").text = tx.description
        if tx.provider_org is not None:
            provider = etree.SubElement(t, "provider-org", ref=_org_ref(tx.provider_org))
            etree.SubElement(provider, "narrative").text = tx.provider_org.name
        if tx.flow_type:
            etree.SubElement(t, "flow-type", code=tx.flow_type)
        if tx.finance_type:
            etree.SubElement(t, "finance-type", code=tx.finance_type)
        if tx.aid_type:
            etree.SubElement(t, "aid-type", code=tx.aid_type)
    return act


def write_iati(projects: Iterable[Project], out: BinaryIO) -> int:
    """Write the projects as one IATI 2.03 ``iati-activities`` document; returns how many."""
    iso2 = dict(db.session.execute(select(Country.iso3, Country.iso2)).all())
    area_names = dict(db.session.execute(select(PriorityArea.code, PriorityArea.short_name)).all())
    generated = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    # Where the registry's documentation is published (docs/area-mapping.md, its
    # "paragraph-23-areas" section); a deployment sets its own address.
    area_uri = current_app.config.get("IATI_AREA_VOCABULARY_URI", AREA_VOCABULARY_URI)
    n = 0
    with etree.xmlfile(out, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element("iati-activities", {"version": "2.03", "generated-datetime": generated}):
            for project in projects:
                xf.write(_activity(project, iso2, area_names, area_uri), pretty_print=True)
                n += 1
    return n


def projects_for_export(stmt) -> Iterable[Project]:
    """The projects of a query with what the export needs, loaded in chunks of 500."""
    ids = list(db.session.scalars(stmt.with_only_columns(Project.id).order_by(None).order_by(Project.id)))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = (
            select(Project)
            .where(Project.id.in_(chunk))
            .options(
                selectinload(Project.org),
                selectinload(Project.recipients),
                selectinload(Project.areas),
                selectinload(Project.sectors),
                selectinload(Project.transactions),
            )
            .order_by(Project.id)
        )
        yield from db.session.scalars(query)
