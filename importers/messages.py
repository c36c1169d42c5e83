"""The words of an import's report, shown in the reader's language.

Problems are found by a queue worker or a command, where no reader is present, and kept on the
batch (``ImportBatch.problems``, JSON) to be shown later to whoever opens it, in their own
language. So a problem's message is translated when it is shown, never when it is written:

- A message the importers write is a :class:`Text`: a ``str`` holding the English message, which
  also remembers its message id (the English with named placeholders, marked for the catalogue
  with ``N_`` where it is written) and its parameters (codes, numbers, a cell's text: plain JSON
  values). ``Problem.as_dict`` stores ``template`` and ``params`` beside ``message``.
- :func:`shown` renders a stored problem (or any message) for the reader:
  ``gettext(template) % params``, numbers written as the reader's locale writes them. A message
  kept without a template (an older batch, a refusal worded by the registry's own rules) goes
  through ``gettext(message)``: the catalogue translates it when it holds that exact message,
  else it reads as written.
- ``message`` itself stays English: the logs and the command line read it. The API's problems
  keep their fields, their ``message`` following Accept-Language (:func:`api_problem`); the
  pages and the downloaded problem lists show :func:`shown`.

Because a ``Text`` is a ``str``, code that only reads or joins messages is unchanged; a message
glued to another string becomes plain English text again (shown as written).

A parameter may itself be a ``Text``: a whole sentence that several messages share (why a
recipient cannot be placed, what a CRS problem is before its count of rows). It is kept as its
own id and parameters and translated on its own when shown, so the outer message is a whole
sentence with a placeholder for another one, never fragments glued together.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext


class Text(str):
    """An English message that remembers its message id and parameters, to be shown translated.

    ``Text(N_("Unknown country %(value)s"), value="'Atlantis'")``: integers are written with
    thousands separators in English (and as the reader's locale writes them when shown); give a
    row number or a code as a string to keep it as it is."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, /, **params: Any) -> Text:
        plain = {k: _plain(v) for k, v in params.items()}
        english = template % {k: _english(v) for k, v in plain.items()} if plain else template
        text = super().__new__(cls, english)
        text.template, text.params = template, plain
        return text


def _plain(value: Any) -> Any:
    """A parameter as a JSON value: integers stay numbers, a ``Text`` its id and parameters,
    everything else its text."""
    if isinstance(value, Text):
        return {"template": value.template, "params": value.params}
    if isinstance(value, list | tuple):  # several labels or messages, shown joined by commas
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return value
    return str(value)


def _english(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(str(_english(v)) for v in value)
    if isinstance(value, dict):  # a message kept as a parameter of another
        params = value.get("params") or {}
        template = value.get("template") or ""
        return template % {k: _english(v) for k, v in params.items()} if params else template
    return f"{value:,}" if isinstance(value, int) else value


def _localised(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(str(_localised(v)) for v in value)
    if isinstance(value, dict):
        return render(value.get("template") or "", value.get("params"))
    if isinstance(value, int):
        from registry.i18n import number

        return number(value)
    return value


def render(template: str, params: dict[str, Any] | None) -> str:
    """The message id translated for the reader, its parameters filled in (the English text when
    the translation's placeholders do not fit)."""
    values = {k: _localised(v) for k, v in (params or {}).items()}
    try:
        return gettext(template) % values if values else gettext(template)
    except (KeyError, TypeError, ValueError):
        return _english({"template": template, "params": params})


def shown(problem: dict | str | None) -> str:
    """A stored problem's (or a message's) text in the reader's language."""
    if problem is None:
        return ""
    if isinstance(problem, Text):
        return render(problem.template, problem.params)
    if isinstance(problem, str):
        return gettext(problem) if problem else ""
    template = problem.get("template")
    if template:
        return render(template, problem.get("params"))
    message = problem.get("message") or ""
    return gettext(message) if message else ""


def api_problem(problem: dict) -> dict:
    """A stored problem as the API gives it: its own fields, the message in the asked language."""
    out = {k: v for k, v in problem.items() if k not in ("template", "params")}
    out["message"] = shown(problem)
    return out


def as_stored(message: str) -> dict[str, Any]:
    """What a problem's record keeps of its message: the id and parameters of a ``Text``."""
    if isinstance(message, Text):
        return {"template": message.template, "params": message.params}
    return {}
