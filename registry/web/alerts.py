"""Pages of the alerts: the notifications list, follow and unfollow buttons, each alert's
frequency, and the unsubscribe link of the e-mails (which works without login)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _

from registry.auth import current_actor, current_user, login_required
from registry.extensions import csrf
from registry.models import Follow, Notification
from registry.models.alerts import FREQUENCIES
from registry.services import alerts, marketplace
from registry.services import notifications as inbox
from registry.unit_of_work import commit
from registry.web.auth import safe_next
from registry.web.links import project_url, source_url
from registry.web.saving import save

bp = Blueprint("alerts", __name__, template_folder="templates")


def notification_link(note: Notification, external: bool = False) -> str:
    """The page a notification leads to."""
    if note.object_type == "pipeline_project":
        return url_for("finder.pipeline_project", project_id=int(note.object_id), _external=external)
    if note.object_type == "project":
        return project_url(int(note.object_id), external=external)
    if note.object_type == "funding_source":
        return source_url(int(note.object_id), external=external) or url_for("finder.find_funding", _external=external)
    return url_for("web.projects", country=note.object_id, _external=external)


def _safe_next(default: str) -> str:
    """Where to go back after a button: the page it was on (a path of this site), else ``default``."""
    target = request.form.get("next")
    return safe_next(target) if target else default


@bp.app_context_processor
def alert_helpers() -> dict[str, Any]:
    user = current_user()

    def follow_for(kind: str, target: int | str) -> Follow | None:
        return alerts.follow_of(user.id if user else None, kind, target)

    return {
        "unread_notifications": (lambda: inbox.unread_count(user.id)) if user else (lambda: 0),
        "follow_for": follow_for,
        "frequency_words": {k: _(v) for k, v in alerts.FREQUENCY_WORDS.items()},
        "frequencies": FREQUENCIES,
    }


@bp.get("/notifications")
@login_required
def notifications():
    """The user's notifications, unread first, and their alerts with each one's frequency."""
    actor = current_actor()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    per_page = 50
    listing = inbox.notifications(actor.user_id, limit=per_page, offset=(page - 1) * per_page)
    return render_template(
        "alerts/notifications.html",
        listing=listing,
        page=page,
        pages=max(1, -(-listing.total // per_page)),
        message=inbox.message,
        link=notification_link,
        follows=[(f, alerts.follow_name(f)) for f in alerts.follows(actor)],
        searches=marketplace.saved_searches(actor),
    )


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def mark_read(notification_id: int):
    actor = current_actor()
    note = inbox.get_notification(actor.user_id, notification_id)
    return save(lambda: inbox.mark_read(note), None, url_for("alerts.notifications"))


@bp.post("/notifications/read")
@login_required
def mark_all_read():
    actor = current_actor()
    return save(
        lambda: inbox.mark_all_read(actor.user_id),
        lambda n: _("Marked %(count)s notifications read.", count=n),
        url_for("alerts.notifications"),
    )


@bp.post("/follows")
@login_required
def follow():
    """The follow button of a funding source's, a project's or a country's page."""
    form = request.form
    kind, target = form.get("kind", ""), form.get("target", "")
    back = _safe_next(url_for("alerts.notifications"))
    return save(
        lambda: alerts.follow(current_actor(), kind, target, form.get("frequency") or None),
        lambda item: _("You follow %(name)s: news of it comes to your notifications.", name=alerts.follow_name(item)),
        back,
    )


@bp.post("/follows/<int:follow_id>/delete")
@login_required
def unfollow(follow_id: int):
    actor = current_actor()
    item = alerts.get_follow(actor, follow_id)
    name = alerts.follow_name(item)
    return save(
        lambda: alerts.unfollow(actor, item),
        _("You no longer follow %(name)s.", name=name),
        _safe_next(url_for("alerts.notifications")),
    )


@bp.post("/follows/<int:follow_id>/frequency")
@login_required
def follow_frequency(follow_id: int):
    actor = current_actor()
    item = alerts.get_follow(actor, follow_id)
    return save(
        lambda: alerts.set_follow_frequency(actor, item, request.form.get("frequency", "")),
        _("Alert changed."),
        _safe_next(url_for("alerts.notifications")),
    )


@bp.post("/saved-searches/<int:search_id>/alert")
@login_required
def search_frequency(search_id: int):
    actor = current_actor()
    search = marketplace.get_saved_search(actor, search_id)
    return save(
        lambda: alerts.set_search_frequency(actor, search, request.form.get("frequency", "")),
        _("Alert changed."),
        _safe_next(url_for("alerts.notifications")),
    )


@bp.route("/alerts/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # the signed token is the credential; mail clients post here (RFC 8058) with no session
def unsubscribe(token: str):
    """GET: the page with a button (link checkers that open links change nothing); POST (that
    button, or a mail client's one-click unsubscribe): the alerts' e-mails are turned off."""
    user_id, named = alerts.read_unsubscribe_token(token)
    if request.method == "POST":
        alerts.unsubscribe(token)
        commit()
        return render_template("alerts/unsubscribed.html", names=_names(named), done=True)
    return render_template("alerts/unsubscribed.html", names=_names(named), done=False, token=token)


def _names(named: list[tuple[str, int]]) -> list[str]:
    return [name for name in (alerts.alert_name(a) for a in named) if name]
