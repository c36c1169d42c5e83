"""An import's problems are kept in English with their message id and parameters, and are
translated when shown: on the page, in the downloads and in the API, in the reader's language."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from importers import messages
from importers.messages import Text
from importers.records import Location, Problem
from registry.extensions import db
from registry.models import ImportBatch
from registry.models.types import N_
from registry.services import accounts
from tests.importers.helpers import csv_bytes
from tests.sessions import log_in

ROWS = [
    ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"],
    ["MSG-1", "Schools online", "Kenya", "commitment", "lots", "USD", "2021-01-04"],
]
TEMPLATE = "%(value)s is not an amount"


def _pseudo_french(monkeypatch):
    """A catalogue of one message: the one an unreadable amount is reported with."""
    monkeypatch.setattr(
        messages, "gettext", lambda text: "%(value)s n'est pas un montant" if text == TEMPLATE else text
    )


def test_a_text_is_its_english_message_and_keeps_its_id():
    text = Text(N_("Project %(ref)s has %(n)s flows"), ref="'P-1'", n=12500)
    assert text == "Project 'P-1' has 12,500 flows"
    stored = Problem("error", text, Location(file="f.csv", row=3)).as_dict()
    assert stored["message"] == "Project 'P-1' has 12,500 flows"
    assert stored["template"] == "Project %(ref)s has %(n)s flows" and stored["params"] == {"ref": "'P-1'", "n": 12500}
    # A message written as plain text keeps no id; gluing a Text to more text gives plain text.
    assert "template" not in Problem("error", "Plain", Location()).as_dict()
    assert not isinstance(text + ".", Text)


def test_a_stored_problem_is_shown_in_the_readers_language(app, monkeypatch):
    _pseudo_french(monkeypatch)
    with app.test_request_context("/imports/1"):
        problem = Problem("error", Text(N_(TEMPLATE), value="'lots'"), Location()).as_dict()
        assert messages.shown(problem) == "'lots' n'est pas un montant"
        # Kept without an id (an older batch): the catalogue translates it when it has it.
        assert messages.shown({"message": "Plain"}) == "Plain"
        api = messages.api_problem(problem)
        assert "template" not in api and "params" not in api and api["message"] == "'lots' n'est pas un montant"


@pytest.fixture
def donor_client(app, client, actor, make_org):
    app.config["IMPORT_BACKGROUND"] = False
    org = make_org(ref="MSG-DON", name="Message donor")
    user = accounts.create_user(actor, "donor-msg@example.org", "donor", org=org)
    db.session.commit()
    log_in(client, user)
    yield client, org
    app.config["IMPORT_BACKGROUND"] = True


def test_the_page_the_download_and_the_api_translate_what_the_batch_keeps_in_english(donor_client, monkeypatch):
    client, org = donor_client
    body = {"file": (io.BytesIO(csv_bytes(ROWS)), "amounts.csv"), "org_id": str(org.id)}
    client.post("/imports/", data=body, content_type="multipart/form-data")
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    kept = next(p for p in batch.problems if p["code"] == "invalid_amount")
    assert kept["message"] == "'lots' is not an amount" and kept["template"] == TEMPLATE
    _pseudo_french(monkeypatch)
    html = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert "n&#39;est pas un montant" in html and "is not an amount" not in html
    text = client.get(f"/imports/{batch.id}/problems.csv").get_data(as_text=True)
    assert text.lstrip("\ufeff").startswith("severity,code,sheet,row,column,value,message,file")
    assert "'lots' n'est pas un montant" in text
