"""`flask project create|update|show` and `funding-source create|update|show`: the API's request
bodies from a JSON or YAML file, read by the same schemas, saved by the same services, refused
for the same reasons (exit status 1, the message and each field's problem)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import AuditEvent, FundingSource, Project

PROJECT = {
    "reference": "CLI-0001",
    "title": "Rural broadband from the command line",
    "status": "active",
    "planned_start": "2025-01-01",
    "recipients": [{"country": "NPL", "share": "100"}],
    "areas": [{"code": "23b", "share": "100"}],
}


@pytest.fixture
def donor(make_user):
    user, _token = make_user("donor")
    db.session.commit()
    return user


def write(tmp_path, name: str, content) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


def projects_count() -> int:
    return db.session.scalar(select(func.count(Project.id)))


def test_a_donor_registers_a_project_of_its_organisation(runner, donor, tmp_path):
    result = runner.invoke(args=["project", "create", write(tmp_path, "p.json", PROJECT), "--as", donor.email])
    assert result.exit_code == 0, result.output
    project = db.session.scalar(select(Project).where(Project.reference == "CLI-0001"))
    assert project.org_id == donor.org_id
    assert f"Registered project {project.id} (version 1)." in result.output
    assert "NPL 100%" in result.output and "23b 100%" in result.output
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "project"))
    assert (event.actor, event.channel, event.user_id) == (donor.email, "cli", donor.id)


def test_the_input_may_come_from_stdin_and_the_answer_as_json(runner, donor):
    result = runner.invoke(
        args=["project", "create", "-", "--as", donor.email, "--format", "json"], input=json.dumps(PROJECT)
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["reference"] == "CLI-0001" and body["version"] == 1 and body["org"]["id"] == donor.org_id


def test_a_yaml_file_is_read_like_json(runner, donor, tmp_path):
    pytest.importorskip("yaml")
    text = (
        "reference: CLI-YAML\n"
        "title: From YAML\n"
        "planned_start: 2025-01-01\n"
        "planned_end: 2026-06-30\n"
        "recipients:\n  - {country: KEN, share: 100}\n"
        "areas:\n  - {code: 23c, share: 100}\n"
    )
    result = runner.invoke(args=["project", "create", write(tmp_path, "p.yaml", text), "--as", donor.email])
    assert result.exit_code == 0, result.output
    project = db.session.scalar(select(Project).where(Project.reference == "CLI-YAML"))
    assert project.planned_end.isoformat() == "2026-06-30"
    assert [r.country_iso3 for r in project.recipients] == ["KEN"]


def test_a_file_that_does_not_parse_says_where(runner, donor, tmp_path):
    broken = write(tmp_path, "p.json", '{\n  "title": "x"\n  "reference": "y"\n}')
    result = runner.invoke(args=["project", "create", broken, "--as", donor.email])
    assert result.exit_code == 1
    assert "is not valid JSON" in result.output and "(line 3, column 3)" in result.output


def test_a_yaml_file_that_does_not_parse_says_where(runner, donor, tmp_path):
    pytest.importorskip("yaml")
    broken = write(tmp_path, "p.yml", "title: x\n  reference: [\n")
    result = runner.invoke(args=["project", "create", broken, "--as", donor.email])
    assert result.exit_code == 1
    assert "is not valid YAML" in result.output and "(line 2, column 12)" in result.output


def test_invalid_fields_are_refused_with_each_problem(runner, donor, tmp_path):
    bad = dict(PROJECT, title="", recipients=[{"country": "XXX", "share": "100"}], surprise=1)
    before = projects_count()
    result = runner.invoke(args=["project", "create", write(tmp_path, "p.json", bad), "--as", donor.email])
    assert result.exit_code == 1
    assert "The input is not valid; see errors for each field" in result.output
    assert "title: Required" in result.output
    assert "recipients.0.country: Unknown country 'XXX'" in result.output
    assert "surprise: Unknown field" in result.output
    assert projects_count() == before


def test_the_shares_rule_of_the_api_applies(runner, donor, tmp_path):
    bad = dict(PROJECT, recipients=[{"country": "NPL", "share": "60"}, {"country": "KEN", "share": "30"}])
    result = runner.invoke(args=["project", "create", write(tmp_path, "p.json", bad), "--as", donor.email])
    assert result.exit_code == 1 and "recipients" in result.output


@pytest.mark.parametrize(
    ("role", "message"),
    [
        ("analyst", "Your role does not allow registering projects"),
        ("government", "Governments post pipeline projects for their own country"),
    ],
)
def test_who_may_not_register_is_refused(runner, make_user, tmp_path, role, message):
    user, _token = make_user(role, country="NPL" if role == "government" else None)
    db.session.commit()
    before = projects_count()
    result = runner.invoke(args=["project", "create", write(tmp_path, "p.json", PROJECT), "--as", user.email])
    assert result.exit_code == 1 and message in result.output
    assert projects_count() == before


def test_a_donor_may_not_register_for_another_organisation(runner, donor, make_org, tmp_path):
    other = make_org()
    db.session.commit()
    data = dict(PROJECT, org_id=other.id)
    result = runner.invoke(args=["project", "create", write(tmp_path, "p.json", data), "--as", donor.email])
    assert result.exit_code == 1 and "You may only register projects of your own organisation" in result.output


def test_the_system_names_the_organisation(runner, make_org, tmp_path):
    org = make_org()
    db.session.commit()
    path = write(tmp_path, "p.json", PROJECT)
    missing = runner.invoke(args=["project", "create", path])
    assert missing.exit_code == 1 and "Say which organisation reports the project (org_id: Required)" in missing.output
    result = runner.invoke(args=["project", "create", write(tmp_path, "q.json", dict(PROJECT, org_id=org.id))])
    assert result.exit_code == 0, result.output
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "project"))
    assert (event.actor, event.channel) == ("system", "cli")


def test_an_unknown_or_deactivated_user_acts_for_nobody(runner, donor, tmp_path):
    path = write(tmp_path, "p.json", PROJECT)
    result = runner.invoke(args=["project", "create", path, "--as", "nobody@example.org"])
    assert result.exit_code == 1 and "No user with e-mail nobody@example.org" in result.output
    donor.active = False
    db.session.commit()
    result = runner.invoke(args=["project", "create", path, "--as", donor.email])
    assert result.exit_code == 1 and "is deactivated" in result.output


# -- update ---------------------------------------------------------------------------------


@pytest.fixture
def own_project(donor, make_project):
    project = make_project(org=donor.org)
    db.session.commit()
    return project


def test_an_update_names_the_version_it_is_based_on(runner, donor, own_project, tmp_path):
    path = write(tmp_path, "change.json", {"title": "Renamed"})
    args = ["project", "update", str(own_project.id), path, "--as", donor.email]
    unsaid = runner.invoke(args=args)
    assert unsaid.exit_code == 1 and "--version" in unsaid.output and "--force" in unsaid.output
    stale = runner.invoke(args=[*args, "--version", str(own_project.version + 1)])
    assert stale.exit_code == 1 and "changed by someone else" in stale.output
    done = runner.invoke(args=[*args, "--version", str(own_project.version)])
    assert done.exit_code == 0, done.output
    assert f"Changed project {own_project.id} (version 2)." in done.output
    assert db.session.get(Project, own_project.id).title == "Renamed"


def test_the_version_may_be_in_the_file_or_forced(runner, donor, own_project, tmp_path):
    in_file = write(tmp_path, "a.json", {"title": "First", "version": 1})
    result = runner.invoke(args=["project", "update", str(own_project.id), in_file, "--as", donor.email])
    assert result.exit_code == 0, result.output
    forced = write(tmp_path, "b.json", {"title": "Second"})
    result = runner.invoke(args=["project", "update", str(own_project.id), forced, "--as", donor.email, "--force"])
    assert result.exit_code == 0, result.output
    project = db.session.get(Project, own_project.id)
    assert (project.title, project.version) == ("Second", 3)


def test_another_organisations_project_is_refused(runner, make_user, own_project, tmp_path):
    stranger, _token = make_user("donor")
    db.session.commit()
    path = write(tmp_path, "change.json", {"title": "Mine now"})
    args = ["project", "update", str(own_project.id), path, "--as", stranger.email, "--force"]
    result = runner.invoke(args=args)
    assert result.exit_code == 1 and "You may not change this project" in result.output
    missing = runner.invoke(args=["project", "update", "999999", path, "--force"])
    assert missing.exit_code == 1 and "999999" in missing.output


def test_a_project_does_not_move_to_another_organisation(runner, make_org, own_project, tmp_path):
    other = make_org()
    db.session.commit()
    path = write(tmp_path, "change.json", {"org_id": other.id})
    result = runner.invoke(args=["project", "update", str(own_project.id), path, "--force"])
    assert result.exit_code == 1 and "cannot move to another organisation" in result.output


# -- show -----------------------------------------------------------------------------------


def test_show_prints_the_apis_json_or_a_table(runner, client, own_project):
    as_json = runner.invoke(args=["project", "show", str(own_project.id), "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == client.get(f"/api/v1/projects/{own_project.id}").get_json()
    table = runner.invoke(args=["project", "show", str(own_project.id)])
    assert table.exit_code == 0
    assert f"reference          {own_project.reference}" in table.output
    assert "recipients         KEN 100%" in table.output
    missing = runner.invoke(args=["project", "show", "999999"])
    assert missing.exit_code == 1 and "No project with id 999999" in missing.output


# -- funding sources ------------------------------------------------------------------------

SOURCE = {
    "ref": "CLI-FS-1",
    "name": "Command-line connectivity fund",
    "kind": "bilateral_oda",
    "instruments": ["grant"],
    "countries": ["NPL"],
    "areas": ["23b"],
    "min_amount": "100000",
    "max_amount": "5000000",
    "amount_currency": "USD",
}


def test_a_donor_adds_a_source_its_organisation_manages(runner, donor, tmp_path):
    result = runner.invoke(args=["funding-source", "create", write(tmp_path, "s.json", SOURCE), "--as", donor.email])
    assert result.exit_code == 0, result.output
    source = db.session.scalar(select(FundingSource).where(FundingSource.ref == "CLI-FS-1"))
    assert source.managing_org_id == donor.org_id
    assert f"Added funding source {source.id} (version 1)." in result.output
    assert "amounts                100000.00 to 5000000.00 USD" in result.output


def test_a_source_of_another_organisation_is_refused(runner, donor, make_org, tmp_path):
    other = make_org()
    db.session.commit()
    path = write(tmp_path, "s.json", dict(SOURCE, managing_org_id=other.id))
    result = runner.invoke(args=["funding-source", "create", path, "--as", donor.email])
    assert result.exit_code == 1 and "You may only add funding sources your organisation manages" in result.output


def test_a_source_with_bad_amounts_is_refused(runner, donor, tmp_path):
    path = write(tmp_path, "s.json", dict(SOURCE, min_amount="9000000", max_amount=1.5))
    result = runner.invoke(args=["funding-source", "create", path, "--as", donor.email])
    assert result.exit_code == 1
    assert "max_amount: Give amounts as decimal strings" in result.output


def test_a_source_is_changed_and_shown_as_the_api_shows_it(runner, client, donor, make_source, tmp_path):
    source = make_source(managing_org_id=donor.org_id)
    db.session.commit()
    path = write(tmp_path, "change.json", {"name": "Renamed fund", "countries": ["KEN", "NPL"]})
    stale = runner.invoke(
        args=["funding-source", "update", str(source.id), path, "--as", donor.email, "--version", "7"]
    )
    assert stale.exit_code == 1 and "changed by someone else" in stale.output
    result = runner.invoke(
        args=["funding-source", "update", str(source.id), path, "--as", donor.email, "--version", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "countries              KEN, NPL" in result.output
    shown = runner.invoke(args=["funding-source", "show", str(source.id), "--format", "json"])
    body = json.loads(shown.output)
    assert body == client.get(f"/api/v1/funding-sources/{source.id}").get_json()
    assert body["name"] == "Renamed fund" and body["version"] == 2


def test_a_source_is_not_handed_to_another_organisation(runner, donor, make_org, make_source, tmp_path):
    source = make_source(managing_org_id=donor.org_id)
    other = make_org()
    db.session.commit()
    path = write(tmp_path, "change.json", {"managing_org_id": other.id})
    result = runner.invoke(args=["funding-source", "update", str(source.id), path, "--as", donor.email, "--force"])
    assert result.exit_code == 1 and "You may not hand the funding source to another organisation" in result.output
    stranger = runner.invoke(args=["funding-source", "update", str(make_source().id), path, "--as", donor.email])
    assert stranger.exit_code == 1 and "You may not change this funding source" in stranger.output


def test_without_pyyaml_yaml_is_refused_and_json_still_read(runner, donor, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now raises ImportError
    result = runner.invoke(args=["project", "create", write(tmp_path, "p.yaml", "title: x\n"), "--as", donor.email])
    assert result.exit_code == 1 and "reading YAML needs the PyYAML package" in result.output
    result = runner.invoke(args=["project", "create", write(tmp_path, "p.json", PROJECT), "--as", donor.email])
    assert result.exit_code == 0, result.output
