"""Rate limits (issue 14): failed logins per address and per account, API token use, uploads and
exports per user; a 429 with Retry-After, in the API's JSON error shape or as a page; the counts
shared between processes through Redis."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from registry.extensions import db

PASSWORD = "correct horse battery"
REPO = Path(__file__).resolve().parents[2]
ELSEWHERE = {"REMOTE_ADDR": "192.0.2.10"}  # another client (a documentation address; no traffic)


def login(client, email: str, password: str = "a wrong password", **kwargs):
    return client.post("/login", data={"email": email, "password": password}, **kwargs)


def retry_after(response) -> int:
    value = int(response.headers["Retry-After"])
    assert 0 < value <= 3600, value
    return value


def assert_json_429(response, phrase: str) -> None:
    assert response.status_code == 429, response.status_code
    body = response.get_json()
    assert body["code"] == 429 and body["status"] == "Too Many Requests" and body["errors"] == {}
    assert phrase in body["message"] and "try again in" in body["message"]
    retry_after(response)


def assert_page_429(response, phrase: str) -> None:
    assert response.status_code == 429, response.status_code
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "429 · Too Many Requests" in page and phrase in page and "try again in" in page
    retry_after(response)


@pytest.fixture
def person(make_user):
    user, token = make_user("donor", password=PASSWORD)
    db.session.commit()
    return user, token


# -- login -------------------------------------------------------------------------------


def test_wrong_passwords_for_one_account_are_refused_after_the_limit(app, client, person):
    user, _ = person
    assert app.config["RATELIMIT_LOGIN_ACCOUNT"].startswith("5 per minute")
    statuses = [login(client, user.email).status_code for _ in range(5)]
    assert statuses == [400] * 5
    refused = login(client, user.email)
    assert_page_429(refused, "Too many failed logins for this account")
    # the right password is refused too while the account is locked: guessing gains nothing
    assert login(client, user.email, PASSWORD).status_code == 429
    # the account is locked from every address, not only the guesser's
    assert login(client, user.email, PASSWORD, environ_base=ELSEWHERE).status_code == 429
    # another account from the same address is not
    assert login(client, "someone-else@example.org").status_code == 400


def test_wrong_passwords_from_one_address_are_refused_after_the_limit(app, client, person, monkeypatch):
    user, _ = person
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_IP", "4 per minute")
    statuses = [login(client, f"guess{n}@example.org").status_code for n in range(4)]
    assert statuses == [400] * 4
    assert_page_429(login(client, user.email, PASSWORD), "Too many failed logins from this address")
    # another address logs in as usual
    assert login(client, user.email, PASSWORD, environ_base=ELSEWHERE).status_code == 302


def test_successful_logins_do_not_count(app, client, person, monkeypatch):
    user, _ = person
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_ACCOUNT", "2 per minute")
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_IP", "2 per minute")
    for _ in range(4):
        assert login(client, user.email, PASSWORD).status_code == 302
    # nor does opening the login page
    for _ in range(4):
        assert client.get("/login").status_code == 200


# -- API tokens --------------------------------------------------------------------------


def test_api_token_use_is_limited_per_token_with_the_json_error(app, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_API_TOKEN", "3 per minute")
    _, token = make_user("analyst")
    _, other = make_user("analyst")
    db.session.commit()

    def get(token: str | None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return client.get("/api/v1/projects", headers=headers)

    assert [get(token).status_code for _ in range(3)] == [200] * 3
    assert_json_429(get(token), "Too many requests with this API token")
    assert get(other).status_code == 200  # each token has its own count
    assert get(None).status_code == 200  # reading without a token is not counted against tokens


def test_refused_tokens_are_limited_per_address(app, client, person, monkeypatch):
    _, token = person
    monkeypatch.setitem(app.config, "RATELIMIT_API_TOKEN_FAILURES", "3 per minute")
    for n in range(3):
        response = client.get("/api/v1/projects", headers={"Authorization": f"Bearer ict4d_guess{n}"})
        assert response.status_code == 401
    guessed = client.get("/api/v1/projects", headers={"Authorization": "Bearer ict4d_guess9"})
    assert_json_429(guessed, "Too many refused API tokens from this address")
    # a good token from that address waits too (the address is guessing); from elsewhere it works
    assert client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"}).status_code == 429
    elsewhere = client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"}, environ_base=ELSEWHERE)
    assert elsewhere.status_code == 200
    # good tokens do not count as refusals
    assert client.get("/api/v1/projects").status_code == 200


# -- uploads and exports -----------------------------------------------------------------

CSV = (
    b"Project reference,Title,Country,Priority area,Type,Amount,Currency,Value date\n"
    b"R1,Clinics online,KEN,23b,commitment,5,USD,2021-01-04\n"
)


def upload_api(client, token: str):
    body = {"file": (io.BytesIO(CSV), "mine.csv"), "dry_run": "true"}
    return client.post(
        "/api/v1/imports", data=body, headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data"
    )


def test_uploads_are_limited_per_user_on_the_api_and_the_pages(app, client, make_user, monkeypatch):
    from tests.sessions import log_in

    monkeypatch.setitem(app.config, "RATELIMIT_UPLOADS", "2 per minute")
    user, token = make_user("donor")
    _, other_token = make_user("donor")
    db.session.commit()
    first = [upload_api(client, token) for _ in range(2)]
    assert [r.status_code for r in first] == [201, 201], [r.get_json() for r in first]
    assert_json_429(upload_api(client, token), "Too many uploads")
    assert upload_api(client, other_token).status_code == 201  # another user has their own count
    # the upload page draws on the same count as the API
    log_in(client, user)
    page = client.post(
        "/imports/",
        data={"file": (io.BytesIO(CSV), "mine.csv"), "org_id": str(user.org_id)},
        content_type="multipart/form-data",
    )
    assert_page_429(page, "Too many uploads")


def test_exports_are_limited_per_user_and_reading_reports_is_not(app, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_EXPORTS", "2 per minute")
    _, token = make_user("analyst")
    db.session.commit()
    assert client.get("/api/v1/reports/flows.csv").status_code == 200
    assert client.get("/api/v1/reports/funding-gap.xlsx").status_code == 200
    for export in ("/api/v1/reports/flows.xlsx", "/api/v1/reports/funding-gap.csv", "/api/v1/projects.iati.xml"):
        assert_json_429(client.get(export), "Too many exports")
    # the report itself (JSON) is not an export
    assert client.get("/api/v1/reports/flows").status_code == 200
    # a user has a count of their own, apart from the anonymous address
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/reports/flows.csv", headers=headers).status_code == 200


def test_limited_responses_say_the_limit(app, client, make_user):
    _, token = make_user("analyst")
    db.session.commit()
    response = client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"] == "300"
    assert int(response.headers["X-RateLimit-Remaining"]) == 299


# -- one count for every process (Redis) -------------------------------------------------

ATTEMPTS = """
import json, sys
from registry.app import create_app
database, storage, prefix, email, tries = sys.argv[1:]
app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database, "WTF_CSRF_ENABLED": False,
                  "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False, "RATELIMIT_STORAGE_URI": storage,
                  "RATELIMIT_KEY_PREFIX": prefix, "RATELIMIT_LOGIN_ACCOUNT": "3 per minute"})
