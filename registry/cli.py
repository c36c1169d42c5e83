"""Admin command line: `flask --app wsgi reference load`, `flask --app wsgi seed demo`,
`flask --app wsgi backup OUT` and `flask --app wsgi restore IN`.

Every command that writes does so inside one ``command_unit()``: it commits once when
the block ends, or rolls back and exits non-zero."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.engine import make_url

from registry.errors import RegistryError
from registry.unit_of_work import command_unit

reference_cli = AppGroup("reference", help="Reference data (countries, regions, categories, areas).")
seed_cli = AppGroup("seed", help="Demonstration and synthetic data.")


@reference_cli.command("load")
def reference_load() -> None:
    """Create or update the reference data from the shipped files (idempotent; recorded in the
    audit trail with the rows it changed, as a reload from the administrator's page is)."""
    from registry.services.actor import SYSTEM
    from registry.services.admin_reference import reload_reference
    from registry.services.reference import sources

    with command_unit():
        counts, _ = reload_reference(SYSTEM)
    for name, meta in sources().items():
        click.echo(f"  {name}: {meta.get('source', '')} (as of {meta.get('as_of', '?')})")
    if not counts.changed:
        click.echo("Reference data already up to date: nothing changed.")
        return
    for kind in ("created", "updated", "deleted"):
        bucket = getattr(counts, kind)
        if bucket:
            click.echo(f"{kind.capitalize()}: " + ", ".join(f"{n} {t}" for t, n in sorted(bucket.items())))


rates_cli = AppGroup("rates", help="Exchange rates: the ECB daily and IMF annual rate files.")
reference_cli.add_command(rates_cli)


@rates_cli.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and show what it would change; change nothing.")
@click.option("--apply", "reconvert", is_flag=True, help="Also re-convert the stored flows it changes.")
def rates_load(file: Path, dry_run: bool, reconvert: bool) -> None:
    """Check FILE (ECB eurofxref-hist CSV or ZIP, or IMF annual CSV), show what it changes in the
    stored flows, and put it in force (in RATES_DIR, overriding the shipped file), with an
    audit entry. Stored flows keep their USD values unless --apply is given."""
    from flask import current_app

    from registry.services import rates
    from registry.services.actor import SYSTEM

    try:
        load = rates.read_rates_file(file)
    except RegistryError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{rates.KINDS[load.kind]}: {load.name}, {load.currencies} currencies, {load.span[0]} to {load.span[1]}")
    rates.diff_stored_flows(load, current_app.config.get("RATE_MAX_AGE_DAYS", 7))
    for line in rates.describe_changes(load):
        click.echo(line)
    if dry_run:
        click.echo("Dry run: nothing was changed.")
        return
    with command_unit():
        rates.apply_rates_load(SYSTEM, load, reconvert=reconvert)
        target = rates.install_rates_file(load)
    click.echo(f"Rates in force from {target}.")
    if load.updates and not reconvert:
        click.echo("Stored flows keep their USD values; run again with --apply to re-convert them.")
    elif load.updates:
        click.echo(f"{load.changed_flows} stored flows re-converted.")


@seed_cli.command("demo")
def seed_demo() -> None:
    """Load the deterministic demo data set (idempotent; everything labelled demo)."""
    from registry.services.demo import seed_demo as run

    with command_unit():
        result = run(progress=lambda label, n: click.echo(f"  {label}: {n}"))
    if result.created == 0:
        click.echo("Demo data already loaded: nothing changed.")
    else:
        click.echo(f"Demo data loaded: {result.summary()}")
    if result.accounts:
        click.echo("\nDemo accounts (password for all: see below) -- for trying the product, never for production:")
        for email, role, password in result.accounts:
            click.echo(f"  {role:<11} {email}  password: {password}")


@click.command("backup")
@with_appcontext
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(out: Path) -> None:
    """Back up the database to OUT: SQLite's online backup (a copy at one point in time, safe
    while the app runs) or, on PostgreSQL, pg_dump's custom format."""
    from flask import current_app

    from registry.services.backup import backup

    try:
        summary = backup(current_app.config["SQLALCHEMY_DATABASE_URI"], out)
    except RegistryError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Backed up to {summary.describe()}.")


@click.command("restore")
@with_appcontext
@click.argument("source", metavar="IN", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace the database without asking.")
def restore_command(source: Path, yes: bool) -> None:
    """Replace the whole database by the backup IN (made by `backup`). The backup is checked
    first; on any failure the database is left as it was."""
    from flask import current_app

    from registry.extensions import db
    from registry.services.backup import restore

    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    shown = make_url(url).render_as_string(hide_password=True)
    if not yes:
        click.confirm(f"Replace every row of {shown} by the contents of {source}?", abort=True)
    db.session.remove()
    db.engine.dispose()
    try:
        summary = restore(url, source)
    except RegistryError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Restored {summary.describe()}.")


def init_app(app: Flask) -> None:
    """Attach the registry's command groups to the app."""
    app.cli.add_command(reference_cli)
    app.cli.add_command(seed_cli)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    from registry.accounts_cli import users_cli

    app.cli.add_command(users_cli)
    from registry.deleted_cli import deleted_cli

    app.cli.add_command(deleted_cli)
    from registry.catalogue_cli import flow_cli, project_cli, source_cli
    from registry.finder_cli import finder_cli, pipeline_cli, searches_cli

    for group in (project_cli, flow_cli, source_cli, finder_cli, pipeline_cli, searches_cli):
        app.cli.add_command(group)
