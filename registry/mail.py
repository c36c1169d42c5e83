"""Sending e-mail: Flask-Mailman (Django's mail classes) over SMTP, configured by ``MAIL_*``
(config.py, docs/alerts.md).

With no ``MAIL_SERVER`` (a laptop, a demonstration) the e-mails are not sent but written to the
log (logger ``registry.mail``, with their recipients, subject and text), so nothing is lost
silently; a production start says so in a warning. Only queue jobs send (registry/alerts_jobs.py):
a send that fails raises, and the queue tries it again.
"""

from __future__ import annotations

import logging

from flask import Flask
from flask_mailman import EmailMultiAlternatives
from flask_mailman.backends.base import BaseEmailBackend

from registry.extensions import mail

log = logging.getLogger("registry.mail")

LOG_BACKEND = "registry.mail.LogEmailBackend"


class LogEmailBackend(BaseEmailBackend):
    """Writes each e-mail to the log instead of sending it (no mail server configured)."""

    def send_messages(self, email_messages) -> int:
        for message in email_messages:
            log.info(
                "E-mail not sent (no MAIL_SERVER configured) to %s: %s\n%s",
                ", ".join(message.recipients()),
                message.subject,
                message.body,
            )
        return len(email_messages)


def send(
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Send one e-mail (plain text, with an HTML alternative); raises when the server refuses it."""
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to], headers=headers or {})
    if html is not None:
        message.attach_alternative(html, "text/html")
    sent = message.send(fail_silently=False)
    if sent != 1:
        raise RuntimeError(f"The mail backend did not take the e-mail to {to}")


def init_app(app: Flask) -> None:
    """Bind Flask-Mailman: SMTP when MAIL_SERVER is set, else the log."""
    if not app.config.get("MAIL_BACKEND"):
        app.config["MAIL_BACKEND"] = "smtp" if app.config.get("MAIL_SERVER") else LOG_BACKEND
    mail.init_app(app)
    if app.config["MAIL_BACKEND"] == LOG_BACKEND and app.config.get("REGISTRY_ENV") == "production":
        log.warning("MAIL_SERVER is not set: alert e-mails are written to the log, not sent")
