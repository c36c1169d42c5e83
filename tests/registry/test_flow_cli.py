"""`flask flow add|list|show|update|delete --project ID`: a project's money flows from a JSON or
YAML file, read by the API's schemas and saved by its services, refused for the same reasons
(exit status 1, the message and each field's problem, nothing saved)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import AuditEvent, Project, Transaction

FLOW = {"type": "commitment", "amount": "1250000.50", "currency": "USD", "value_date": "2025-03-01"}


@pytest.fixture
def donor(make_user):
    user, token = make_user("donor")
    db.session.commit()
    return user, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def project(donor, make_project):
    made = make_project(org=donor[0].org)
    db.session.commit()
    return made


def write(tmp_path, name: str, content) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


def flows_count() -> int:
    return db.session.scalar(select(func.count(Transaction.id)))


def add(runner, project, path: str, *extra: str):
    return runner.invoke(args=["flow", "add", "--project", str(project.id), path, *extra])


def test_a_donor_records_a_flow_from_yaml_exactly_as_written(runner, donor, project, tmp_path):
    user, _ = donor
    yaml_text = "type: disbursement\namount: '1250000.50'\ncurrency: USD\nvalue_date: 2025-03-01\n"
    result = add(runner, project, write(tmp_path, "flow.yaml", yaml_text), "--as", user.email)
    assert result.exit_code == 0, result.output
    tx = db.session.scalar(select(Transaction).where(Transaction.project_id == project.id))
    assert (tx.type, tx.amount, tx.currency, str(tx.value_date)) == (
        "disbursement",
        Decimal("1250000.50"),
        "USD",
        "2025-03-01",
    )
    assert f"Recorded flow {tx.id} of project {project.id} (project version 2)." in result.output
    assert "amount                 1250000.50 USD" in result.output
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "transaction"))
    assert (event.action, event.actor, event.channel) == ("create", user.email, "cli")


def test_list_and_show_print_the_apis_json(runner, client, donor, project, tmp_path):
    assert add(runner, project, write(tmp_path, "a.json", FLOW)).exit_code == 0
    second = {**FLOW, "type": "disbursement", "amount": "300", "value_date": "2025-06-01"}
    assert add(runner, project, write(tmp_path, "b.json", second)).exit_code == 0
    listed = runner.invoke(args=["flow", "list", "--project", str(project.id), "--format", "json"])
    assert listed.exit_code == 0, listed.output
    api = client.get(f"/api/v1/projects/{project.id}/transactions").get_json()
    assert json.loads(listed.output) == api and len(api) == 2
    table = runner.invoke(args=["flow", "list", "--project", str(project.id)])
    assert table.exit_code == 0 and "2 flow(s)" in table.output and "1250000.50" in table.output
    flow_id = api[0]["id"]
    shown = runner.invoke(args=["flow", "show", "--project", str(project.id), str(flow_id), "--format", "json"])
    assert json.loads(shown.output) == client.get(f"/api/v1/projects/{project.id}/transactions/{flow_id}").get_json()
    other = runner.invoke(args=["flow", "show", "--project", str(project.id), "999999"])
    assert other.exit_code == 1 and "999999" in other.output


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount", "12.345"), ("type", "gift"), ("currency", "XYZ"), ("value_date", "2025-13-01")],
)
def test_a_bad_field_is_refused_as_the_api_refuses_it_and_nothing_is_saved(
    runner, client, donor, project, tmp_path, field, value
):
    user, headers = donor
    body = {**FLOW, field: value}
    before = flows_count()
    result = add(runner, project, write(tmp_path, "bad.json", body), "--as", user.email)
    assert result.exit_code == 1
    assert flows_count() == before and db.session.get(Project, project.id).version == 1
    api = client.post(f"/api/v1/projects/{project.id}/transactions", json=body, headers=headers)
    assert api.status_code == 422
    # the same field and the same problem, in the CLI's one line
    for problem in api.get_json()["errors"][field]:
        assert f"{field}: {problem}" in result.output


def test_an_unknown_field_and_a_foreign_project_are_refused(runner, make_user, project, tmp_path):
    result = add(runner, project, write(tmp_path, "x.json", {**FLOW, "colour": "red"}))
    assert result.exit_code == 1 and "colour: Unknown field." in result.output
    stranger, _ = make_user("donor")
    db.session.commit()
    result = add(runner, project, write(tmp_path, "f.json", FLOW), "--as", stranger.email)
    assert result.exit_code == 1 and "You may not change this project" in result.output
    assert flows_count() == 0


def test_an_update_names_the_projects_version_and_a_stale_one_changes_nothing(runner, donor, project, tmp_path):
    user, _ = donor
    assert add(runner, project, write(tmp_path, "a.json", FLOW)).exit_code == 0
    tx = db.session.scalar(select(Transaction).where(Transaction.project_id == project.id))
    path = write(tmp_path, "change.json", {"amount": "999.99"})
    args = ["flow", "update", "--project", str(project.id), str(tx.id), path, "--as", user.email]
    unsaid = runner.invoke(args=args)
    assert unsaid.exit_code == 1 and "--version" in unsaid.output and '"project_version"' in unsaid.output
    stale = runner.invoke(args=[*args, "--version", "1"])  # the flow's addition moved it to 2
    assert stale.exit_code == 1 and "changed by someone else" in stale.output
    db.session.expire_all()
    assert db.session.get(Transaction, tx.id).amount == Decimal("1250000.50")
    done = runner.invoke(args=[*args, "--version", "2"])
    assert done.exit_code == 0, done.output
    assert f"Changed flow {tx.id} of project {project.id} (project version 3)." in done.output
    db.session.expire_all()
    assert db.session.get(Transaction, tx.id).amount == Decimal("999.99")
    in_file = write(tmp_path, "v.json", {"description": "Second tranche", "project_version": 3})
    result = runner.invoke(args=["flow", "update", "--project", str(project.id), str(tx.id), in_file])
    assert result.exit_code == 0, result.output
    bad = write(tmp_path, "bad.json", {"amount": "1.234"})
    result = runner.invoke(args=["flow", "update", "--project", str(project.id), str(tx.id), bad, "--force"])
    assert result.exit_code == 1 and "amount:" in result.output
    db.session.expire_all()
    assert db.session.get(Transaction, tx.id).amount == Decimal("999.99")


def test_a_deleted_flow_leaves_the_list_and_can_be_restored(runner, donor, project, tmp_path):
    user, _ = donor
    assert add(runner, project, write(tmp_path, "a.json", FLOW)).exit_code == 0
    tx_id = db.session.scalar(select(Transaction.id).where(Transaction.project_id == project.id))
    args = ["flow", "delete", "--project", str(project.id), str(tx_id), "--as", user.email]
    unsaid = runner.invoke(args=args)
    assert unsaid.exit_code == 1 and "--force" in unsaid.output
    done = runner.invoke(args=[*args, "--force"])
    assert done.exit_code == 0 and f"Deleted flow {tx_id} of project {project.id}." in done.output
    listed = runner.invoke(args=["flow", "list", "--project", str(project.id), "--format", "json"])
    assert json.loads(listed.output) == []
    restored = runner.invoke(args=["deleted", "restore", "flow", str(tx_id)])
    assert restored.exit_code == 0, restored.output
    listed = runner.invoke(args=["flow", "list", "--project", str(project.id), "--format", "json"])
    assert [f["id"] for f in json.loads(listed.output)] == [tx_id]
