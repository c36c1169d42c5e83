"""Alerts under /api/v1: follows, a saved search's e-mail frequency, and notifications."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from registry.api.common import check_if_match, commit
from registry.auth import current_actor, roles_required
from registry.models import Follow, Notification
from registry.schemas.alerts import (
    FollowIn,
    FollowOut,
    FrequencyIn,
    NotificationListOut,
    NotificationOut,
    NotificationQuery,
    ReadOut,
    SearchAlertOut,
)
from registry.services import alerts, marketplace
from registry.services import notifications as inbox
from registry.web.alerts import notification_link

blp = Blueprint("alerts_api", __name__, url_prefix="/api/v1", description="Follows, alerts and notifications")


def follow_out(item: Follow) -> dict:
    target = {"country": item.country_iso3, "project": item.project_id, "funding_source": item.funding_source_id}
    return {
        "id": item.id,
        "kind": item.kind,
        "target": str(target[item.kind]),
        "name": alerts.follow_name(item),
        "frequency": item.frequency,
        "created_at": item.created_at,
    }


def follow_etag(item: Follow) -> str:
    return f'"follow-{item.id}-{item.frequency}"'


def search_alert_etag(search) -> str:
    return f'"search-alert-{search.id}-{search.alert_frequency}"'


def notification_out(note: Notification) -> dict:
    return {
        "id": note.id,
        "message": inbox.message(note),
        "template": note.template,
        "params": note.params,
        "object_type": note.object_type,
        "object_id": note.object_id,
        "link": notification_link(note, external=True),
        "read": note.read_at is not None,
        "created_at": note.created_at,
        "read_at": note.read_at,
        "emailed_at": note.emailed_at,
        "follow_id": note.follow_id,
        "saved_search_id": note.saved_search_id,
    }


@blp.route("/follows")
class Follows(MethodView):
    @roles_required()
    @blp.response(200, FollowOut(many=True))
    def get(self):
        """What you follow, newest first."""
        return [follow_out(f) for f in alerts.follows(current_actor())]

    @roles_required()
    @blp.arguments(FollowIn)
    @blp.response(201, FollowOut)
    def post(self, args):
        """Follow a funding source, a project or a country (following it again answers the same
        follow, its frequency changed when one is given). The default frequency is daily."""
        item = alerts.follow(current_actor(), args["kind"], args["target"], args.get("frequency"))
        commit()
        return follow_out(item), {"ETag": follow_etag(item)}


@blp.route("/follows/<int:follow_id>")
class FollowDetail(MethodView):
    @roles_required()
    @blp.response(200, FollowOut)
    def get(self, follow_id: int):
        item = alerts.get_follow(current_actor(), follow_id)
        return follow_out(item), {"ETag": follow_etag(item)}

    @roles_required()
    @blp.arguments(FrequencyIn)
    @blp.response(200, FollowOut)
    def patch(self, args, follow_id: int):
        """Change how often the follow is e-mailed (If-Match: its ETag, or ``*``)."""
        actor = current_actor()
        item = alerts.get_follow(actor, follow_id)
        check_if_match(follow_etag(item))
        alerts.set_follow_frequency(actor, item, args["frequency"] or "")
        commit()
        return follow_out(item), {"ETag": follow_etag(item)}

    @roles_required()
    @blp.response(204)
    def delete(self, follow_id: int):
        """Unfollow (If-Match: its ETag, or ``*``); its notifications stay in the list."""
        actor = current_actor()
        item = alerts.get_follow(actor, follow_id)
        check_if_match(follow_etag(item))
        alerts.unfollow(actor, item)
        commit()


@blp.route("/saved-searches/<int:search_id>/alert")
class SearchAlert(MethodView):
    @roles_required()
    @blp.response(200, SearchAlertOut)
    def get(self, search_id: int):
        search = marketplace.get_saved_search(current_actor(), search_id)
        return {"saved_search_id": search.id, "frequency": search.alert_frequency}, {"ETag": search_alert_etag(search)}

    @roles_required()
    @blp.arguments(FrequencyIn)
    @blp.response(200, SearchAlertOut)
    def put(self, args, search_id: int):
        """Set how often the saved search's new matches are e-mailed (If-Match: its ETag, or ``*``)."""
        actor = current_actor()
        search = marketplace.get_saved_search(actor, search_id)
        check_if_match(search_alert_etag(search))
        alerts.set_search_frequency(actor, search, args["frequency"] or "")
        commit()
        return {"saved_search_id": search.id, "frequency": search.alert_frequency}, {"ETag": search_alert_etag(search)}


@blp.route("/notifications")
class Notifications(MethodView):
    @roles_required()
    @blp.arguments(NotificationQuery, location="query")
    @blp.response(200, NotificationListOut)
    def get(self, args):
        """Your notifications, unread first, then the newest; each message in the language of
        Accept-Language, with its message id and parameters."""
        per_page = args["per_page"]
        listing = inbox.notifications(
            current_actor().user_id, args["unread"], limit=per_page, offset=(args["page"] - 1) * per_page
        )
        return {"unread": listing.unread, "total": listing.total, "items": [notification_out(n) for n in listing.items]}


@blp.route("/notifications/<int:notification_id>/read")
class NotificationRead(MethodView):
    @roles_required()
    @blp.response(200, NotificationOut)
    def post(self, notification_id: int):
        """Mark one notification read."""
        note = inbox.get_notification(current_actor().user_id, notification_id)
        inbox.mark_read(note)
        commit()
        return notification_out(note)


@blp.route("/notifications/read")
class NotificationsRead(MethodView):
    @roles_required()
    @blp.response(200, ReadOut)
    def post(self):
        """Mark all your notifications read."""
        user_id = current_actor().user_id
        marked = inbox.mark_all_read(user_id)
        commit()
        return {"marked": marked, "unread": inbox.unread_count(user_id)}
