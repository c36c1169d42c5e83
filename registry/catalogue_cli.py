"""`flask --app wsgi project create|update|show`, `flow add|list|show|update|delete --project ID` and
`funding-source create|update|show`: register and change projects, their money flows and funding
sources from a JSON or YAML file (``-``: stdin) with the fields
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
    echo_table,
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
flow_cli = AppGroup("flow", help="A project's money flows: add, list, show, change, delete (JSON or YAML input).")
source_cli = AppGroup("funding-source", help="Funding sources: add, change and show them (JSON or YAML input).")

INPUT = click.File("r", encoding="utf-8-sig")


# -- projects -------------------------------------------------------------------------------


def project_json(project) -> dict:
    """One project as the API's project detail gives it (its derived direction included)."""
    from registry.schemas.projects import ProjectDetailOut

    return ProjectDetailOut().dump(project)


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
            ("direction", body["direction"]),
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


# -- money flows ----------------------------------------------------------------------------

PROJECT_OPTION = click.option("--project", "project_id", type=int, required=True, help="The project's id")


def flow_json(tx) -> dict:
    from registry.schemas.projects import TransactionOut

    return TransactionOut().dump(tx)


def echo_flow(tx, output: str) -> None:
    body = flow_json(tx)
    if output == "json":
        echo_json(body)
        return
    usd = None
    if body["usd"] is not None:
        usd = f"{body['usd']} (rate {body['usd_rate']} of {body['usd_rate_date']}, {body['usd_rate_source']})"
    echo_fields(
        [
            ("id", body["id"]),
            ("project", body["project_id"]),
            ("type", body["type"]),
            ("amount", f"{body['amount']} {body['currency']}"),
            ("value date", body["value_date"]),
            ("usd", usd),
            ("price basis", body["price_basis"]),
            ("funding source", body["funding_source_id"]),
            ("provider organisation", body["provider_org_id"]),
            ("flow type", body["flow_type"]),
            ("finance type", body["finance_type"]),
            ("aid type", body["aid_type"]),
            ("tied status", body["effective_tied_status"]),
            ("description", body["description"]),
            ("confirmed", "yes" if body["confirmed"] else "no"),
            ("project version", tx.project.version),
        ]
    )


def _flow_done(verb: str, tx, output: str) -> None:
    if output == "table":
        click.echo(f"{verb} flow {tx.id} of project {tx.project_id} (project version {tx.project.version}).")
    echo_flow(tx, output)


@flow_cli.command("add")
@PROJECT_OPTION
@click.argument("file", type=INPUT)
@as_option()
@format_option()
def flow_add(project_id: int, file, as_email: str | None, output: str) -> None:
    """Record a money flow of project --project from FILE (JSON or YAML, - for stdin) with the
    fields of POST /api/v1/projects/<id>/transactions."""
    from registry.schemas.projects import TransactionIn
    from registry.services import projects, rights

    document = read_document(file)
    who = acting(as_email)
    with command_unit():
        data = load_input(TransactionIn(), document)
        project = rights.project_to_change(who.user, project_id)
        rights.guard_project(project)
        tx = projects.add_transaction(who.actor, project, data)
    _flow_done("Recorded", tx, output)


@flow_cli.command("list")
@PROJECT_OPTION
@format_option()
def flow_list(project_id: int, output: str) -> None:
    """The money flows of project --project by value date: a table, or the JSON of
    GET /api/v1/projects/<id>/transactions."""
    from registry.models import Project
    from registry.services.lookup import load

    with reading():
        flows = [flow_json(tx) for tx in load(Project, project_id, "project").transactions]
    if output == "json":
        echo_json(flows)
        return
    columns = ("id", "type", "value_date", "amount", "currency", "usd", "funding_source_id", "confirmed")
    headers = ("id", "type", "value date", "amount", "currency", "usd", "funding source", "confirmed")
    rows = [[("yes" if f[c] else "no") if c == "confirmed" else f[c] for c in columns] for f in flows]
    echo_table(headers, rows, right=("amount", "usd"))
    click.echo(f"{len(flows)} flow(s)")


@flow_cli.command("show")
@PROJECT_OPTION
@click.argument("flow_id", type=int)
@format_option()
def flow_show(project_id: int, flow_id: int, output: str) -> None:
    """Show flow FLOW_ID of project --project: a table, or the JSON of
    GET /api/v1/projects/<id>/transactions/<flow id>."""
    from registry.models import Project
    from registry.services import rights
    from registry.services.lookup import load

    with reading():
        echo_flow(rights.transaction_of(load(Project, project_id, "project"), flow_id), output)


@flow_cli.command("update")
@PROJECT_OPTION
@click.argument("flow_id", type=int)
@click.argument("file", type=INPUT)
@as_option()
@version_options
@format_option()
def flow_update(
    project_id: int, flow_id: int, file, as_email: str | None, version: int | None, force: bool, output: str
) -> None:
    """Change flow FLOW_ID of project --project with the fields in FILE (JSON or YAML, - for
    stdin; any subset of PATCH /api/v1/projects/<id>/transactions/<flow id>). Say the project's
    version the change is based on (--version or "project_version" in the file), or --force."""
    from registry.schemas.projects import TransactionPatch
    from registry.services import projects, rights

    document = read_document(file)
    who = acting(as_email)
    with command_unit():
        data = load_input(TransactionPatch(partial=True), document)
        project = rights.project_to_change(who.user, project_id)
        tx = rights.transaction_of(project, flow_id)
        expected = expected_version(data, version, force, field="project_version")
        rights.guard_project(project, expected)
        projects.update_transaction(who.actor, tx, data)
    _flow_done("Changed", tx, output)


@flow_cli.command("delete")
@PROJECT_OPTION
@click.argument("flow_id", type=int)
@as_option()
@version_options
def flow_delete(project_id: int, flow_id: int, as_email: str | None, version: int | None, force: bool) -> None:
    """Delete flow FLOW_ID of project --project (restorable: `deleted restore flow ID`). Say the
    project's version the deletion is based on (--version), or --force."""
    from registry.services import projects, rights

    who = acting(as_email)
    with command_unit():
        project = rights.project_to_change(who.user, project_id)
        tx = rights.transaction_of(project, flow_id)
        expected = expected_version({}, version, force, field="project_version")
        rights.guard_project(project, expected)
        projects.delete_transaction(who.actor, tx)
    click.echo(f"Deleted flow {flow_id} of project {project_id}.")


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
