"""What the catalogue, finder and marketplace commands share: who acts (``--as EMAIL`` or the
system), reading a JSON or YAML input file as the API reads a request body, and printing an
object or a list as a readable table or as the API's JSON.

The commands call the same schemas and services as the API, so a rule lives once: a refusal
ends the command with the message and the problem of each field, and exit status 1
(``registry.unit_of_work.command_unit``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import click
from flask import current_app
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError

from registry.errors import PreconditionRequired, RegistryError, ValidationError
from registry.models.types import Role
from registry.services.actor import SYSTEM, Actor

# -- who acts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SystemOperator:
    """The administrator's script, acting without an account: an administrator's rights
    for the checks that take a user (registry.services.rights and permissions)."""

    id: None = None
    role: Role = Role.ADMIN
    org_id: None = None
    org: None = None
    country_iso3: None = None
    email: str = "system"


@dataclass(frozen=True)
class Acting:
    """Who a command acts as: the user the rights are checked for, and the services' actor."""

    user: Any  # registry.models.User, or SystemOperator
    actor: Actor

    @property
    def has_account(self) -> bool:
        return self.actor.user_id is not None


def as_option(required: bool = False) -> Callable:
    """The ``--as EMAIL`` option: act as this user, with their rights (default: the system,
    an administrator's script)."""
    help_text = "Act as the user with this e-mail, with their rights"
    if not required:
        help_text += " (default: the system, with an administrator's rights)"
    return click.option("--as", "as_email", metavar="EMAIL", required=required, help=help_text)


def acting(email: str | None) -> Acting:
    """The user named by ``--as`` (known and active), or the system actor."""
    if not email:
        return Acting(SystemOperator(), SYSTEM)
    from registry.services import accounts

    user = accounts.find_user(email)
    if user is None:
        raise click.ClickException(f"No user with e-mail {email}")
    if not user.active:
        raise click.ClickException(f"The account {user.email} is deactivated")
    actor = Actor(
        label=user.email,
        channel="cli",
        user_id=user.id,
        org_id=user.org_id,
        role=user.role,
        country_iso3=user.country_iso3,
    )
    return Acting(user, actor)


# -- input files ----------------------------------------------------------------------------

YAML_SUFFIXES = (".yaml", ".yml")


def read_document(stream: Any) -> Any:
    """The JSON or YAML document of an open file (``-`` is stdin). A ``.yaml``/``.yml`` file is
    YAML; a ``.json`` file JSON; anything else JSON when it starts like JSON, else YAML. A
    document that does not parse is refused saying where (line and column)."""
    name = getattr(stream, "name", "-") or "-"
    text = stream.read()
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig")
    shown = "stdin" if name in ("-", "<stdin>") else name
    lowered = str(name).lower()
    if lowered.endswith(YAML_SUFFIXES):
        return _yaml(text, shown)
    if lowered.endswith(".json") or text.lstrip()[:1] in ("{", "[", ""):
        return _json(text, shown)
    return _yaml(text, shown)


def _json(text: str, shown: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.ClickException(
            f"{shown} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None


def _yaml(text: str, shown: str) -> Any:
    try:
        import yaml
    except ImportError:
        raise click.ClickException(
            f"{shown}: reading YAML needs the PyYAML package, which is not installed; give the input as JSON"
        ) from None
    try:
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise click.ClickException(f"{shown} is not valid YAML: {exc.problem or exc.context}{where}") from None
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{shown} is not valid YAML: {exc}") from None
    return _as_json_values(document)


def _as_json_values(value: Any) -> Any:
    """YAML's own types as JSON would give them: dates and moments as ISO text (the schemas
    read them as the API does)."""
    if isinstance(value, dict):
        return {str(k): _as_json_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json_values(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def load_input(schema: Schema, document: Any) -> dict:
    """The document read by the API's schema for the same request; a refusal is the API's
    422 (its message, the problem of each field, by path: ``recipients.0.country``)."""
    if not isinstance(document, dict):
        raise ValidationError(
            "The input is not valid; see errors for each field", {"_schema": ["Give one object (a mapping of fields)"]}
        )
    try:
        return schema.load(document)
    except SchemaError as exc:
        raise ValidationError("The input is not valid; see errors for each field", flat_errors(exc.messages)) from None


def flat_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages (by field and index) as one level, keyed by path."""
    if isinstance(messages, dict):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.update(flat_errors(value, path))
        return out
    if isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": [str(m) for m in messages]}
    if isinstance(messages, list | tuple):
        out = {}
        for item in messages:
            for key, value in flat_errors(item, prefix).items():
                out.setdefault(key, []).extend(value)
        return out
    return {prefix or "_schema": [str(messages)]}


def expected_version(data: dict, version: int | None, force: bool, field: str = "version") -> int | None:
    """The version a change is based on: ``--version``, or ``field`` in the file (a flow's
    change: its project's ``project_version``, as in the API); ``--force`` says "whatever its
    state" (the API's If-Match: *). Neither is refused, as the API's 428."""
    given = data.pop(field, None)
    if version is not None:
        given = version
    if given is None and not force:
        raise PreconditionRequired(
            "Say which state of the object your change is based on: give --version (the version "
            f'`show` prints) or "{field}" in the file, or --force to change it whatever its state',
            {field: ["Required (or --force)"]},
        )
    return given


def version_options(command: Callable) -> Callable:
    command = click.option(
        "--force", is_flag=True, help="Change it whatever its current version (the API's If-Match: *)"
    )(command)
    return click.option("--version", "version", type=int, help="The version the change is based on (stale: refused)")(
        command
    )


# -- output ---------------------------------------------------------------------------------


def format_option(default: str = "table") -> Callable:
    return click.option(
        "--format",
        "output",
        type=click.Choice(["table", "json"]),
        default=default,
        show_default=True,
        help="A readable table, or JSON (the API's representation)",
    )


@contextmanager
def api_context() -> Iterator[None]:
    """A request context for building the API's representations (their absolute links):
    ``SERVER_NAME`` and ``PREFERRED_URL_SCHEME`` when set, else http://localhost."""
    config = current_app.config
    base = f"{config.get('PREFERRED_URL_SCHEME') or 'http'}://{config.get('SERVER_NAME') or 'localhost'}"
    with current_app.test_request_context("/", base_url=base):
        yield


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def text(value: Any) -> str:
    """A value in a table cell: lists joined, nothing as -."""
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(text(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k}={text(v)}" for k, v in value.items())
    return str(value)


def echo_fields(rows: Sequence[tuple[str, Any]]) -> None:
    """An object as one "field  value" line per field."""
    width = max((len(label) for label, _ in rows), default=0)
    for label, value in rows:
        click.echo(f"{label:<{width}}  {text(value)}")


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[str] = ()) -> None:
    """Rows under their headers, each column as wide as its widest cell (``right``: the
    columns of figures, aligned right)."""
    cells = [[text(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if h in right else v.ljust(w) for v, w, h in zip(values, widths, headers, strict=True)]
        return "  ".join(parts).rstrip()

    click.echo(line(list(headers)))
    for row in cells:
        click.echo(line(row))


def refuse(error: RegistryError) -> click.ClickException:
    """A domain error raised outside a unit of work (a read), as command_unit says it."""
    from registry.unit_of_work import describe

    return click.ClickException(describe(error))


@contextmanager
def reading() -> Iterator[None]:
    """A command that only reads: a refusal (not found, an invalid filter) ends it with the
    message and exit status 1; nothing is written."""
    try:
        yield
    except RegistryError as exc:
        raise refuse(exc) from None
