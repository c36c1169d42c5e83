"""Alerts on the job queue: collecting what is new, and e-mailing it (docs/alerts.md).

- :func:`run_alerts` collects what is new for every alert (``services.alerts.collect``, one
  commit), then queues one ``alerts.send`` job for each user with notifications due at a
  frequency. The worker's periodic tasks run it (immediate alerts every
  ``ALERTS_IMMEDIATE_MINUTES``, the daily and weekly digests at ``ALERTS_DAILY_HOUR``), and so
  does ``flask alerts send`` for a server that prefers cron.
- An ``alerts.send`` job e-mails one user's digest in their language and marks its
  notifications e-mailed, in the job's one commit: a send the mail server refuses raises, the
  job's work is rolled back (nothing is marked) and the queue tries it again.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from flask import Flask, current_app, render_template, url_for
from flask_babel import force_locale, ngettext
from huey import crontab
from huey.exceptions import TaskLockedException
from sqlalchemy import select

from registry import mail, queue
from registry.extensions import db
from registry.i18n import DEFAULT_LANGUAGE, LANGUAGES, text_direction
from registry.models import Job, Notification, User
from registry.services import alerts, notifications
from registry.sqlite import writing
from registry.unit_of_work import commit

log = logging.getLogger("registry.alerts")

SEND = "alerts.send"
DIGESTS = ("immediate", "daily", "weekly")


# --------------------------------------------------------------------------- the e-mail


@dataclass
class Digest:
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


def compose(user: User, notes: list[Notification], frequency: str) -> Digest:
    """A user's digest in their language: each alert's news with links, and the links that
    turn the alerts off (RFC 8058 one-click in the headers)."""
    from registry.web.alerts import notification_link

    language = user.language if user.language in LANGUAGES else DEFAULT_LANGUAGE
    base = current_app.config.get("BASE_URL") or "http://localhost"
    with current_app.test_request_context("/", base_url=base), force_locale(language):
        groups: dict[tuple[str, int] | None, list[Notification]] = {}
        for note in notes:
            groups.setdefault(alerts.alert_of(note), []).append(note)
        sections = []
        for alert, told in groups.items():
            sections.append(
                {
                    "name": alerts.alert_name(alert) if alert else "",
                    "items": [(notifications.message(n), notification_link(n, external=True)) for n in told],
                    "unsubscribe": url_for(
                        "alerts.unsubscribe", token=alerts.unsubscribe_token(user.id, [alert]), _external=True
                    )
                    if alert
                    else None,
                }
            )
        every = [a for a in groups if a is not None]
        unsubscribe = url_for("alerts.unsubscribe", token=alerts.unsubscribe_token(user.id, every), _external=True)
        subject = ngettext(
            "ICT4D Funding Registry: %(num)d new alert", "ICT4D Funding Registry: %(num)d new alerts", len(notes)
        )
        context = {
            "user": user,
            "sections": sections,
            "frequency": frequency,
            "unsubscribe": unsubscribe,
            "settings": url_for("alerts.notifications", _external=True),
            "language": language,
            "direction": text_direction(language),
            "subject": subject,
        }
        text = render_template("alerts/email_text.html", **context)
        html = render_template("alerts/email.html", **context)
    headers = {"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    return Digest(subject, text, html, headers)


def send_digest(user_id: int, frequency: str, now: dt.datetime | None = None) -> dict:
    """E-mail the user's notifications due at this frequency, and mark them e-mailed (the
    caller commits); nothing due, nothing sent."""
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        return {"sent": 0, "notifications": 0}
    notes = alerts.pending(user_id, frequency)
    if not notes:
        return {"sent": 0, "notifications": 0}
    digest = compose(user, notes, frequency)
    mail.send(user.email, digest.subject, digest.text, digest.html, digest.headers)
    alerts.mark_emailed(notes, now)
    log.info("Alert e-mail (%s) to user %s: %s notifications", frequency, user_id, len(notes))
    return {"sent": 1, "notifications": len(notes)}


def _send(params: dict, progress: queue.Progress) -> dict:
    progress(0, 1, "sending")
    result = send_digest(int(params["user_id"]), str(params["frequency"]))
    progress(1, 1, "sending")
    return result


# --------------------------------------------------------------------------- collecting and queueing


@dataclass
class Run:
    """What one run found and queued."""

    frequency: str
    notifications: int = 0
    users: list[int] = field(default_factory=list)  # users whose e-mail is due
    jobs: list[int] = field(default_factory=list)


def _waiting(frequency: str) -> set[int]:
    """Users who already have a send of this frequency queued or running."""
    stmt = select(Job).where(Job.kind == SEND, Job.status.in_(("queued", "running")))
    return {int(j.params.get("user_id", 0)) for j in db.session.scalars(stmt) if j.params.get("frequency") == frequency}


def run_alerts(frequency: str, dry_run: bool = False) -> Run:
    """Collect what is new (committed), then queue a send for each user with e-mail due at this
    frequency. A dry run collects and counts, then rolls everything back."""
    if frequency not in DIGESTS:
        raise ValueError(f"frequency {frequency!r} is not one of {', '.join(DIGESTS)}")
    found = alerts.collect()
    run = Run(frequency, found.notifications, alerts.due_users(frequency))
    if dry_run:
        db.session.rollback()
        return run
    commit()
    waiting = _waiting(frequency)
    for user_id in run.users:
        if user_id in waiting:
            continue
        owner = db.session.get(User, user_id)
        job = queue.create_job(SEND, {"user_id": user_id, "frequency": frequency}, f"Alert e-mail ({frequency})", owner)
        run.jobs.append(job.id)
    commit()
    for job_id in run.jobs:
        queue.send(job_id, SEND)
    return run


# --------------------------------------------------------------------------- wiring


def init_app(app: Flask) -> None:
    """Declare the send job and the worker's periodic tasks (``flask jobs worker`` runs them)."""
    queue.register_kind(SEND, _send, retries=5, retry_delay=60, label="Alert e-mail")
    huey = app.extensions[queue.EXTENSION].huey
    minutes = max(1, int(app.config.get("ALERTS_IMMEDIATE_MINUTES") or 5))
    hour = str(int(app.config.get("ALERTS_DAILY_HOUR") or 0))
    weekday = str(int(app.config.get("ALERTS_WEEKLY_DAY") or 0))
    schedules = {
        "immediate": crontab(minute=f"*/{minutes}"),
        "daily": crontab(minute="0", hour=hour),
        "weekly": crontab(minute="0", hour=hour, day_of_week=weekday),
    }

    def periodic(frequency: str):
        def task() -> None:
            # One collection at a time, whichever worker runs it: two at once would tell the same news twice.
            try:
                with huey.lock_task("registry.alerts.collect"), app.app_context(), writing():
                    try:
                        run = run_alerts(frequency)
                        log.info(
                            "Alerts (%s): %s new notifications, %s e-mails queued",
                            frequency,
                            run.notifications,
                            len(run.jobs),
                        )
                    finally:
                        db.session.remove()
            except TaskLockedException:
                log.info("Alerts (%s): another collection is running; this one is skipped", frequency)

        task.__name__ = f"alerts_{frequency}"
        return huey.periodic_task(schedules[frequency], name=f"registry.alerts.{frequency}")(task)

    for frequency in DIGESTS:
        periodic(frequency)
