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

import datetime as dt
from typing import Any

from flask_babel import gettext

from registry.models.types import N_


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

    def translated(self) -> str:
        """The message in the reader's language (registry/errors.py shows an error's message
        through this when it has it, without knowing the importers)."""
        return render(self.template, self.params)


def _plain(value: Any) -> Any:
    """A parameter as a JSON value: integers stay numbers, a ``Text`` its id and parameters, a
    date its ISO text (written as the reader's locale writes dates when shown), everything else
    its text."""
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
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
    if isinstance(value, dict) and "date" in value:
        return _long_date(value["date"], "en_GB")  # 3 April 2021: neither order to guess
    if isinstance(value, dict):  # a message kept as a parameter of another
        params = value.get("params") or {}
        template = value.get("template") or ""
        return template % {k: _english(v) for k, v in params.items()} if params else template
    return f"{value:,}" if isinstance(value, int) else value


def _localised(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(str(_localised(v)) for v in value)
    if isinstance(value, dict) and "date" in value:
        from registry.i18n import current_language

        language = current_language()
        return _long_date(value["date"], "en_GB" if language == "en" else language)
    if isinstance(value, dict):
        return render(value.get("template") or "", value.get("params"))
    if isinstance(value, int):
        from registry.i18n import number

        return number(value)
    return value


def _long_date(iso: str, locale: str) -> str:
    """A date with its month's name (3 April 2021, 3 avril 2021, 2021年4月3日)."""
    from babel.dates import format_date

    return format_date(dt.date.fromisoformat(iso), format="long", locale=locale)


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


# The kinds of problem as the report's summary names them ("missing column: 1"), in English the
# code itself with spaces; a code not listed reads that way untranslated.
PROBLEM_CODES: dict[str, str] = {
    "ambiguous_amount": N_("ambiguous amount"),
    "ambiguous_currency": N_("ambiguous currency"),
    "ambiguous_date": N_("ambiguous date"),
    "ambiguous_header": N_("ambiguous header"),
    "amount_as_commitment": N_("amount as commitment"),
    "bad_amount": N_("bad amount"),
    "bad_date": N_("bad date"),
    "bad_percentage": N_("bad percentage"),
    "bad_value": N_("bad value"),
    "bad_year": N_("bad year"),
    "budget_currency": N_("budget currency"),
    "budget_need": N_("budget need"),
    "budget_value": N_("budget value"),
    "currency": N_("currency"),
    "date_from_header": N_("date from header"),
    "dates_inferred": N_("dates inferred"),
    "dates_reversed": N_("dates reversed"),
    "decimal_mark_assumed": N_("decimal mark assumed"),
    "decimal_mark_by_currency": N_("decimal mark by currency"),
    "decimal_mark_doubtful": N_("decimal mark doubtful"),
    "deleted_flow": N_("deleted flow"),
    "deleted_project": N_("deleted project"),
    "duplicate_iati_identifier": N_("duplicate iati identifier"),
    "duplicate_project": N_("duplicate project"),
    "equal_split": N_("equal split"),
    "implausible_date": N_("implausible date"),
    "invalid_amount": N_("invalid amount"),
    "invalid_date": N_("invalid date"),
    "invalid_funding_source": N_("invalid funding source"),
    "invalid_records": N_("invalid records"),
    "invalid_sector": N_("invalid sector"),
    "invalid_share": N_("invalid share"),
    "missing_column": N_("missing column"),
    "missing_currency": N_("missing currency"),
    "missing_date": N_("missing date"),
    "missing_reference": N_("missing reference"),
    "no_area": N_("no area"),
    "no_data_sheet": N_("no data sheet"),
    "no_date": N_("no date"),
    "no_file_currency": N_("no file currency"),
    "no_header": N_("no header"),
    "no_identifier": N_("no identifier"),
    "no_title": N_("no title"),
    "no_version": N_("no version"),
    "no_year": N_("no year"),
    "not_on_dac_list": N_("not on dac list"),
    "note_row": N_("note row"),
    "other": N_("other"),
    "other_org": N_("other org"),
    "other_publisher": N_("other publisher"),
    "other_sheet_replaced": N_("other sheet replaced"),
    "partial_percentages": N_("partial percentages"),
    "percentages_rescaled": N_("percentages rescaled"),
    "recipients_on_both": N_("recipients on both"),
    "reference_truncated": N_("reference truncated"),
    "repeated_activity": N_("repeated activity"),
    "repeated_recipient": N_("repeated recipient"),
    "rounded": N_("rounded"),
    "several_recipients": N_("several recipients"),
    "shares_from_transactions": N_("shares from transactions"),
    "sheet_skipped": N_("sheet skipped"),
    "split_differs": N_("split differs"),
    "status": N_("status"),
    "title_differs": N_("title differs"),
    "title_truncated": N_("title truncated"),
    "too_many_rows": N_("too many rows"),
    "total_row": N_("total row"),
    "transaction_type": N_("transaction type"),
    "unallocated": N_("unallocated"),
    "unallocated_recipient": N_("unallocated recipient"),
    "unconverted_amount": N_("unconverted amount"),
    "unconverted_need": N_("unconverted need"),
    "unknown_area": N_("unknown area"),
    "unknown_column": N_("unknown column"),
    "unknown_country": N_("unknown country"),
    "unknown_currency": N_("unknown currency"),
    "unknown_donor": N_("unknown donor"),
    "unknown_org": N_("unknown org"),
    "unknown_provider_org": N_("unknown provider org"),
    "unknown_recipient": N_("unknown recipient"),
    "unknown_region": N_("unknown region"),
    "unknown_status": N_("unknown status"),
    "unknown_transaction_type": N_("unknown transaction type"),
    "unreadable_file": N_("unreadable file"),
    "unspecified_recipient": N_("unspecified recipient"),
}


def code_name(code: str) -> str:
    """A problem code's name in the reader's language ("missing column")."""
    known = PROBLEM_CODES.get(code)
    return gettext(known) if known else code.replace("_", " ")


# The flows' types as messages write them inside a sentence ("disbursement 1,000.00 USD").
FLOW_WORDS: dict[str, str] = {
    "incoming_funds": N_("incoming funds"),
    "commitment": N_("commitment"),
    "disbursement": N_("disbursement"),
    "expenditure": N_("expenditure"),
    "interest_payment": N_("interest payment"),
    "loan_repayment": N_("loan repayment"),
    "reimbursement": N_("reimbursement"),
    "purchase_of_equity": N_("purchase of equity"),
    "sale_of_equity": N_("sale of equity"),
    "credit_guarantee": N_("credit guarantee"),
    "incoming_commitment": N_("incoming commitment"),
    "pledge": N_("pledge"),
    "incoming_pledge": N_("incoming pledge"),
}


def money_shown(entries: list[dict] | None) -> str:
    """The money of left-out records (``pipeline.money_text``'s entries) for the reader: each type
    in their language, each amount as their locale writes it ("disbursement 1 000,00 USD")."""
    from decimal import Decimal

    from registry import i18n, money

    parts = []
    for m in entries or ():
        currency, kind = str(m["currency"]), str(m["type"])
        word = FLOW_WORDS.get(kind)
        try:
            amount = i18n.money(Decimal(m["amount"]), currency if money.is_currency(currency) else "")
            amount = amount if money.is_currency(currency) else f"{amount} {currency}".strip()
        except (ArithmeticError, ValueError):
            amount = f"{m['amount']} {currency}".strip()
        parts.append(
            gettext("%(type)s %(amount)s")
            % {"type": gettext(word) if word else kind.replace("_", " "), "amount": amount}
        )
    return "; ".join(parts)
