"""`flask --app wsgi project create|update|show` and `funding-source create|update|show`: register
and change projects and funding sources from a JSON or YAML file (``-``: stdin) with the fields
of the API's request bodies, read by the same schemas and saved by the same services, with the
rights of the user named by ``--as`` (default: the system, an administrator's script).

Each change is one unit of work (``command_unit``): saved whole, or refused with the message,
the problem of each field and exit status 1."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from registry.cli_support import (
    acting,
    as_option,
    echo_fields,
    echo_json,
    expected_version,
    format_option,
    load_input,
    read_document,
    reading,
    version_options,
)
from registry.errors import ValidationError
from registry.models.types import ProjectStatus, Role
from registry.unit_of_work import command_unit

project_cli = AppGroup("project", help="Projects: register, change and show them (JSON or YAML input).")
source_cli = AppGroup("funding-source", help="Funding sources: add, change and show them (JSON or YAML input).")

INPUT = click.File("r", encoding="utf-8-sig")


# -- projects -------------------------------------------------------------------------------


def project_json(project) -> dict:
    from registry.schemas.projects import ProjectOut

    return ProjectOut().dump(project)


def echo_project(project, output: str) -> None:
    body = project_json(project)
    if output == "json":
        echo_json(body)
        return
    need = body["need"]
    echo_fields(
        [
            ("id", body["id"]),
            ("reference", body["reference"]),
            ("title", body["title"]),
            ("organisation", f"{body['org']['name']} ({body['org']['ref']}, id {body['org']['id']})"),
            ("status", body["status"]),
            ("iati identifier", body["iati_identifier"]),
            ("recipients", [_place(r) for r in body["recipients"]]),
            ("areas", [f"{a['code']} {a['share']}%" for a in body["areas"]]),
            ("sectors", body["sectors"]),
            ("wsis action lines", body["wsis_action_lines"]),
            ("need", f"{need['amount']} {need['currency']} (USD {need['usd'] or '-'})" if need else None),
            ("instrument sought", body["instrument_sought"]),
            ("planned", _span(body["planned_start"], body["planned_end"])),
            ("actual", _span(body["actual_start"], body["actual_end"])),
            ("contact", " ".join(v for v in (body["contact_name"], body["contact_email"]) if v) or None),
            ("description", body["description"]),
            ("version", body["version"]),
            ("updated", body["updated_at"]),
        ]
    )


def _place(recipient: dict) -> str:
    code = recipient["country"] or recipient["region"] or "unallocated"
    return f"{code} {recipient['share']}%" if recipient["share"] is not None else code


def _span(start: str | None, end: str | None) -> str | None:
    return f"{start or '?'} to {end or '?'}" if start or end else None


@project_cli.command("create")
@click.argument("file", type=INPUT)
@as_option()
@format_option()
def project_create(file, as_email: str | None, output: str) -> None:
    """Register a project from FILE (JSON or YAML, - for stdin) with the fields of
    POST /api/v1/projects. A donor registers its organisation's projects; the system (or an
    administrator) names the organisation with org_id."""
    from registry.schemas.projects import ProjectIn
    from registry.services import projects, rights

    document = read_document(file)
    who = acting(as_email)
    with command_unit():
        data = load_input(ProjectIn(), document)
        org = rights.reporting_org(who.user, data.pop("org_id", None))
        if who.user.role is Role.GOVERNMENT:
            data.setdefault("status", ProjectStatus.PIPELINE.value)
        rights.check_may_save(who.user, org, None, data)
        project = projects.create_project(who.actor, org, data)
    _done("Registered", "project", project, echo_project, output)


@project_cli.command("update")
@click.argument("project_id", type=int)
@click.argument("file", type=INPUT)
@as_option()
@version_options
@format_option()
def project_update(project_id: int, file, as_email: str | None, version: int | None, force: bool, output: str) -> None:
    """Change project PROJECT_ID with the fields in FILE (JSON or YAML, - for stdin; any
    subset of PATCH /api/v1/projects/<id>). Say the version it is based on (--version or
    "version" in the file), or --force."""
    from registry.schemas.projects import ProjectPatch
    from registry.services import projects, rights

    document = read_document(file)
    who = acting(as_email)
    with command_unit():
        data = load_input(ProjectPatch(partial=True), document)
        project = rights.project_to_change(who.user, project_id)
        expected = expected_version(data, version, force)
        if "org_id" in data:
            raise ValidationError("A project cannot move to another organisation", {"org_id": ["Read-only"]})
        rights.check_may_save(who.user, project.org, project, data)
        projects.update_project(who.actor, project, data, expected)
    _done("Changed", "project", project, echo_project, output)


@project_cli.command("show")
@click.argument("project_id", type=int)
@format_option()
def project_show(project_id: int, output: str) -> None:
    """Show project PROJECT_ID: a table, or the JSON of GET /api/v1/projects/<id>."""
    from registry.models import Project
    from registry.services.lookup import load

    with reading():
        echo_project(load(Project, project_id, "project"), output)


def _done(verb: str, what: str, obj, echo, output: str) -> None:
    """After a change: the saved object (JSON: the API's answer alone, for scripts)."""
    if output == "table":
        click.echo(f"{verb} {what} {obj.id} (version {obj.version}).")
    echo(obj, output)


# -- funding sources ------------------------------------------------------------------------


def source_json(source) -> dict:
    from registry.schemas.funding import FundingSourceOut

    return FundingSourceOut().dump(source)


def echo_source(source, output: str) -> None:
    body = source_json(source)
    if output == "json":
        echo_json(body)
        return
    org = body["managing_org"]
    low, high, currency = body["min_amount"], body["max_amount"], body["amount_currency"]
    amounts = None
    if low or high:
        amounts = f"{low or '0'} to {high or 'any'} {currency}"
    echo_fields(
        [
            ("id", body["id"]),
            ("ref", body["ref"]),
            ("name", body["name"]),
            ("kind", body["kind"]),
            ("managing organisation", f"{org['name']} ({org['ref']}, id {org['id']})" if org else None),
            ("instruments", body["instruments"]),
            ("countries", body["countries"]),
            ("regions", body["regions"]),
            ("categories", body["categories"]),
            ("areas", body["areas"]),
            ("amounts", amounts),
            ("window", _span(body["window_from"], body["window_until"])),
            ("website", body["website"]),
            ("description", body["description"]),
            ("version", body["version"]),
            ("updated", body["updated_at"]),
        ]
    )


@source_cli.command("create")
@click.argument("file", type=INPUT)
@as_option()
@format_option()
def source_create(file, as_email: str | None, output: str) -> None:
    """Add a funding source from FILE (JSON or YAML, - for stdin) with the fields of
    POST /api/v1/funding-sources. A donor adds sources its organisation manages; the system
    (or an administrator) names the managing organisation with managing_org_id."""
    from registry.schemas.funding import FundingSourceIn
    from registry.services import funding, rights

    document = read_document(file)
    who = acting(as_email)
    with command_unit():
        data = load_input(FundingSourceIn(), document)
        rights.check_new_source(who.user, data)
        source = funding.create_funding_source(who.actor, data)
    _done("Added", "funding source", source, echo_source, output)


@source_cli.command("update")
@click.argument("source_id", type=int)
@click.argument("file", type=INPUT)
@as_option()
@version_options
@format_option()
def source_update(source_id: int, file, as_email: str | None, version: int | None, force: bool, output: str) -> None:
    """Change funding source SOURCE_ID with the fields in FILE (JSON or YAML, - for stdin;
    any subset of PATCH /api/v1/funding-sources/<id>). Say the version it is based on
    (--version or "version" in the file), or --force."""
    from registry.schemas.funding import FundingSourcePatch
    from registry.services import funding, permissions, rights

    document = read_document(file)
    who = acting(as_email)
    with command_unit():
        data = load_input(FundingSourcePatch(partial=True), document)
        source = rights.source_to_change(who.user, source_id)
        expected = expected_version(data, version, force)
        if "managing_org_id" in data:
            rights.forbid_unless(
                permissions.can_create_source(who.user, data["managing_org_id"]),
                "You may not hand the funding source to another organisation",
            )
        funding.update_funding_source(who.actor, source, data, expected)
    _done("Changed", "funding source", source, echo_source, output)


@source_cli.command("show")
@click.argument("source_id", type=int)
@format_option()
def source_show(source_id: int, output: str) -> None:
    """Show funding source SOURCE_ID: a table, or the JSON of GET /api/v1/funding-sources/<id>."""
    from registry.services.funding import get_funding_source

    with reading():
        echo_source(get_funding_source(source_id), output)
