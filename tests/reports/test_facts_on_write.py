"""The report facts are brought up to date by the writer's commit; a report read never commits.

Each writer (the API, a page form, a command, an import, a bulk insert through the DB-API
cursor) commits, and right after the commit, before any report runs, the facts already
equal the flows: the refresh happened inside the writer's unit of work. The next report
then equals a sum of the flows done here, flow by flow, to the cent.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from flask_sqlalchemy.session import Session as AppSession
from sqlalchemy import event, select, text, update

from registry.extensions import db
from registry.models import CategoryMembership, Transaction
from registry.services import accounts
from reports import facts
from reports.models import ReportState
from reports.web import CHARTS
from tests.importers.helpers import csv_bytes
from tests.reports.test_facts import _facts, _from_transactions
from tests.sessions import log_in

COLUMNS = ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"]


@pytest.fixture
def commits(app):
    """How many times any application session began to commit (requests, commands, tests)."""
    seen = {"n": 0}

    def count(_session):
        seen["n"] += 1

    event.listen(AppSession, "before_commit", count)
    yield seen
    event.remove(AppSession, "before_commit", count)


@pytest.fixture
def donor(app, actor, make_org):
    org = make_org(ref="FACTS-DON", name="Facts donor")
    user = accounts.create_user(actor, "facts-donor@example.org", "donor", org=org)
    token = accounts.issue_token(actor, user)
    db.session.commit()
    return org, user, {"Authorization": f"Bearer {token}"}


def _fresh_without_reading() -> None:
    """The facts equal the flows now, with no report having run since the commit."""
    assert not facts.stale(), "the commit left flows the facts do not include"
    assert _facts() == _from_transactions()


def _commitments_in(client, country: str) -> Decimal:
    """The flows report's commitments to one country (a project wholly in it), from the API."""
    response = client.get(f"/api/v1/reports/flows?by=country&country={country}&measure=commitment")
    assert response.status_code == 200, response.get_json()
    return Decimal(response.get_json()["total"]["commitment"])


def _usd_commitments(where: str = "", **params) -> Decimal:
    """Commitments in USD added up flow by flow from the stored rows (as the reports count
    them: no constant-price flow, no flow without a USD value)."""
    rows = db.session.execute(
        text(
            "SELECT usd_minor FROM transactions WHERE type = 'commitment' AND price_basis IS NULL "
            "AND usd_minor IS NOT NULL" + where
        ),
        params,
    )
    total = Decimal(0)
    for (minor,) in rows:
        total += Decimal(minor) / 100
    return total


def _all_commitments(client) -> Decimal:
    response = client.get("/api/v1/reports/flows?by=year&measure=commitment")
    assert response.status_code == 200, response.get_json()
    return Decimal(response.get_json()["total"]["commitment"])


def test_no_report_get_commits(app, client, registry_data, commits):
    """Every report page and API route, with facts left stale (flows not yet committed and a
    raw update): none commits, and none fails."""
    three = registry_data["three"]
    db.session.execute(update(Transaction).where(Transaction.project_id == three.id).values(usd_minor=12_345))
    assert facts.stale()
    rules = [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint.split(".")[0] in {"reports", "reports_web"} and not r.endpoint.endswith("static")
    ]
    assert len(rules) >= 8
    asked = 0
    for rule in rules:
        assert "GET" in rule.methods
        names = CHARTS if "<name>" in rule.rule else [None]
        for name in names:
            url = rule.rule.replace("<name>", name) if name else rule.rule
            # the forward view's routes take their own parameters (reports/forward_api.py)
            forward = "/predictability" in url or "/forward-spending" in url
            queries = (
                ("?currency=EUR", "?donor=X", "?year_from=2020")
                if "/predictability" in url
                else (
                    ("?by=region", "?by=area&currency=EUR", "?by=country")
                    if forward
                    else ("?by=region", "?by=category&measure=commitment", "?by=year&currency=EUR")
                )
            )
            for query in queries:
                response = client.get(url + query)
                assert response.status_code == 200, (url, response.status_code)
                asked += 1
    assert asked >= 24
    assert commits["n"] == 0


