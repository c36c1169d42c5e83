"""Spreadsheet headers recognised by meaning: the phrasings donors write, in three languages.

Each header below is NOT in a column map (the exact aliases); it is read from its words. The
expected field is what a person reading the header understands; the ambiguous headers must be
asked about (an error naming the header and the candidates), never guessed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from importers.sheets import column_aliases, norm, parse_header, read_sheet_file
from tests.importers.helpers import csv_bytes, xlsx

PHRASINGS = [
    # the flows' date
    ("Date of commitment", "value_date"),
    ("Commitment date", "value_date"),
    ("Signature date", "value_date"),
    ("Date signed", "value_date"),
    ("Date of signature of the agreement", "value_date"),
    ("Date of payment", "value_date"),
    ("Date de signature", "value_date"),
    ("Date d'engagement", "value_date"),
    ("Date du décaissement", "value_date"),
    ("Fecha de compromiso", "value_date"),
    ("Fecha de firma", "value_date"),
    ("Fecha del desembolso efectivo", None),  # "efectivo" is ACTUAL: not a flow date alone
    # amounts by type, with units, currencies and years
    ("Amount committed (EUR k)", "commitment"),
    ("Committed amount", "commitment"),
    ("Total commitments (USD)", "commitment"),
    ("Contract amount", "commitment"),
    ("Montant total engagé", "commitment"),
    ("Montant de la convention (EUR)", "commitment"),
    ("Engagements cumulés", "commitment"),
    ("Monto total comprometido", "commitment"),
    ("Importe del convenio", "commitment"),
    ("Disbursed 2023", "disbursement"),
    ("Amount disbursed in 2021 (USD m)", "disbursement"),
    ("Total paid", "disbursement"),
    ("Décaissé en 2022", "disbursement"),
    ("Montant décaissé (FCFA)", "disbursement"),
    ("Versements effectifs", "disbursement"),
    ("Monto total desembolsado", "disbursement"),
    ("Desembolsos 2020", "disbursement"),
    ("Importe pagado", "disbursement"),
    ("Total amount spent", "expenditure"),
    ("Dépenses réalisées", None),  # "réalisées" is not in the vocabulary: not read by meaning
    ("Gasto ejecutado", "expenditure"),
    ("Total amount pledged", "pledge"),
    ("Promesses de contribution", None),
    ("Montant prometido", "pledge"),
    # project fields
    ("Number of the project", "reference"),
    ("Donor reference", "reference"),
    ("Numéro du projet", "reference"),
    ("Código de la operación", "reference"),
    ("Name of the project", "title"),
    ("Nom de l'activité", "title"),
    ("Nombre de la actividad", "title"),
    ("Project summary", "description"),
    ("Résumé du projet", "description"),
    ("Project start date", "planned_start"),
    ("Date de démarrage", "planned_start"),
    ("Fecha de comienzo", "planned_start"),
    ("Expected date of completion", "planned_end"),
    ("Closing date", "planned_end"),
    ("Date de clôture", "planned_end"),
    ("Fecha de cierre", "planned_end"),
    ("Actual completion date", "actual_end"),
    ("Date réelle de fin", "actual_end"),
    ("Fecha de inicio efectiva", "actual_start"),
    ("Status of the project", "status"),
    ("Situación del proyecto", "status"),
    ("Recipient countries", "country"),
    ("Pays bénéficiaires", "country"),
    ("Países receptores", "country"),
    ("Recipient regions", "region"),
    ("Zona beneficiaria", "region"),
    ("Share of the country (%)", "share"),
    ("Pourcentage du pays", "share"),
    ("Porcentaje por país", "share"),
    ("Priority areas (Tunis)", "area"),
    ("DAC purpose codes", "sector"),
    ("Code CAD", "sector"),
    ("Sector CAD", "sector"),
    ("Currency of the amounts", "currency"),
    ("Devise de la transaction", "currency"),
    ("Moneda de la transacción", "currency"),
    ("Fiscal year of the disbursement", "year"),
    ("Exercice budgétaire", None),
    ("Año del desembolso", "year"),
    ("Total project cost (EUR)", "need_amount"),
    ("Coût total du projet", "need_amount"),
    ("Presupuesto total del proyecto", "need_amount"),
    ("Source of funding", "funding_source"),
    ("Fuente de los fondos", "funding_source"),
    ("Name of the donor", "provider_org"),
    ("Organisme financeur", "provider_org"),
    ("Comments on the transaction", "transaction_description"),
    ("Commentaires sur la transaction", "transaction_description"),
    # headers the reader must NOT take
    ("Implementing agency", None),
    ("Budget line", None),
    ("Planned", None),  # a plan by year needs its year ("Planned 2025" is one: tests/importers/test_sheet_plans.py)
    ("Project manager", None),
    ("Phase 2 notes", None),
]


@pytest.mark.parametrize(("header", "field"), PHRASINGS)
def test_a_header_is_read_by_its_meaning(header, field):
    assert norm(header) not in column_aliases() or field is None, "an alias would not test the meaning"
    assert parse_header(header).field == (field or "ignore")


def test_a_year_unit_and_currency_stay_with_an_amount_read_by_meaning():
    col = parse_header("Montant décaissé en 2022 (EUR milliers)")
    assert (col.field, col.tx_type, col.year, col.unit, col.currency) == (
        "disbursement",
        "disbursement",
        2022,
        Decimal(1000),
        "EUR",
    )


def test_a_header_naming_two_amounts_is_a_question():
    col = parse_header("Committed and disbursed")
    assert col.field == "ignore" and set(col.question) == {"commitment", "disbursement"}


def _read(tmp_path, rows, options=None, name="donor.csv"):
    path = tmp_path / name
    path.write_bytes(csv_bytes(rows))
    result = read_sheet_file(path, path.name, dict(options or {}))
    return {r.reference: r for r in result.records}, result.problems, result.info


def test_a_donor_sheet_in_natural_english(app, tmp_path):
    rows = [
        [
            "Project number",
            "Name of the project",
            "Recipient countries",
            "Date of commitment",
            "Amount committed (EUR k)",
        ],
        ["GIZ-1", "Rural broadband", "Kenya", "2023-03-15", "1,250.5"],
    ]
    records, problems, info = _read(tmp_path, rows)
    assert not [p for p in problems if p.severity == "error"], problems
    [tx] = records["GIZ-1"].transactions
    # 1,250.5 thousand euros, committed on the date of commitment
    assert (tx.type, tx.amount, tx.currency, tx.value_date) == (
        "commitment",
        Decimal("1250500"),
        "EUR",
        dt.date(2023, 3, 15),
    )
    assert info["mapping"]["columns"]["Date of commitment"] == "value_date"


def test_french_and_spanish_sheets_read_alike(app, tmp_path):
    fr = [
        ["Numéro du projet", "Nom du projet", "Pays bénéficiaires", "Date de signature", "Montant engagé (EUR)"],
        ["P-1", "Télécentres", "Sénégal", "2022-06-30", "5000"],
    ]
    es = [
        [
            "Código de proyecto",
            "Nombre del proyecto",
            "Países receptores",
            "Fecha de compromiso",
            "Monto comprometido (EUR)",
        ],
        ["P-1", "Télécentres", "Senegal", "2022-06-30", "5000"],
    ]
    read = []
    for name, rows in (("fr.csv", fr), ("es.csv", es)):
        records, problems, _ = _read(tmp_path, rows, name=name)
        assert not [p for p in problems if p.severity == "error"], problems
        rec = records["P-1"]
        [tx] = rec.transactions
        read.append((rec.recipients[0].country, tx.type, tx.amount, tx.currency, tx.value_date))
    assert read[0] == read[1] == ("SEN", "commitment", Decimal(5000), "EUR", dt.date(2022, 6, 30))


def test_a_year_in_the_header_dates_the_flows_at_the_end_of_that_year(app, tmp_path):
    rows = [
        ["Project number", "Name of the project", "Disbursed 2023", "Décaissé en 2022", "Currency"],
        ["P-1", "Schools online", "300", "200", "USD"],
    ]
    records, problems, _ = _read(tmp_path, rows)
    assert not [p for p in problems if p.severity == "error"], problems
    dates = sorted((t.value_date, t.type, t.amount) for t in records["P-1"].transactions)
    assert dates == [
        (dt.date(2022, 12, 31), "disbursement", Decimal(200)),
        (dt.date(2023, 12, 31), "disbursement", Decimal(300)),
    ]
    warned = {p.location.column for p in problems if p.code == "date_from_header"}
    assert warned == {"Disbursed 2023", "Décaissé en 2022"}


def test_a_row_date_wins_over_the_year_of_the_header(app, tmp_path):
    rows = [
        ["Project number", "Name of the project", "Disbursed 2023", "Date of payment", "Currency"],
        ["P-1", "Schools online", "300", "2023-05-02", "USD"],
    ]
    records, problems, _ = _read(tmp_path, rows)
    [tx] = records["P-1"].transactions
    assert tx.value_date == dt.date(2023, 5, 2)
    assert not [p for p in problems if p.code == "date_from_header"]


def test_a_row_date_of_another_year_does_not_move_a_dated_column_out_of_its_year(app, tmp_path):
    """ "Disbursed 2023" beside "Date of commitment" 2019-03-01: the disbursement is 2023's (the
    header says so), not moved to 2019 by the commitment's date; the commitment keeps its date."""
    rows = [
        ["Project number", "Name of the project", "Date of commitment", "Amount committed", "Disbursed 2023"]
        + ["Currency"],
        ["P-1", "Schools online", "2019-03-01", "1000", "400", "USD"],
    ]
    records, problems, _ = _read(tmp_path, rows)
    assert not [p for p in problems if p.severity == "error"], problems
    dates = sorted((t.type, t.amount, t.value_date) for t in records["P-1"].transactions)
    assert dates == [
        ("commitment", Decimal(1000), dt.date(2019, 3, 1)),
        ("disbursement", Decimal(400), dt.date(2023, 12, 31)),
    ]
    [warned] = [p for p in problems if p.code == "date_from_header"]
    assert warned.location.column == "Disbursed 2023" and "2019-03-01" in warned.message


