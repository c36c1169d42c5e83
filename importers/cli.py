"""Commands: ``flask import sheet FILE --org REF`` (IATI and CRS commands join this group).

A command is one unit of work: it commits once, after the pipeline (which never commits)
returned; an error leaves the session to be rolled back when the command's app context ends.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from importers import operations, pipeline
from registry.models import ImportBatch
from registry.models.types import Role
from registry.services.actor import Actor
from registry.unit_of_work import command_unit

import_cli = AppGroup("import", help="Import donor spreadsheets, IATI activity files and CRS returns.")
imports_cli = AppGroup("imports", help="Housekeeping of the uploaded files kept for imports.")

CLI_ACTOR = Actor(label="cli", channel="cli", role=Role.ADMIN)
STAGES = {"reading": (0, 40), "validating": (40, 70), "writing": (70, 100)}


class StageBar:
    """Maps the pipeline's (done, total, stage) reports onto one click progress bar."""

    def __init__(self, bar) -> None:
        self.bar = bar
        self.shown = 0

    def __call__(self, done: int, total: int, stage: str) -> None:
        low, high = STAGES.get(stage, (0, 100))
        percent = high if not total else low + (high - low) * min(done, total) // total
        if stage == "reading" and not total:
            percent = min(low + 1 + done // 10_000, high - 1)
        self.bar.label = f"{stage.capitalize():<11}"
        if percent > self.shown:
            self.bar.update(percent - self.shown)
            self.shown = percent


def echo_summary(batch: ImportBatch, max_problems: int = 50) -> None:
    """Print what a batch did: rows, projects, transactions, skipped rows and problems."""
    if getattr(batch, "already_imported", False):
        click.echo(f"Already imported as batch {batch.id} on {batch.finished_at:%Y-%m-%d %H:%M}: nothing changed.")
        return
    c = batch.counts or {}
    click.echo(f"Batch {batch.id or '-'}: {batch.status}")
    click.echo(f"  rows read            {c.get('rows_read', 0):>8,}")
    skipped = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in (c.get("skipped") or {}).items())
    click.echo(f"  rows skipped         {c.get('rows_skipped', 0):>8,}" + (f"  ({skipped})" if skipped else ""))
    click.echo(f"  projects created     {c.get('projects_created', 0):>8,}")
    click.echo(f"  projects updated     {c.get('projects_updated', 0):>8,}")
    click.echo(f"  projects unchanged   {c.get('projects_unchanged', 0):>8,}")
    click.echo(f"  transactions         {c.get('transactions', 0):>8,}")
    click.echo(f"  replaced             {c.get('transactions_replaced', 0):>8,}")
    click.echo(f"  errors / warnings    {c.get('errors', 0):>8,} / {c.get('warnings', 0):,}")
    for problem in (batch.problems or [])[:max_problems]:
        where = ", ".join(
            str(x)
            for x in (
                problem.get("sheet"),
                f"row {problem['row']}" if problem.get("row") else None,
                problem.get("column") and f"column {problem['column']!r}",
            )
            if x
        )
        value = f" [{problem['value']}]" if problem.get("value") else ""
        click.echo(f"  {problem['severity'].upper():<7} {where}: {problem['message']}{value}")
    more = len(batch.problems or []) - max_problems
    if more > 0:
        click.echo(f"  ... and {more} more problems")
    echo_left_out(c)


def _money_text(money: list[dict]) -> str:
    return pipeline.money_text(money) or "no amounts read"


def echo_left_out(counts: dict, most: int = 50, unit: str = "row", offer: bool = True) -> None:
    """What leaving the invalid records out leaves (or would leave) out, with its money.
    ``offer=False``: one batch of a file whose offer was made for the whole file; its own
    listing makes no second offer (with other counts)."""
    found = counts.get("invalid_records")
    if not found:
        return
    n, extra = found["invalid"], found.get("items_without_record", 0)
    what = f"{n} activities" + (f" and {extra} rows or items that are no activity" if extra else "")
    if found.get("left_out"):
        click.echo(f"  Left out (they have errors): {what}, carrying {_money_text(found['money'])}")
    elif not offer:
        click.echo(f"  With errors: {what}, carrying {_money_text(found['money'])}")
    else:
        click.echo(
            f"  {found['valid']} activities are valid and {what} have errors: import with --skip-invalid "
            f"to import the valid ones and leave these out (they carry {_money_text(found['money'])})"
        )
    for item in found.get("items", [])[:most]:
        name = item.get("iati_identifier") or item.get("reference") or "(no activity)"
        where = ", ".join(x for x in (item.get("sheet"), item.get("row") and f"{unit} {item['row']}") if x)
        reasons = "; ".join(item.get("reasons") or [])
        money = f" [{_money_text(item['money'])}]" if item.get("money") else ""
        click.echo(f"    - {name} ({where}): {reasons}{money}")
    if len(found.get("items", [])) > most:
        click.echo(f"    ... and {len(found['items']) - most} more (see the batch's report)")