def test_a_write_through_the_api_refreshes_in_its_commit(client, donor, make_project, commits):
    org, _user, headers = donor
    project = make_project(org=org, recipients=[{"country": "MWI", "share": Decimal(100)}])
    db.session.commit()
    url = f"/api/v1/projects/{project.id}/transactions"
    body = {"type": "commitment", "currency": "USD", "value_date": "2021-03-15"}
    first = client.post(url, json={**body, "amount": "1000.01"}, headers=headers)
    assert first.status_code == 201, first.get_json()
    _fresh_without_reading()
    second = client.post(url, json={**body, "amount": "250.50", "value_date": "2022-01-02"}, headers=headers)
    assert second.status_code == 201
    read = {**headers, "If-Match": first.headers["ETag"]}
    changed = client.patch(f"{url}/{first.get_json()['id']}", json={"amount": "999.99"}, headers=read)
    assert changed.status_code == 200, changed.get_json()
    _fresh_without_reading()
    writes = commits["n"]
    assert _commitments_in(client, "MWI") == Decimal("999.99") + Decimal("250.50")
    read = {**headers, "If-Match": second.headers["ETag"]}
    assert client.delete(f"{url}/{second.get_json()['id']}", headers=read).status_code == 204
    _fresh_without_reading()
    assert _commitments_in(client, "MWI") == Decimal("999.99")
    assert commits["n"] == writes + 1  # the delete; the two reports committed nothing


def test_a_write_through_a_page_form_refreshes_in_its_commit(client, donor, make_project):
    org, user, _headers = donor
    project = make_project(org=org, recipients=[{"country": "ZMB", "share": Decimal(100)}])
    db.session.commit()
    log_in(client, user)
    form = {"type": "commitment", "amount": "3141.59", "currency": "USD", "value_date": "2021-02-01"}
    response = client.post(f"/projects/{project.id}/transactions/new", data=form)
    assert response.status_code == 302, response.data[:2000]
    _fresh_without_reading()
    assert _commitments_in(client, "ZMB") == Decimal("3141.59")


def test_an_import_by_command_refreshes_in_its_commit(runner, tmp_path, donor, commits):
    rows = [
        COLUMNS,
        ["CMD-1", "Schools online", "Mozambique", "commitment", "1000.10", "USD", "2021-01-04"],
        ["CMD-1", "Schools online", "Mozambique", "commitment", "0.07", "USD", "2021-06-01"],
        ["CMD-1", "Schools online", "Mozambique", "disbursement", "250", "USD", "2021-06-01"],
    ]
    path = tmp_path / "donor.csv"
    path.write_bytes(csv_bytes(rows))
    before = commits["n"]
    done = runner.invoke(args=["import", "sheet", str(path), "--org", "FACTS-DON"])
    assert done.exit_code == 0, done.output
    assert commits["n"] > before
    _fresh_without_reading()
    client = runner.app.test_client()
    assert _commitments_in(client, "MOZ") == Decimal("1000.10") + Decimal("0.07")


def test_an_import_through_the_api_refreshes_in_its_commit(client, donor):
    _org, _user, headers = donor
    rows = [
        COLUMNS,
        ["API-F-1", "Connected clinics", "Malawi", "commitment", "12345.67", "USD", "2021-01-04"],
        ["API-F-2", "Rural backbone", "Malawi", "commitment", "0.33", "USD", "2021-02-01"],
        ["API-F-3", "Library links", "Zambia", "commitment", "7", "USD", "2020-12-31"],
    ]
    body = {"file": (io.BytesIO(csv_bytes(rows)), "donor.csv")}
    response = client.post("/api/v1/imports", data=body, headers=headers, content_type="multipart/form-data")
    assert response.status_code in (200, 201), response.get_json()
    assert response.get_json()["status"] == "committed"
    _fresh_without_reading()
    assert _commitments_in(client, "MWI") == Decimal("12345.67") + Decimal("0.33")
    assert _commitments_in(client, "ZMB") == Decimal("7.00")