def _question(problems, header):
    return [p for p in problems if p.code == "ambiguous_header" and p.location.column == header]


def test_an_amount_beside_commitments_and_disbursements_is_asked_not_guessed(app, tmp_path):
    rows = [
        ["Project number", "Name of the project", "Commitment", "Disbursement", "Amount", "Currency", "Date"],
        ["P-1", "Schools online", "1000", "400", "1400", "USD", "2023-01-10"],
    ]
    records, problems, info = _read(tmp_path, rows)
    [asked] = _question(problems, "Amount")
    assert asked.severity == "error"
    assert "'Amount'" in asked.message and "Commitment amount" in asked.message
    assert "Disbursement amount" in asked.message
    assert info["questions"]["Amount"] == ["commitment", "disbursement", "ignore"]
    # Nothing of the asked column is read as a flow meanwhile.
    assert sorted(t.amount for t in records["P-1"].transactions) == [Decimal(400), Decimal(1000)]
    # The answer, given as a mapping, settles it.
    records, problems, _ = _read(tmp_path, rows, {"mapping": {"Amount": "ignore"}})
    assert not _question(problems, "Amount") and not [p for p in problems if p.severity == "error"]


def test_a_bare_date_beside_another_flow_date_is_asked(app, tmp_path):
    rows = [
        ["Project number", "Name of the project", "Commitment", "Date", "Date of commitment", "Currency"],
        ["P-1", "Schools online", "1000", "2021-01-01", "2023-01-10", "USD"],
    ]
    _records, problems, _ = _read(tmp_path, rows)
    [asked] = _question(problems, "Date")
    assert asked.severity == "error" and "Value date" in asked.message and "Planned start" in asked.message
    assert not _question(problems, "Date of commitment")


