"""`flask users ...`: create accounts, set passwords, issue and revoke API tokens."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from registry.extensions import db
from registry.models.types import Role
from registry.services import accounts, tokens
from registry.services.actor import Actor
from registry.services.organisations import find_organisation
from registry.unit_of_work import command_unit

users_cli = AppGroup("users", help="User accounts and API tokens.")
CLI = Actor(label="command line", channel="cli", role=Role.ADMIN)


def _user(email: str):
    user = accounts.find_user(email)
    if user is None:
        raise click.ClickException(f"No user with e-mail {email}")
    return user


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--org", "org_ref", help="Organisation reference (required for donors)")
@click.option("--country", help="ISO3 country (governments; default: the organisation's)")
@click.option("--name", default="")
@click.option("--password-prompt", is_flag=True, help="Ask for a password for the web login")
def create(
    email: str,
    role: str,
    org_ref: str | None,
    country: str | None,
    name: str,
    password_prompt: bool,
) -> None:
    """Create an account and print its first API token (shown once, stored only as a hash; every
    scope, the default lifetime)."""
    org = None
    if org_ref:
        org = find_organisation(org_ref)
        if org is None:
            raise click.ClickException(f"No organisation {org_ref!r}")
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True) if password_prompt else None
    if password is not None and len(password) < 10:
        raise click.ClickException("Use a password of at least 10 characters")

    with command_unit():
        user = accounts.create_user(
            CLI,
            email,
            role,
            password=password,
            org=org,
            country_iso3=country.upper() if country else None,
            name=name,
        )
        issued = tokens.issue(CLI, user, "created with the account", lifetimes=tokens.Lifetimes.of(current_app.config))
    where = f", {user.org.name}" if user.org else ""
    click.echo(f"Created {user.email} ({user.role.value}{where}).")
    scopes = ", ".join(issued.token.scopes.split())
    click.echo(f"API token {issued.token.id} ({scopes}; expires {_when(issued.token.expires_at)}).")
    click.echo(f"Shown only now; store it safely:\n{issued.secret}")


@users_cli.command("token")
@click.option("--email", required=True)
@click.option("--name", "--label", "name", default="", help="What the token is for")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice([s.value for s in tokens.ALL_SCOPES]),
    help="What the token may do; repeat for several (default: read, write and import)",
)
@click.option("--expires-in", type=int, help="Days until the token expires (default: API_TOKEN_DAYS, 90)")
def token(email: str, name: str, scopes: tuple[str, ...], expires_in: int | None) -> None:
    """Issue a new API token for a user (printed once)."""
    user = _user(email)
    with command_unit():
        issued = tokens.issue(
            CLI, user, name, scopes or tokens.ALL_SCOPES, expires_in, lifetimes=tokens.Lifetimes.of(current_app.config)
        )
    row = issued.token
    click.echo(
        f"API token {row.id} for {user.email}: {', '.join(row.scopes.split())}, expires {_when(row.expires_at)}."
    )
    click.echo(f"Shown only now; store it safely:\n{issued.secret}")


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


@users_cli.command("tokens")
@click.option("--email", required=True)
def list_tokens(email: str) -> None:
    """List a user's API tokens, newest first (never their secrets)."""
    user = _user(email)
    rows = db.session.scalars(tokens.listing(user)).all()
    if not rows:
        click.echo(f"{user.email} has no API token.")
        return
    click.echo(
        f"{'id':>5}  {'prefix':12}  {'status':7}  {'scopes':17}  {'created':20}  {'expires':20}  {'last used':20}  name"
    )
    for row in rows:
        click.echo(
            f"{row.id:>5}  {row.prefix:12}  {tokens.status_of(row):7}  {row.scopes:17}  {_when(row.created_at):20}  "
            f"{_when(row.expires_at):20}  {_when(row.last_used_at):20}  {row.name}"
        )


@users_cli.command("revoke-token")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke one API token by its id (as `users tokens` lists it)."""
    with command_unit():
        row = tokens.get(CLI, token_id)
        revoked = tokens.revoke(CLI, row)
    if not revoked:
        raise click.ClickException(f"API token {token_id} was already revoked")
    click.echo(f"Revoked API token {token_id} ({row.prefix}…) of {row.user.email}.")


@users_cli.command("revoke")
@click.option("--email", required=True)
@click.option("--prefix", help="Revoke only the token starting with this (default: all)")
def revoke(email: str, prefix: str | None) -> None:
    """Revoke a user's API tokens (all, or the one with the given prefix)."""
    user = _user(email)
    with command_unit():
        count = accounts.revoke_tokens(CLI, user, prefix)
    if count == 0:
        raise click.ClickException("No active token matched; nothing was revoked")
    click.echo(f"Revoked {count} token(s) of {user.email}.")


@users_cli.command("password")
@click.option("--email", required=True)
def password(email: str) -> None:
    """Set a new password for a user (asked twice); every session of the user ends."""
    user = _user(email)
    value = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with command_unit():
        accounts.set_password(CLI, user, value)
    click.echo(f"New password set for {user.email}; every session of the account has ended.")