def test_a_bulk_insert_through_the_dbapi_cursor_is_refreshed_by_the_commit(client, make_project):
    """A writer that bypasses SQLAlchemy altogether: the triggers (PostgreSQL) or the
    watermark (SQLite) show the listener what to refresh."""
    project = make_project(recipients=[{"country": "TGO", "share": Decimal(100)}])
    db.session.commit()
    _fresh_without_reading()
    amounts = [Decimal("0.01") * n for n in range(1, 151)] + [Decimal("1234567.89")]
    connection = db.session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = (
        "INSERT INTO transactions (project_id, type, amount_minor, currency, value_date, usd_minor, usd_rate, "
        f"usd_rate_date, description, created_at) VALUES ({', '.join([mark] * 10)})"
    )
    day, now = "2021-05-05", dt.datetime(2024, 1, 1).isoformat(sep=" ")
    rows = [(project.id, "commitment", int(a * 100), "USD", day, int(a * 100), "1", day, "bulk", now) for a in amounts]
    cursor = connection.connection.dbapi_connection.cursor()
    cursor.executemany(sql, rows)
    cursor.close()
    assert facts.stale()
    db.session.commit()
    _fresh_without_reading()
    expected = sum(amounts, Decimal(0))
    assert _commitments_in(client, "TGO") == expected
    assert _usd_commitments(" AND project_id = :pid", pid=project.id) == expected


def test_seed_synthetic_commits_flows_and_facts_together(runner, client, commits):
    before = commits["n"]
    done = runner.invoke(args=["seed", "synthetic", "--projects", "6", "--transactions", "300", "--seed", "3"])
    assert done.exit_code == 0, done.output
    assert "report facts brought up to date" in done.output
    assert commits["n"] == before + 1  # one commit: the flows and their facts
    _fresh_without_reading()
    assert _all_commitments(client) == _usd_commitments()


def test_a_commit_that_changes_memberships_rebuilds_the_periods(app, registry_data):
    """A change no trigger sees (the reference data, through the ORM) is noticed by the
    unit of work itself and rebuilds the facts in its commit."""
    db.session.commit()
    before = db.session.get(ReportState, facts.STATE_KEY).value
    membership = db.session.scalars(select(CategoryMembership).limit(1)).one()
    membership.valid_from = dt.date(2020, 6, 15)  # a new period boundary
    db.session.commit()
    after = db.session.get(ReportState, facts.STATE_KEY).value
    assert after != before
    assert after == facts.signature(facts.breakpoints())
    _fresh_without_reading()
    # The same through a bulk statement (no object in the session)
    db.session.execute(
        update(CategoryMembership)
        .where(CategoryMembership.id == membership.id)
        .values(valid_from=dt.date(2019, 3, 3))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    again = db.session.get(ReportState, facts.STATE_KEY, populate_existing=True).value
    assert again not in (before, after)
    assert again == facts.signature(facts.breakpoints())
    _fresh_without_reading()


def test_stale_facts_on_a_read_still_give_the_right_figures(client, make_project, commits):
    """Raw SQL the application did not refresh for (a writer outside it): the report is right
    to the cent. On SQLite it refreshes inside its own read transaction and commits nothing; on
    PostgreSQL the read that finds marks commits their refresh, so the next reads find the
    facts fresh instead of each redoing it behind the refresh lock (ensure_fresh_for_read)."""
    project = make_project(recipients=[{"country": "BEN", "share": Decimal(100)}])
    db.session.commit()
    before = commits["n"]
    connection = db.session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    day = "2020-02-02"
    connection.exec_driver_sql(
        "INSERT INTO transactions (project_id, type, amount_minor, currency, value_date, usd_minor, usd_rate, "
        f"usd_rate_date, description, created_at) VALUES ({', '.join([mark] * 10)})",
        [(project.id, "commitment", m, "USD", day, m, "1", day, "raw", day) for m in (101, 2_02, 30_303)],
    )
    assert facts.stale()
    assert _commitments_in(client, "BEN") == Decimal("1.01") + Decimal("2.02") + Decimal("303.03")
    db.session.execute(
        text("UPDATE transactions SET usd_minor = usd_minor + 7 WHERE project_id = :p"), {"p": project.id}
    )
    assert _commitments_in(client, "BEN") == Decimal("306.06") + Decimal("0.21")
    assert _usd_commitments(" AND project_id = :pid", pid=project.id) == Decimal("306.27")
    assert _all_commitments(client) == _usd_commitments()
    if db.session.get_bind().dialect.name == "postgresql":
        assert commits["n"] > before and not facts.stale()
    else:
        assert commits["n"] == before


def test_the_refresh_command_commits_once(runner, registry_data, commits):
    before = commits["n"]
    done = runner.invoke(args=["report", "refresh"])
    assert done.exit_code == 0, done.output
    assert commits["n"] == before + 1
    _fresh_without_reading()


def test_a_report_command_commits_nothing(runner, registry_data, commits):
    before = commits["n"]
    done = runner.invoke(args=["report", "flows", "--by", "region", "--format", "json"])
    assert done.exit_code == 0, done.output
    assert commits["n"] == before


def test_a_commit_does_not_wait_for_a_refresh_running_elsewhere(client, make_project, make_transaction):
    """PostgreSQL: while another transaction holds the refresh lock, a writer commits without
    waiting (waiting while holding its own rows could deadlock): its changes stay marked,
    a report is still right, and the next commit refreshes them."""
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite lets one writer at a time, there is no lock to wait for")
    # Taken before this test's connection refreshes anything (its refreshes hold the lock to
    # the end of the test's outer transaction, which never commits).
    with db.engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:id)"), {"id": facts.LOCK_ID})
        project = make_project(recipients=[{"country": "GHA", "share": Decimal(100)}])
        make_transaction(project, amount=Decimal("10.10"))
        make_transaction(project, amount=Decimal("0.90"))
        db.session.commit()  # does not wait
        assert facts.stale()
        other.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": facts.LOCK_ID})
        other.commit()
    assert _commitments_in(client, "GHA") == Decimal("11.00")
    make_transaction(project, amount=Decimal("0.01"))
    db.session.commit()
    _fresh_without_reading()
    assert _commitments_in(client, "GHA") == Decimal("11.01")