def test_a_bare_date_in_a_list_of_projects_is_asked(app, tmp_path):
    rows = [["Project number", "Name of the project", "Fecha"], ["P-1", "Schools online", "2021-01-01"]]
    records, problems, _ = _read(tmp_path, rows)
    [asked] = _question(problems, "Fecha")
    # Without amounts no flow can be misdated: the list of projects is read, the column left out.
    assert asked.severity == "warning" and "Planned start" in asked.message
    assert records["P-1"].planned_start is None


def test_a_bare_date_with_flows_is_their_value_date(app, tmp_path):
    rows = [
        ["Project number", "Name of the project", "Montant engagé", "Devise", "Date"],
        ["P-1", "Écoles", "1000", "XOF", "2024-02-01"],
    ]
    records, problems, _ = _read(tmp_path, rows)
    assert not _question(problems, "Date")
    assert records["P-1"].transactions[0].value_date == dt.date(2024, 2, 1)


def test_a_header_that_may_mean_two_amounts_is_an_error_in_a_workbook(app, tmp_path):
    path = xlsx(
        [
            ["Project number", "Name of the project", "Committed and disbursed", "Currency", "Date"],
            ["P-1", "Schools online", 1000, "USD", dt.date(2023, 1, 1)],
        ],
        tmp_path / "donor.xlsx",
    )
    result = read_sheet_file(path, path.name, {})
    [asked] = [p for p in result.problems if p.code == "ambiguous_header"]
    assert asked.severity == "error" and asked.location.sheet == "Projects" and asked.location.row == 1
    assert "Commitment amount" in asked.message and "Disbursement amount" in asked.message


def test_two_flow_dates_on_one_row_are_asked(app, tmp_path):
    """A row has one value date: a commitment date beside a disbursement date is not guessed."""
    rows = [
        ["Project number", "Name of the project", "Commitment", "Date of commitment", "Disbursement"],
        ["P-1", "Schools online", "1000", "2023-01-10", "400"],
    ]
    rows[0].append("Date du décaissement")
    rows[1].append("2023-06-30")
    _records, problems, _ = _read(tmp_path, rows, {"currency": "USD"})
    asked = [p for p in problems if p.code == "ambiguous_header"]
    assert {p.location.column for p in asked} == {"Date of commitment", "Date du décaissement"}
    assert all(p.severity == "error" and "a row has one" in p.message for p in asked)
    answered = {"mapping": {"Date du décaissement": "ignore"}, "currency": "USD"}
    records, problems, _ = _read(tmp_path, rows, answered)
    assert not [p for p in problems if p.severity == "error"], problems
    assert {t.value_date for t in records["P-1"].transactions} == {dt.date(2023, 1, 10)}
