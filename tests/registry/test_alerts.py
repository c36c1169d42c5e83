"""Alerts: follows and saved searches turned into notifications, and their e-mail digests
received by a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import email
import re
import socket
from email.message import Message
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller

from registry import queue
from registry.extensions import db, mail
from registry.models import Follow, Job, Notification
from registry.services import accounts, alerts, marketplace
from registry.services import notifications as inbox
from registry.services.actor import Actor
from tests.catalogues import use_french_catalogue
from tests.registry.test_marketplace import PROJECT, as_actor, governments_and_donors
from tests.sessions import log_in


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's hook name)
        self.messages.append(
            (list(envelope.rcpt_tos), email.message_from_bytes(envelope.content, policy=default_policy))
        )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(app):
    """A real SMTP server on a free loopback port, and the app sending to it."""
    received = Inbox()
    controller = Controller(received, hostname="127.0.0.1", port=_free_port())
    controller.start()
    saved = {k: app.config.get(k) for k in ("MAIL_BACKEND", "MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS", "BASE_URL")}
    app.config.update(
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=controller.port,
        MAIL_USE_TLS=False,
        BASE_URL="https://registry.example.org",
    )
    mail.init_app(app)
    try:
        yield received
    finally:
        controller.stop()
        app.config.update(saved)
        mail.init_app(app)


@pytest.fixture
def people(actor, make_org):
    users = governments_and_donors(actor, make_org)
    users["reader"] = accounts.create_user(actor, "lecteur@example.org", "analyst")
    db.session.commit()
    return users


def _actor(user) -> Actor:
    return Actor(label=user.email, channel="web", user_id=user.id, role=user.role)


def _body(message: Message, kind: str) -> str:
    return message.get_body(preferencelist=(kind,)).get_content()


def _send(runner, frequency: str = "daily", *extra: str) -> str:
    result = runner.invoke(args=["alerts", "send", "--frequency", frequency, *extra])
    assert result.exit_code == 0, result.output
    return result.output


FRENCH = {
    ("ICT4D Funding Registry: %(num)d new alert", "ICT4D Funding Registry: %(num)d new alerts"): (
        "Registre ICT4D : %(num)d nouvelle alerte",
        "Registre ICT4D : %(num)d nouvelles alertes",
    ),
    "Project %(title)s: %(changes)s.": "Projet %(title)s : %(changes)s.",
    "its need is now %(amount)s": "son besoin est maintenant de %(amount)s",
    "Following %(name)s": "Suivi de %(name)s",
    "Unsubscribe from these alerts: %(url)s": "Se désabonner de ces alertes : %(url)s",
}


def test_a_followed_pipeline_project_changes_one_french_digest_by_smtp(
    app, runner, smtp, people, tmp_path, monkeypatch
):
    use_french_catalogue(app, tmp_path, monkeypatch, FRENCH)
    reader = people["reader"]
    reader.language = "fr"
    project = marketplace.post_pipeline_project(as_actor(people["npl"]), dict(PROJECT))
    alerts.follow(_actor(reader), "project", project.id, "daily")
    db.session.commit()

    marketplace.update_pipeline_project(
        as_actor(people["npl"]), project, {"need": {"amount": "2000000", "currency": "USD"}}
    )
    db.session.commit()
    _send(runner, "daily")

    told = db.session.query(Notification).filter_by(user_id=reader.id).all()
    assert len(told) == 1  # one change, one notification
    assert told[0].emailed_at is not None
    assert len(smtp.messages) == 1
    recipients, message = smtp.messages[0]
    assert recipients == ["lecteur@example.org"]
    assert message["Subject"] == "Registre ICT4D : 1 nouvelle alerte"
    text = _body(message, "plain")
    # the need as a French reader writes it (narrow no-break spaces between the thousands)
    assert "Projet Community networks in the hills : son besoin est maintenant de 2\u202f000\u202f000,00 USD." in text
    assert f"https://registry.example.org/projects/{project.id}\r\n" in text
    assert "Suivi de Community networks in the hills" in _body(message, "html")

    # sending again finds nothing new: nothing is sent
    _send(runner, "daily")
    assert len(smtp.messages) == 1


def test_the_unsubscribe_link_works_without_login_and_stops_the_mails(app, client, runner, smtp, people):
    reader = people["reader"]
    project = marketplace.post_pipeline_project(as_actor(people["npl"]), dict(PROJECT))
    follow = alerts.follow(_actor(reader), "project", project.id, "immediate")
    db.session.commit()
    marketplace.update_pipeline_project(as_actor(people["npl"]), project, {"contact_name": "Mr Thapa"})
    db.session.commit()
    _send(runner, "immediate")
    assert len(smtp.messages) == 1
    _, message = smtp.messages[0]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.fullmatch(
        r"<(https://registry\.example\.org(/alerts/unsubscribe/[^>]+))>", message["List-Unsubscribe"].strip()
    )
    assert link is not None
    assert link.group(1) in _body(message, "plain")

    # a link checker opening the address changes nothing; the mail client's one-click POST does
    page = client.get(link.group(2))
    assert page.status_code == 200
    db.session.refresh(follow)
    assert follow.frequency == "immediate"
    done = client.post(link.group(2), data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and b"data-unsubscribed" in done.data
    db.session.refresh(follow)
    assert follow.frequency == "off"

    marketplace.update_pipeline_project(as_actor(people["npl"]), project, {"contact_name": "Ms Rai"})
    db.session.commit()
    _send(runner, "immediate")
    assert len(smtp.messages) == 1  # no more mail
    assert len(db.session.query(Notification).filter_by(user_id=reader.id).all()) == 2  # still told in the app

    forged = client.post(link.group(2)[:-3] + "xyz")
    assert forged.status_code == 404


def test_each_frequency_is_sent_by_its_own_run(app, runner, smtp, people, make_source):
    reader = people["reader"]
    quick = make_source(name="Quick fund")
    daily = make_source(name="Daily fund")
    weekly = make_source(name="Weekly fund")
    for source, frequency in ((quick, "immediate"), (daily, "daily"), (weekly, "weekly")):
        alerts.follow(_actor(reader), "funding_source", source.id, frequency)
    db.session.commit()
    from registry.services.funding import update_funding_source

    admin = Actor(label="admin", channel="cli", role="admin")
    for source in (quick, daily, weekly):
        update_funding_source(admin, source, {"window_until": dt.date(2031, 3, 31)})
    db.session.commit()

    _send(runner, "immediate")
    assert [m["Subject"] for _, m in smtp.messages] == ["ICT4D Funding Registry: 1 new alert"]
    assert "Quick fund" in _body(smtp.messages[0][1], "plain")
    assert "its deadline is now March 31, 2031" in _body(smtp.messages[0][1], "plain")
    _send(runner, "weekly")
    assert len(smtp.messages) == 2 and "Weekly fund" in _body(smtp.messages[1][1], "plain")
    assert "Daily fund" not in _body(smtp.messages[1][1], "plain")
    _send(runner, "daily")
    assert len(smtp.messages) == 3 and "Daily fund" in _body(smtp.messages[2][1], "plain")
    for frequency in ("immediate", "daily", "weekly"):
        _send(runner, frequency)
    assert len(smtp.messages) == 3


def test_a_failed_send_is_retried_and_never_marks_the_notification_emailed(app, runner, smtp, people, make_source):
    reader = people["reader"]
    reader_id = reader.id
    source = make_source(name="Fund")
    alerts.follow(_actor(reader), "funding_source", source.id, "daily")
    db.session.commit()
    from registry.services.funding import update_funding_source

    update_funding_source(
        Actor(label="admin", channel="cli", role="admin"), source, {"website": "https://fund.example"}
    )
    db.session.commit()
    saved = {k: app.config.get(k) for k in ("MAIL_BACKEND", "MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS")}
    # nobody listens on this port: the connection is refused
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port(), MAIL_USE_TLS=False)
    mail.init_app(app)
    try:
        _send(runner, "daily")
    finally:
        app.config.update(saved)
        mail.init_app(app)
    note = db.session.query(Notification).filter_by(user_id=reader_id).one()
    assert note.emailed_at is None
    job = db.session.query(Job).filter_by(kind="alerts.send").one()
    assert (job.status, job.attempts) == ("queued", 1)  # huey holds the retry
    assert "ConnectionRefusedError" in job.message
    assert smtp.messages == []

    # the retry, with the mail server back: sent, and only now marked e-mailed
    queue.run_job(job_id := job.id)
    assert len(smtp.messages) == 1
    note = db.session.query(Notification).filter_by(user_id=reader_id).one()
    assert note.emailed_at is not None
    assert db.session.get(Job, job_id).status == "done"


def test_dry_run_records_and_sends_nothing(app, runner, smtp, people, make_source):
    reader = people["reader"]
    source = make_source(name="Fund")
    alerts.follow(_actor(reader), "funding_source", source.id, "daily")
    db.session.commit()
    from registry.services.funding import update_funding_source

    update_funding_source(
        Actor(label="admin", channel="cli", role="admin"), source, {"website": "https://fund.example"}
    )
    db.session.commit()
    out = _send(runner, "daily", "--dry-run")
    assert "1 new notifications; 1 users with daily e-mail due." in out
    assert smtp.messages == []
    assert db.session.query(Notification).count() == 0
    _send(runner, "daily")
    assert len(smtp.messages) == 1


def test_a_saved_search_tells_of_new_matches_once(app, runner, people, make_org):
    reader = people["a"]
    search = marketplace.create_saved_search(as_actor(reader), "Nepal", "pipeline", {"country": "NPL"}, "off")
    db.session.commit()
    first = alerts.collect()
    assert first.notifications == 0  # nothing posted since the search was saved
    project = marketplace.post_pipeline_project(as_actor(people["npl"]), dict(PROJECT))
    db.session.commit()
    alerts.collect()
    alerts.collect()
    notes = db.session.query(Notification).filter_by(saved_search_id=search.id).all()
    assert [(n.object_type, n.object_id) for n in notes] == [("pipeline_project", str(project.id))]
    assert (
        inbox.message(notes[0])
        == "Pipeline project Community networks in the hills now matches your saved search Nepal."
    )
    assert alerts.due_users("daily") == []  # "off": in the app only


def test_a_followed_country_hears_of_new_projects_and_flows(app, actor, people, make_project, make_transaction):
    reader = people["reader"]
    alerts.follow(_actor(reader), "country", "ken", "weekly")
    db.session.commit()
    kenya = make_project(title="Rural broadband", recipients=[{"country": "KEN", "share": 100}])
    make_project(title="Elsewhere", recipients=[{"country": "NPL", "share": 100}])
    db.session.commit()
    alerts.collect()
    make_transaction(kenya, amount="2500.00", currency="USD")
    db.session.commit()
    alerts.collect()
    texts = [inbox.message(n) for n in db.session.query(Notification).order_by(Notification.id)]
    assert texts == [
        "New project Rural broadband in Kenya.",
        "Project Rural broadband in Kenya: new commitment of 2,500.00 USD.",
    ]


def test_follow_and_unfollow_buttons_and_the_notifications_page(app, client, people, make_source):
    reader = people["reader"]
    source = make_source(name="Open fund")
    db.session.commit()
    log_in(client, reader)
    page = client.get(f"/funding-sources/{source.id}")
    assert b"Follow Open fund" in page.data
    done = client.post(
        "/follows", data={"kind": "funding_source", "target": source.id, "next": f"/funding-sources/{source.id}"}
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/funding-sources/{source.id}")
    follow = db.session.query(Follow).filter_by(user_id=reader.id).one()
    assert (follow.kind, follow.funding_source_id, follow.frequency) == ("funding_source", source.id, "daily")
    assert b"Unfollow Open fund" in client.get(f"/funding-sources/{source.id}").data
    # following again keeps one row
    client.post("/follows", data={"kind": "funding_source", "target": source.id})
    assert db.session.query(Follow).filter_by(user_id=reader.id).count() == 1

    from registry.services.funding import update_funding_source

    update_funding_source(
        Actor(label="admin", channel="cli", role="admin"), source, {"website": "https://fund.example"}
    )
    db.session.commit()
    alerts.collect()
    db.session.commit()
    listing = client.get("/notifications")
    assert listing.status_code == 200
    assert b"Funding source Open fund: changed: website." in listing.data
    assert b'data-unread="1"' in listing.data  # the header's count
    note = db.session.query(Notification).filter_by(user_id=reader.id).one()
    client.post(f"/notifications/{note.id}/read")
    db.session.refresh(note)
    assert note.read_at is not None
    assert b"data-unread" not in client.get("/notifications").data

    client.post(f"/follows/{follow.id}/frequency", data={"frequency": "weekly"})
    db.session.refresh(follow)
    assert follow.frequency == "weekly"
    client.post(f"/follows/{follow.id}/delete")
    assert db.session.query(Follow).filter_by(user_id=reader.id).count() == 0
    assert b"Follow Open fund" in client.get(f"/funding-sources/{source.id}").data


def test_the_notifications_page_asks_a_visitor_to_log_in(client):
    response = client.get("/notifications")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_follows_and_notifications_through_the_api(app, api, people, make_user, make_project):
    user, token = make_user("analyst")
    project = make_project(title="Telecentres")
    db.session.commit()
    created = api("post", "/api/v1/follows", token, json={"kind": "project", "target": str(project.id)})
    assert created.status_code == 201, created.json
    body = created.json
    assert (body["kind"], body["target"], body["name"], body["frequency"]) == (
        "project",
        str(project.id),
        "Telecentres",
        "daily",
    )
    again = api(
        "post", "/api/v1/follows", token, json={"kind": "project", "target": str(project.id), "frequency": "off"}
    )
    assert again.json["id"] == body["id"] and again.json["frequency"] == "off"
    assert api("post", "/api/v1/follows", token, json={"kind": "planet", "target": "1"}).status_code == 422
    assert api("post", "/api/v1/follows", token, json={"kind": "country", "target": "ATL"}).status_code == 404

    patch = api("patch", f"/api/v1/follows/{body['id']}", token, json={"frequency": "weekly"})
    assert patch.status_code == 428  # says which state it changes
    patch = api(
        "patch", f"/api/v1/follows/{body['id']}", token, json={"frequency": "weekly"}, headers={"If-Match": "*"}
    )
    assert patch.status_code == 200 and patch.json["frequency"] == "weekly"
    wrong = api(
        "patch", f"/api/v1/follows/{body['id']}", token, json={"frequency": "hourly"}, headers={"If-Match": "*"}
    )
    assert wrong.status_code == 422 and "frequency" in wrong.json["errors"]

    from registry.services.projects import update_project

    update_project(Actor(label="admin", channel="cli", role="admin"), project, {"status": "completed"})
    db.session.commit()
    alerts.collect()
    db.session.commit()
    listed = api("get", "/api/v1/notifications", token)
    assert listed.status_code == 200
    assert listed.json["unread"] == 1
    item = listed.json["items"][0]
    assert item["message"] == "Project Telecentres: its status is now completed."
    assert item["template"] == "Project %(title)s: %(changes)s."
    assert item["link"].endswith(f"/projects/{project.id}")
    read = api("post", f"/api/v1/notifications/{item['id']}/read", token)
    assert read.status_code == 200 and read.json["read"] is True
    assert api("get", "/api/v1/notifications?unread=true", token).json["items"] == []
    other, other_token = make_user("analyst")
    db.session.commit()  # an error response rolls the session back
    assert api("post", f"/api/v1/notifications/{item['id']}/read", other_token).status_code == 404
    assert api("delete", f"/api/v1/follows/{body['id']}", other_token, headers={"If-Match": "*"}).status_code == 404
    assert api("delete", f"/api/v1/follows/{body['id']}", token, headers={"If-Match": "*"}).status_code == 204
    assert api("get", "/api/v1/follows", token).json == []
