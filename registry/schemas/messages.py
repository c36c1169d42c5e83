"""The validation messages of marshmallow and webargs in the reader's language.

marshmallow says its messages in English and formats them before the registry sees them
("Must be greater than or equal to 1."). Its fields copy their default messages when a schema
class is declared, and a marshmallow release may add or reword some, so rather than replace the
defaults of every field class the messages are translated where they reach people: when the API
shapes a 422 (``registry.errors``) and when a form lists its errors
(``registry.schemas.common.flatten``). Each message is looked up in the catalogue as it is (the
plain ones, and the registry's own schema messages marked with ``N_``); a formatted one is
matched against the templates below and its values put into the translated template. A message
found nowhere comes back as it came, so nothing is lost when marshmallow changes a wording: it
is shown in English until the list here follows.

The templates keep marshmallow's own spelling of placeholders (``{min}``, ``{input}``): the
values are copied from the English message, never formatted again.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext


def N_(message: str) -> str:
    """Marks a message for the catalogue; it is translated where it is shown."""
    return message


# marshmallow's messages (fields, validators, schemas) and webargs' own.
MESSAGES: list[str] = [
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Invalid input."),
    N_("Invalid input type."),
    N_("Invalid type."),
    N_("Unknown field."),
    N_("Invalid JSON body."),
    N_("Not a valid boolean."),
    N_("Not a valid date."),
    N_("Not a valid datetime."),
    N_("Not a valid time."),
    N_("Not a valid naive datetime."),
    N_("Not a valid aware datetime."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid list."),
    N_("Not a valid tuple."),
    N_("Not a valid mapping type."),
    N_("Not a valid email address."),
    N_("Not a valid URL."),
    N_("Not a valid UUID."),
    N_("Not a valid period of time."),
    N_("Not a valid IP address."),
    N_("String does not match expected pattern."),
    N_('"{input}" cannot be formatted as a date.'),
    N_('"{input}" cannot be formatted as a datetime.'),
    N_('"{input}" cannot be formatted as a time.'),
    N_("Must be one of: {choices}."),
    N_("Must be equal to {other}."),
    N_("Length must be between {min} and {max}."),
    N_("Length must be {equal}."),
    N_("Longer than maximum length {max}."),
    N_("Shorter than minimum length {min}."),
    N_("Must be greater than or equal to {min}."),
    N_("Must be greater than {min}."),
    N_("Must be less than or equal to {max}."),
    N_("Must be less than {max}."),
    N_("Must be greater than or equal to {min} and less than or equal to {max}."),
    N_("Must be greater than {min} and less than {max}."),
    N_("Must be greater than or equal to {min} and less than {max}."),
    N_("Must be greater than {min} and less than or equal to {max}."),
    N_("One or more of the choices you made was not in: {choices}."),
    N_("One or more of the choices you made was in: {values}."),
]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Template -> the pattern of its formatted text, the most specific first: "Must be greater than
# or equal to {min} and less than {max}." is tried before "Must be greater than {min}.", whose
# placeholder would swallow the rest.
_templates: dict[str, re.Pattern[str]] = {}


def validation_template(message: str) -> str:
    """Register a message the registry's schemas format with placeholders (``{max}``), so that
    its formatted text is recognised too; returns the message (mark it with ``N_`` for the
    catalogue where it is written)."""
    if _PLACEHOLDER.search(message) and message not in _templates:
        parts: list[str] = []
        position = 0
        for match in _PLACEHOLDER.finditer(message):
            parts.append(re.escape(message[position : match.start()]))
            parts.append(f"(?P<{match.group(1)}>.+?)")
            position = match.end()
        parts.append(re.escape(message[position:]))
        _templates[message] = re.compile("".join(parts), re.DOTALL)
        ordered = sorted(_templates.items(), key=lambda item: -len(_PLACEHOLDER.sub("", item[0])))
        _templates.clear()
        _templates.update(ordered)
    return message


for _message in MESSAGES:
    validation_template(_message)


def translate_message(text: Any) -> Any:
    """One message in the request's language: itself when the catalogue has nothing for it."""
    if not isinstance(text, str) or not text:
        return text
    translated = gettext(text)
    if translated != text:
        return translated
    for template, pattern in _templates.items():
        found = pattern.fullmatch(text)
        if found is None:
            continue
        wanted = gettext(template)
        if wanted == template:
            return text
        return _fill(wanted, found.groupdict())
    return text


def _fill(template: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def translate_validation_messages(messages: Any) -> Any:
    """marshmallow's nested messages (dicts by field or index, lists, strings), each message in
    the request's language; the keys (field names, indices) are kept."""
    if isinstance(messages, dict):
        return {key: translate_validation_messages(value) for key, value in messages.items()}
    if isinstance(messages, list | tuple):
        return [translate_validation_messages(value) for value in messages]
    return translate_message(messages)
