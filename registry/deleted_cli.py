"""`flask --app wsgi deleted list KIND` and `deleted restore KIND ID`: the deleted projects,
money flows, funding sources and organisations, and their restore (as an administrator)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from registry.extensions import db
from registry.services.actor import SYSTEM
from registry.unit_of_work import command_unit

deleted_cli = AppGroup("deleted", help="Deleted projects, flows, funding sources, organisations: list, restore.")

KINDS = {
    "project": "project",
    "flow": "transaction",
    "transaction": "transaction",
    "funding-source": "funding_source",
    "organisation": "organisation",
}
KIND = click.Choice(sorted(KINDS))


@deleted_cli.command("list")
@click.argument("kind", type=KIND)
@click.option("--org", "org_ref", help="Only those of this organisation (its ref).")
def deleted_list(kind: str, org_ref: str | None) -> None:
    """List the deleted objects of KIND, newest deletion first."""
    from registry.services import deletion
    from registry.services.organisations import find_organisation

    org_id = None
    if org_ref:
        org = find_organisation(org_ref)
        if org is None:
            raise click.ClickException(f"No organisation {org_ref!r}")
        org_id = org.id
    objs = deletion.list_deleted(KINDS[kind], org_id)
    for obj in objs:
        name = (
            getattr(obj, "title", None) or getattr(obj, "name", None) or f"{obj.type.value} {obj.amount} {obj.currency}"
        )
        click.echo(f"{obj.id}\t{obj.deleted_at:%Y-%m-%d %H:%M}Z\t{obj.deleted_by}\t{name}")
    click.echo(f"{len(objs)} deleted {deletion.LABELS[KINDS[kind]]}(s)")
    db.session.rollback()


@deleted_cli.command("restore")
@click.argument("kind", type=KIND)
@click.argument("object_id", type=int)
def deleted_restore(kind: str, object_id: int) -> None:
    """Restore the deleted object of KIND with id OBJECT_ID (a project with the flows deleted
    with it), with an audit entry."""
    from registry.services import deletion

    with command_unit():
        obj = deletion.load_deleted(KINDS[kind], object_id)
        deletion.restore(SYSTEM, KINDS[kind], obj)
    click.echo(f"Restored {deletion.LABELS[KINDS[kind]]} {object_id}")
