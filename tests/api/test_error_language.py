"""The registry's own messages in an API error follow the request's language (Accept-Language):
the services' messages, the validation messages of marshmallow and webargs, and the HTTP errors'
standard descriptions. The machine fields (code, status, field names) never change.

The catalogues are written by translators after the code is merged, so these tests compile a
small French catalogue of their own and point the app at it: a message comes back in French
only if it was looked up in the catalogue in the request's language.
"""

from __future__ import annotations

import pytest

from registry.schemas.messages import translate_validation_messages
from registry.services.lookup import load
from tests.catalogues import FRENCH_READER, use_french_catalogue

FRENCH = {
    "No project with id %(id)s": "Aucun projet n'a l'identifiant %(id)s",
    "Send 'Authorization: Bearer <token>' to change data": (
        "Envoyez « Authorization: Bearer <jeton> » pour modifier des données"
    ),
    "The input is not valid; see errors for each field": (
        "Les données ne sont pas valides ; voyez l'erreur de chaque champ"
    ),
    "Must be greater than or equal to {min} and less than or equal to {max}.": (
        "Doit être compris entre {min} et {max} inclus."
    ),
    "Unknown field.": "Champ inconnu.",
    "Missing data for required field.": "Donnée manquante pour un champ obligatoire.",
    "The method is not allowed for the requested URL.": "La méthode n'est pas permise pour cette adresse.",
}


@pytest.fixture
def french(app, tmp_path, monkeypatch):
    """The app reads a French catalogue that translates the messages of FRENCH."""
    use_french_catalogue(app, tmp_path, monkeypatch, FRENCH)
    return app


def test_a_service_error_is_said_in_the_request_language_with_its_values(french, client):
    body = client.get("/api/v1/projects/987654", headers=FRENCH_READER).get_json()
    assert body["code"] == 404 and body["status"] == "Not Found"
    assert body["message"] == "Aucun projet n'a l'identifiant 987654"


def test_without_the_header_the_same_error_stays_english(french, client):
    body = client.get("/api/v1/projects/987654").get_json()
    assert body["message"] == "No project with id 987654"
    assert client.get("/api/v1/projects/987654", headers={"Accept-Language": "de"}).get_json()["message"] == (
        "No project with id 987654"
    )


def test_an_auth_refusal_follows_the_request_language(french, client):
    refused = client.post("/api/v1/projects", json={}, headers=FRENCH_READER)
    assert refused.status_code == 401
    assert refused.get_json()["message"] == "Envoyez « Authorization: Bearer <jeton> » pour modifier des données"
    assert client.post("/api/v1/projects", json={}).get_json()["message"] == (
        "Send 'Authorization: Bearer <token>' to change data"
    )


def test_marshmallow_messages_are_translated_with_their_values_and_the_field_names_kept(french, client):
    body = client.get("/api/v1/projects?page=0&colour=red", headers=FRENCH_READER).get_json()
    assert body["code"] == 422 and body["status"] == "Unprocessable Entity"
    assert body["message"] == "Les données ne sont pas valides ; voyez l'erreur de chaque champ"
    assert body["errors"] == {"page": ["Doit être compris entre 1 et 1000000 inclus."], "colour": ["Champ inconnu."]}
    english = client.get("/api/v1/projects?page=0&colour=red").get_json()
    assert english["message"] == "The input is not valid; see errors for each field"
    assert english["errors"] == {
        "page": ["Must be greater than or equal to 1 and less than or equal to 1000000."],
        "colour": ["Unknown field."],
    }


def test_the_http_errors_standard_description_is_translated(french, client):
    response = client.delete("/api/v1/countries", headers=FRENCH_READER)
    assert response.status_code == 405
    assert response.get_json()["message"] == "La méthode n'est pas permise pour cette adresse."
    assert client.delete("/api/v1/countries").get_json()["message"] == (
        "The method is not allowed for the requested URL."
    )


def test_a_message_the_catalogue_lacks_comes_back_as_it_came(french):
    with french.test_request_context("/api/v1/projects", headers=FRENCH_READER):
        messages = {"a": ["Shorter than minimum length 3."], "b": {"0": ["Missing data for required field."]}}
        assert translate_validation_messages(messages) == {
            "a": ["Shorter than minimum length 3."],
            "b": {"0": ["Donnée manquante pour un champ obligatoire."]},
        }


def test_outside_a_request_the_services_speak_english(french):
    # the command line and the queue's worker: an app, no request, no reader
    from registry.errors import NotFoundError
    from registry.models import Project

    with pytest.raises(NotFoundError) as refused:
        load(Project, 987654, "project")
    assert refused.value.message == "No project with id 987654"
