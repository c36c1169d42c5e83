"""Admin command line: `flask --app wsgi reference load`, `flask --app wsgi seed demo`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from registry.extensions import db

reference_cli = AppGroup("reference", help="Reference data (countries, regions, categories, areas).")
seed_cli = AppGroup("seed", help="Demonstration and synthetic data.")


@reference_cli.command("load")
def reference_load() -> None:
    """Create or update the reference data from the shipped files (idempotent)."""
    from registry.services.reference import load_reference, sources

    try:
        counts = load_reference()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    for name, meta in sources().items():
        click.echo(f"  {name}: {meta.get('source', '')} (as of {meta.get('as_of', '?')})")
    if not counts.changed:
        click.echo("Reference data already up to date: nothing changed.")
        return
    for kind in ("created", "updated", "deleted"):
        bucket = getattr(counts, kind)
        if bucket:
            click.echo(f"{kind.capitalize()}: " + ", ".join(f"{n} {t}" for t, n in sorted(bucket.items())))


@seed_cli.command("demo")
def seed_demo() -> None:
    """Load the deterministic demo data set (idempotent; everything labelled demo)."""
    from registry.services.demo import seed_demo as run

    try:
        result = run(progress=lambda label, n: click.echo(f"  {label}: {n}"))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if result.created == 0:
        click.echo("Demo data already loaded: nothing changed.")
    else:
        click.echo(f"Demo data loaded: {result.summary()}")
    if result.accounts:
        click.echo("\nDemo accounts (password for all: see below) -- for trying the product, never for production:")
        for email, role, password in result.accounts:
            click.echo(f"  {role:<11} {email}  password: {password}")


def init_app(app: Flask) -> None:
    """Attach the registry's command groups to the app."""
    app.cli.add_command(reference_cli)
    app.cli.add_command(seed_cli)
    from registry.accounts_cli import users_cli

    app.cli.add_command(users_cli)
