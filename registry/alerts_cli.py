"""``flask alerts``: collect what is new for the alerts and queue their e-mails (for cron)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from registry.alerts_jobs import DIGESTS, run_alerts

alerts_cli = AppGroup("alerts", help="Alerts: what is new for saved searches and follows, by e-mail.")


@alerts_cli.command("send")
@click.option(
    "--frequency",
    type=click.Choice(DIGESTS),
    default="immediate",
    show_default=True,
    help="Whose e-mails to send: immediate alerts (every few minutes), or the daily or weekly digests.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be sent; record and send nothing.")
def send(frequency: str, dry_run: bool) -> None:
    """Collect what is new for every alert, then queue an e-mail for each user with news due at
    FREQUENCY (the queue worker sends them; running it again sends nothing new)."""
    run = run_alerts(frequency, dry_run=dry_run)
    click.echo(f"{run.notifications} new notifications; {len(run.users)} users with {frequency} e-mail due.")
    if dry_run:
        click.echo("Dry run: nothing was recorded or sent.")
    else:
        click.echo(f"{len(run.jobs)} e-mails queued.")