client = app.test_client()
statuses = [client.post("/login", data={"email": email, "password": "wrong"}).status_code
            for _ in range(int(tries))]
print(json.dumps(statuses))
"""


def _attempts(database_url: str, storage: str, prefix: str, email: str, tries: int) -> list[int]:
    done = subprocess.run(
        [sys.executable, "-c", ATTEMPTS, database_url, storage, prefix, email, str(tries)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set (no Redis server to share counts)")
def test_two_processes_share_the_counts_through_redis(app, database_url):
    storage = os.environ["REDIS_URL"]
    prefix = f"test-{uuid.uuid4().hex}"  # a count of its own, whatever else the server holds
    email = "shared-count@example.org"
    assert _attempts(database_url, storage, prefix, email, 3) == [400, 400, 400]
    # a second process (another gunicorn worker, another server) sees the first one's count
    assert _attempts(database_url, storage, prefix, email, 1) == [429]
    # with memory:// each process counts alone: the very reason production refuses it
    assert _attempts(database_url, "memory://", prefix, email, 3) == [400, 400, 400]
    assert _attempts(database_url, "memory://", prefix, email, 1) == [400]


def test_trusted_proxies_put_proxyfix_in_front_of_the_app(app):
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from registry.app import trust_proxies

    assert app.config["TRUSTED_PROXIES"] == 0 and not isinstance(app.wsgi_app, ProxyFix)
    behind = Flask(__name__)
    behind.config["TRUSTED_PROXIES"] = 2
    trust_proxies(behind)
    assert isinstance(behind.wsgi_app, ProxyFix) and behind.wsgi_app.x_for == 2 and behind.wsgi_app.x_proto == 2


def test_behind_a_trusted_proxy_each_client_address_counts_alone(app, client, monkeypatch):
    from registry.app import trust_proxies

    monkeypatch.setattr(app, "wsgi_app", app.wsgi_app)  # put back after the test
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", 1)
    trust_proxies(app)
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_IP", "2 per minute")

    def from_(address: str):
        return login(client, f"guess-{uuid.uuid4().hex}@example.org", headers={"X-Forwarded-For": address})

    assert [from_("198.51.100.1").status_code for _ in range(2)] == [400, 400]
    assert from_("198.51.100.1").status_code == 429
    assert from_("198.51.100.2").status_code == 400  # another client behind the same proxy


class _SlowTimerSlot:
    """The storage's ``timer`` attribute, slow to set: it widens the moment between a thread
    putting a new expiry timer in place and starting it, where a second thread could start the
    same timer (limits' MemoryStorage does not lock there)."""

    def __set__(self, storage, timer):
        storage.__dict__["timer"] = timer
        time.sleep(0.002)

    def __get__(self, storage, owner=None):
        return storage.__dict__["timer"]


def test_memory_counters_survive_threads_hitting_at_once(app):
    """memory:// is the thread-safe storage: eight threads hitting one key at once, each after
    the expiry timer has ended, count every hit and start no timer twice. (limits' own
    MemoryStorage, in the same harness, raises "threads can only be started once" and loses
    most of the hits.)"""
    from limits.storage import storage_from_string

    from registry.extensions import limiter
    from registry.rate_limits import ThreadSafeMemoryStorage

    assert type(storage_from_string("memory://")) is ThreadSafeMemoryStorage
    assert isinstance(limiter.storage, ThreadSafeMemoryStorage)

    probe = type("Probe", (ThreadSafeMemoryStorage,), {"timer": _SlowTimerSlot()})()
    errors: list[BaseException] = []
    hook = threading.excepthook
    threading.excepthook = lambda failure: errors.append(failure.exc_value)
    barrier = threading.Barrier(8)

    def hit() -> None:
        barrier.wait()
        for _ in range(20):
            try:
                probe.incr("key", 1)
            except Exception as error:  # noqa: BLE001 - the test counts every failure
                errors.append(error)
            time.sleep(0.011)  # the timer (10 ms) has ended: the next hit starts a new one

    try:
        threads = [threading.Thread(target=hit) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        threading.excepthook = hook
    assert errors == []
    assert probe.get("key") == 8 * 20