def _options(mapping: Path | None, **given) -> dict:
    options = {k: v for k, v in given.items() if v not in (None, "")}
    if mapping is not None:
        try:
            options["mapping"] = json.loads(mapping.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise click.BadParameter(f"cannot read the mapping: {exc}", param_hint="--mapping") from None
    return options


def run_cli_import(
    kind: str,
    file: Path,
    org: str,
    org_name: str | None,
    options: dict,
    dry_run: bool,
    skip_invalid: bool = False,
) -> None:
    """Run an import with a progress bar and a summary; exit 1 when nothing was imported."""
    with command_unit():  # the command's unit of work (a failed file's report is kept too)
        owner = operations.import_owner(CLI_ACTOR, ref=org, org_name=org_name)
        with click.progressbar(length=100, label="Reading    ", show_eta=False) as bar:
            batch = pipeline.run_import(
                kind,
                file.name,
                file,
                owner,
                CLI_ACTOR,
                options=options,
                dry_run=dry_run,
                progress=StageBar(bar),
                org_name=org_name,
                keep_report=not dry_run,
                skip_invalid=skip_invalid,
            )
            bar.update(100)
    echo_summary(batch)
    if getattr(batch, "already_imported", False):
        return
    if batch.status == "failed":
        raise click.exceptions.Exit(1)
    if dry_run:
        click.echo("Dry run: nothing was written.")
        return
    c = batch.counts or {}
    if not (c.get("projects_created") or c.get("projects_updated") or c.get("projects_unchanged")):
        click.echo("Nothing was imported.", err=True)
        raise click.exceptions.Exit(1)


@import_cli.command("sheet")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--org", "org", required=True, help="Reference of the donor organisation.")
@click.option("--org-name", help="Create the organisation with this name when it is not registered.")
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON {"columns": {"header": "field"}, "dates": "dmy", ...}; overrides detection.',
)
@click.option("--sheet", help="Read only this sheet (default: every sheet with a header).")
@click.option("--dates", type=click.Choice(["dmy", "mdy"]), help="How the file writes ambiguous dates.")
@click.option("--decimal", type=click.Choice([",", "."]), help="Decimal separator of text amounts.")
@click.option("--currency", help="Currency of amounts that name none.")
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Leave out the projects that have errors (listed with their money) and import the others.",
)
def import_sheet(
    file: Path,
    org: str,
    org_name: str | None,
    mapping: Path | None,
    sheet: str | None,
    dates: str | None,
    decimal: str | None,
    currency: str | None,
    dry_run: bool,
    skip_invalid: bool,
) -> None:
    """Import a donor spreadsheet (XLSX, XLS, ODS or CSV): all-or-nothing, unless --skip-invalid."""
    options = _options(mapping, sheet=sheet, dates=dates, decimal=decimal, currency=currency)
    run_cli_import("sheet", file, org, org_name, options, dry_run, skip_invalid)


@import_cli.command("undo")
@click.argument("batch_id", type=int)
def undo(batch_id: int) -> None:
    """Undo a committed import batch: remove what it created, restore what it changed."""
    with command_unit():
        batch = pipeline.undo_batch(batch_id, CLI_ACTOR)
    click.echo(f"Batch {batch.id} undone.")


@imports_cli.command("purge-uploads")
@click.option(
    "--days",
    type=click.FloatRange(min=0),
    help="Keep rejected uploads this many days (default: IMPORT_REJECTED_RETENTION_DAYS, 7).",
)
def purge_uploads(days: float | None) -> None:
    """Delete the rejected uploads older than the retention period (files no pending, previewed,
    committed or undone batch needs). Also done on each new upload; run it from cron where
    uploads are rare."""
    from flask import current_app

    from importers.pipeline.retention import purge_rejected_uploads

    if days is not None:
        current_app.config["IMPORT_REJECTED_RETENTION_DAYS"] = days
    folder = pipeline.storage_dir()
    done = purge_rejected_uploads(folder)
    click.echo(
        f"Deleted {len(done.deleted)} rejected uploads ({done.bytes_freed:,} bytes) from {folder}; "
        f"kept {done.kept} older files that batches still need."
    )
