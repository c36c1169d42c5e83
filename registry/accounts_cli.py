"""`flask users ...`: create accounts, set passwords, issue and revoke API tokens."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from registry.models.types import Role
from registry.services import accounts
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
    """Create an account and print its first API token (shown once, stored only as a hash)."""
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
        token = accounts.issue_token(CLI, user, "created with the account")
    where = f", {user.org.name}" if user.org else ""
    click.echo(f"Created {user.email} ({user.role.value}{where}).")
    click.echo(f"API token (shown only now; store it safely):\n{token}")


@users_cli.command("token")
@click.option("--email", required=True)
@click.option("--label", default="", help="What the token is for")
def token(email: str, label: str) -> None:
    """Issue a new API token for a user (printed once)."""
    user = _user(email)
    with command_unit():
        value = accounts.issue_token(CLI, user, label)
    click.echo(f"API token for {user.email} (shown only now):\n{value}")


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
