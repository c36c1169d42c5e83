"""The ``export`` command group: `flask export iati OUT.xml` (other exports join this group)."""

from __future__ import annotations

import click
from flask.cli import AppGroup, with_appcontext

export_cli = AppGroup("export", help="Export registry data in standard formats.")


@export_cli.command("iati")
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
@click.option("--country", help="ISO3 code.")
@click.option("--region", help="M49 region code (sub-regions included).")
@click.option("--category", help="Recipient category, e.g. LDC.")
@click.option("--area", help="Priority area, 23a-23l.")
@click.option("--status", help="Project status.")
@click.option("--org", help="Reference of the reporting organisation.")
@click.option("--year-from", "year_from", default=None)
@click.option("--year-to", "year_to", default=None)
@click.option("--q", default=None, help="Words in the title, description or reference.")
@with_appcontext
def export_iati_command(out: str, org: str | None, **options) -> None:
    """Write the (filtered) projects as IATI 2.03 activity XML to OUT (the project list's filters)."""
    from marshmallow import ValidationError as SchemaError

    from importers.iati_export import projects_for_export, write_iati
    from registry.schemas.projects import ProjectQuery
    from registry.services.organisations import find_organisation
    from registry.services.search import ProjectFilters, project_query

    raw = {k: v for k, v in options.items() if v not in (None, "")}
    if org:
        found = find_organisation(org)
        if found is None:
            raise click.BadParameter(f"No organisation with reference {org!r}", param_hint="--org")
        raw["org_id"] = found.id
    try:
        args = ProjectQuery().load(raw)
    except SchemaError as exc:
        raise click.BadParameter(f"{exc.messages}") from None
    with open(out, "wb") as handle:
        result = write_iati(projects_for_export(project_query(ProjectFilters.from_mapping(args))), handle)
    click.echo(f"Wrote {result.activities} activities to {out} (IATI 2.03).")
    if result.notes:
        # The same notes are XML comments in the activities they concern.
        click.echo(f"{len(result.notes)} note(s) on data the standard cannot carry as the registry has it:")
        for note in result.notes:
            click.echo(f"  {note}")