def test_a_membership_change_committed_during_a_refresh_elsewhere_is_not_forgotten(
    client, registry_data, make_project, make_transaction
):
    """PostgreSQL: a commit that changes the memberships while another transaction holds the
    refresh lock cannot rebuild the periods itself; the next commit must, else the stored
    facts keep the old periods for good (and every report rebuilds them all for itself)."""
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite lets one writer at a time, there is no lock to wait for")
    with db.engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:id)"), {"id": facts.LOCK_ID})
        membership = db.session.scalars(select(CategoryMembership).limit(1)).one()
        membership.valid_from = dt.date(2020, 6, 15)  # a new period boundary
        db.session.commit()  # does not wait, and cannot rebuild
        other.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": facts.LOCK_ID})
        other.commit()
    project = make_project(recipients=[{"country": "GHA", "share": Decimal(100)}])
    make_transaction(project, amount=Decimal("5.05"))
    db.session.commit()  # an ordinary write: it must catch up on the periods too
    state = db.session.get(ReportState, facts.STATE_KEY, populate_existing=True)
    assert state is not None and state.value == facts.signature(facts.breakpoints())
    _fresh_without_reading()


def test_reports_plan_without_nested_loops_and_the_refresh_keeps_them(app, make_project, make_transaction):
    """PostgreSQL: a report's queries run with nested loops off (its joins read whole tables:
    hash joins), the facts' refresh before them with nested loops on (it reads a few projects
    by id through their indexes)."""
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no planner settings")
    from reports.flows import run_report
    from reports.schemas import build_spec

    project = make_project(recipients=[{"country": "GHA", "share": Decimal(100)}])
    make_transaction(project, amount=Decimal("10.10"))
    seen: list[tuple[str, str]] = []

    def setting(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith(("INSERT INTO REPORT_", "SELECT")) and "sum(" in statement:
            cursor.execute("SHOW enable_nestloop")
            seen.append((statement.lstrip()[:6].upper(), cursor.fetchone()[0]))

    event.listen(db.engine, "before_cursor_execute", setting)
    try:
        report = run_report(build_spec(by=["region"], measures=["commitment"], currency="USD"))
    finally:
        event.remove(db.engine, "before_cursor_execute", setting)
    assert report is not None
    refresh = [value for kind, value in seen if kind == "INSERT"]
    reads = [value for kind, value in seen if kind == "SELECT"]
    assert refresh and set(refresh) == {"on"}, seen
    assert reads and reads[-1] == "off", seen
    # A refresh later in the same transaction (a change, then its commit) has them back.
    seen.clear()
    make_transaction(project, amount=Decimal("5.05"))
    event.listen(db.engine, "before_cursor_execute", setting)
    try:
        facts.ensure_fresh()
    finally:
        event.remove(db.engine, "before_cursor_execute", setting)
    refresh = [value for kind, value in seen if kind == "INSERT"]
    assert refresh and set(refresh) == {"on"}, seen
