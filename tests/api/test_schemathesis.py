"""Schemathesis over the API's own OpenAPI document (served by flask-smorest at
/api/v1/openapi.json): every operation is called with generated inputs, valid ones and invalid
ones, once with a read token (an analyst) and once with a write token (an administrator), and
no response may be a 5xx (schemathesis' ``not_a_server_error`` check). Requests go to the WSGI
app in process; each test's writes are rolled back.

Derandomized with a few examples per operation and mode, so CI runs the same cases in about a
minute; a failure lists every operation that answered 5xx with the request that did it.

(The cases are drawn per operation with ``APIOperation.as_strategy`` rather than through
schemathesis' pytest plugin, whose lazy fixture loader does not run under pytest 9.)
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from registry.extensions import db
from registry.services import accounts

# Per operation, mode and token: about 40 operations x 2 modes x 2 tokens in CI's minute. Set
# SCHEMATHESIS_EXAMPLES higher for a longer hunt on a workstation.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", 8))


@pytest.fixture
def tokens(app, actor, make_org, make_project, make_transaction, make_source):
    """A read token (an analyst), a write token (an administrator), and some data to find."""
    org = make_org(ref="ST-ORG", name="Schema test donor")
    project = make_project(org=org)
    make_transaction(project)
    make_source()
    analyst = accounts.create_user(actor, "analyst-st@example.org", "analyst")
    admin = accounts.create_user(actor, "admin-st@example.org", "admin")
    tokens = {"read": accounts.issue_token(actor, analyst), "write": accounts.issue_token(actor, admin)}
    db.session.commit()
    return tokens


def _server_errors(app, token: str) -> list[str]:
    """Every operation and mode whose generated requests got a 5xx, with the request."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    found: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20  # the whole API is in the document
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case):
                try:
                    case.call_and_validate(headers=headers, checks=[not_a_server_error])
                except AssertionError:
                    raise
                except BaseExceptionGroup as failure:  # schemathesis' FailureGroup: the check failed
                    raise AssertionError(
                        f"{case.operation.label} ({mode.value}): "  # noqa: B023  (check runs within its iteration)
                        f"{case.as_curl_command(headers=headers)}\n{failure}"
                    ) from None

            try:
                check()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label  # nothing to make invalid
            except AssertionError as failure:
                found.append(str(failure))
    return found


def test_no_server_error_with_a_read_token(app, tokens):
    found = _server_errors(app, tokens["read"])
    assert not found, "\n\n".join(found)


def test_no_server_error_with_a_write_token(app, tokens):
    found = _server_errors(app, tokens["write"])
    assert not found, "\n\n".join(found)
