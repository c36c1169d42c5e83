"""The ``export`` command group: `flask export iati OUT.xml` (other exports join this group)."""

from __future__ import annotations

import click
from flask.cli import AppGroup, with_appcontext

from registry.errors import RegistryError

export_cli = AppGroup("export", help="Export registry data in standard formats.")


@export_cli.command("iati")
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
@click.option("--country", multiple=True, help="ISO3 code (repeatable).")
@click.option("--region", multiple=True, help="M49 region code (repeatable).")
@click.option("--priority-area", "priority_area", multiple=True, help="23a-23l (repeatable).")
@click.option("--status", multiple=True, help="Project status (repeatable).")
@click.option("--org", multiple=True, help="Organisation reference (repeatable).")
@click.option("--year-from", "year_from", default=None)
@click.option("--year-to", "year_to", default=None)
@click.option("--q", default=None, help="Words in the title, description or reference.")
@with_appcontext
def export_iati_command(out: str, **options) -> None:
    """Write the (filtered) projects as IATI 2.03 activity XML to OUT."""
    from importers.iati_export import projects_for_export, write_iati
    from registry.services.search import ProjectFilters, project_query

    args = {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}
    try:
        filters = ProjectFilters.from_args(args)
    except RegistryError as exc:
        raise click.BadParameter(exc.message) from None
    with open(out, "wb") as handle:
        n = write_iati(projects_for_export(project_query(filters)), handle)
    click.echo(f"Wrote {n} activities to {out} (IATI 2.03).")
