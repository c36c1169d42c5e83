"""The progress page of a queued job, as a real queue shows it (the tests' inline queue goes
straight to the batch): it renders in every language, and hands its words to job.js."""

from __future__ import annotations

import html
import re

import pytest

from registry.extensions import db
from registry.i18n import LANGUAGES
from registry.services import accounts
from tests.sessions import log_in


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_a_running_jobs_page_renders_in_every_language(app, client, actor, make_org, monkeypatch, language):
    import importers.web as web

    org = make_org()
    user = accounts.create_user(actor, f"job-page-{language}@example.org", "donor", org=org)
    db.session.commit()
    log_in(client, user)
    monkeypatch.setattr(
        web, "_job_state", lambda job_id: {"state": "running", "stage": "reading", "percent": 40, "label": "Import"}
    )
    page = client.get("/imports/jobs/7", headers={"Accept-Language": language})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    # the script fills in the stage and the percentage: both placeholders reach it intact
    stage = html.unescape(re.search(r'data-stage="([^"]+)"', text).group(1))
    assert "%(stage)s" in stage and "%(percent)s" in stage
