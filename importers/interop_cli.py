"""`flask import iati`, `flask import crs` and `flask import reload-mapping`.

The commands are attached to the shared ``import`` command group (``importers.cli.import_cli``)
by ``importers.init_app``. Each file is one unit of work (all-or-nothing across its batches):
the command commits after each file through ``registry.unit_of_work.commit`` (a clash with
another writer is a ConflictError, reported like any refusal), the pipeline never commits.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from importers.cli import echo_left_out
from importers.mapping import MappingError, load_mapping, mapping_dir
from registry import unit_of_work
from registry.errors import RegistryError
from registry.extensions import db
from registry.models.types import Role
from registry.services.actor import Actor

CLI_ACTOR = Actor(label="command line", channel="cli", role=Role.ADMIN)
SKIP_HELP = (
    "Leave out the activities that have errors (listed with the money they carry) and import the "
    "others, in one transaction; errors about the whole file still reject it."
)


def _files(target: Path) -> list[Path]:
    if target.is_dir():
        return sorted(p for p in target.rglob("*.xml") if p.is_file())
    return [target]


def _report(result, dry_run: bool) -> bool:
    """Print the batches' counts and problems; True when every batch went through."""
    for batch in result.batches:
        counts = batch.counts or {}
        label = "previewed (dry run, nothing written)" if dry_run and batch.status == "previewed" else batch.status
        if getattr(batch, "already_imported", False):
            label = "already imported: nothing changed"
        # The publisher as the file names it: a refused run created no organisation.
        org = (batch.options or {}).get("org") or (batch.options or {}).get("publisher") or f"id {batch.org_id}"
        written = batch.status == "committed"
        click.echo(
            f"  batch {batch.id} (organisation {org}): {label}; projects "
            f"{counts.get('projects_created', 0)} {'created' if written else 'to create'}, "
            f"{counts.get('projects_updated', 0)} {'updated' if written else 'to update'}, "
            f"{counts.get('projects_unchanged', 0)} unchanged; "
            f"transactions {counts.get('transactions', 0)}; errors {counts.get('errors', 0)}"
            + (f" ({counts['errors_in_batch']} in this batch)" if "errors_in_batch" in counts else "")
        )
    shown = 0
    seen = set()
    for batch in result.batches:
        for problem in batch.problems or []:
            key = (problem.get("code"), problem.get("row"), problem.get("message"))
            if key in seen:
                continue
            seen.add(key)
            if shown < 40:
                where = ", ".join(
                    str(x)
                    for x in (
                        problem.get("file"),
                        problem.get("row") and f"line {problem['row']}",
                        problem.get("column"),
                    )
                    if x
                )
                click.echo(f"  {problem['severity']}: {problem['message']} [{where}]")
            shown += 1
    if shown > 40:
        click.echo(f"  ... and {shown - 40} more problems (see the batches' reports)")
    for batch in result.batches:
        found = (batch.counts or {}).get("invalid_records")
        if found and (found.get("left_out") or len(result.batches) == 1):
            click.echo(f"  batch {batch.id}:")
            echo_left_out(batch.counts, unit="line" if batch.kind == "iati" else "row")
    offer = result.offer
    if offer and len(result.batches) > 1:
        valid, invalid = offer
        click.echo(
            f"  Nothing was imported. {valid} activities are valid and {invalid} have errors: run again with "
            "--skip-invalid to import the valid ones, in one transaction, and leave the others out."
        )
        for batch in result.batches:
            if (batch.counts or {}).get("invalid_records"):
                click.echo(f"  batch {batch.id}:")
                echo_left_out(batch.counts, unit="line" if batch.kind == "iati" else "row", offer=False)
    return result.ok


def register(group: AppGroup) -> None:
    """Attach the IATI, CRS and mapping commands to the ``import`` group."""

    @group.command("iati")
    @click.argument("target", type=click.Path(exists=True, path_type=Path))
    @click.option("--org", "org", default=None, help="Import under this organisation (reference or IATI id).")
    @click.option(
        "--sector-filter",
        type=click.Choice(["ict", "all"]),
        default="all",
        show_default=True,
        help="ict keeps only activities with a DAC 220xx sector.",
    )
    @click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
    @click.option("--skip-invalid", is_flag=True, help=SKIP_HELP)
    @with_appcontext
    def import_iati_command(
        target: Path, org: str | None, sector_filter: str, dry_run: bool, skip_invalid: bool
    ) -> None:
        """Import IATI activity XML (2.01-2.03): a file, or every .xml file of a folder."""
        from importers.interop import import_iati

        ok = True
        files = _files(target)
        if not files:
            raise click.ClickException(f"No .xml file in {target}")
        for path in files:
            click.echo(f"{path.name}:")
            try:
                result = import_iati(
                    path,
                    CLI_ACTOR,
                    org=org,
                    sector_filter=sector_filter,
                    dry_run=dry_run,
                    skip_invalid=skip_invalid,
                )
                # One commit per file, not one for the command: each file is all-or-nothing on
                # its own, so a bad file is reported and rolled back while the files before it
                # stay saved and the next ones are still read.
                unit_of_work.commit()
            except RegistryError as exc:  # a refusal, or a clash at commit (ConflictError)
                db.session.rollback()
                click.echo(f"  error: {exc.message}")
                ok = False
                continue
            ok = _report(result, dry_run) and ok
        if not ok:
            raise SystemExit(1)

    @group.command("crs")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--years", default=None, help="Years to keep, e.g. 2019-2023 or 2021,2022.")
    @click.option("--purpose", default=None, help="DAC purpose codes to keep, e.g. 22010,22020,22030,22040.")
    @click.option(
        "--prices",
        type=click.Choice(["current", "constant"]),
        default="current",
        show_default=True,
        help="constant reads USD_Commitment_Defl/USD_Disbursement_Defl (constant USD), kept apart from "
        "current-price flows; nothing else is read then.",
    )
    @click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
    @click.option("--skip-invalid", is_flag=True, help=SKIP_HELP)
    @with_appcontext
    def import_crs_command(
        path: Path, years: str | None, purpose: str | None, prices: str, dry_run: bool, skip_invalid: bool
    ) -> None:
        """Import OECD CRS microdata (pipe text, CSV, XLSX, or zipped): one batch per donor."""
        from importers.crs import parse_purposes, parse_years
        from importers.interop import import_crs

        try:
            year_set, purposes = parse_years(years), parse_purposes(purpose)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        try:
            result = import_crs(
                path,
                CLI_ACTOR,
                years=year_set,
                purposes=purposes,
                prices=prices,
                dry_run=dry_run,
                skip_invalid=skip_invalid,
            )
            unit_of_work.commit()  # the command's unit of work: the whole file, every donor's batch
        except RegistryError as exc:
            db.session.rollback()
            click.echo(f"error: {exc.message}", err=True)
            raise SystemExit(1) from None
        if not result.batches:
            click.echo("No CRS row matched the filters: nothing imported.")
            raise SystemExit(1)
        if not _report(result, dry_run):
            raise SystemExit(1)

    @group.command("reload-mapping")
    @with_appcontext
    def reload_mapping_command() -> None:
        """Check the DAC/keyword/CRS mapping files and load them again (docs/area-mapping.md)."""
        try:
            mapping = load_mapping(force=True)
        except MappingError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Mapping loaded from {mapping_dir()}:")
        for name, n in mapping.summary().items():
            click.echo(f"  {name}: {n}")
