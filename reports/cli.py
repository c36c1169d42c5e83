"""Command line: `flask report flows|gap`, `flask export funding-gap`, `flask seed synthetic`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from registry.errors import RegistryError
from registry.unit_of_work import command_unit
from reports import facts
from reports.dimensions import DIMENSION_LABELS, GAP_MEASURES, MEASURE_LABELS
from reports.flows import Report, run_report
from reports.schemas import load_spec
from reports.tables import to_csv, to_text_table

report_cli = AppGroup("report", help="Funding flows and funding gaps (the same numbers as the API).")


def _filter_options(func):
    """The filters shared by every report command."""
    options = [
        click.option(
            "--by",
            "by",
            multiple=True,
            help="Dimension (repeat for a cross-tab): " + ", ".join(DIMENSION_LABELS) + ".",
        ),
        click.option(
            "--measure", "measure", multiple=True, help="Measure (repeat): " + ", ".join(MEASURE_LABELS) + "."
        ),
        click.option("--currency", default="USD", show_default=True, help="Reporting currency (ISO 4217)."),
        click.option("--year-from", type=int, help="First year of value dates."),
        click.option("--year-to", type=int, help="Last year of value dates."),
        click.option("--region", multiple=True, help="M49 region code, e.g. 002 (Africa)."),
        click.option("--country", multiple=True, help="ISO3 country code."),
        click.option("--category", multiple=True, help="Recipient category, e.g. LDC."),
        click.option("--priority-area", multiple=True, help="Paragraph 23 area, e.g. 23b."),
        click.option("--source-kind", multiple=True, help="Funding source kind, e.g. bilateral_oda."),
        click.option("--donor", multiple=True, help="Donor organisation reference."),
        click.option("--status", multiple=True, help="Project status, e.g. active."),
        click.option(
            "--confirmed",
            type=click.Choice(["all", "only"]),
            default="all",
            show_default=True,
            help="all: every flow (the notes say how much is unconfirmed); only: confirmed flows alone.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _params(kwargs: dict) -> dict:
    """The options as the report parameters of the query string (the options bear their names)."""
    return {name: list(value) if isinstance(value, tuple) else value for name, value in kwargs.items()}


def _fail(exc: RegistryError) -> None:
    click.echo(f"Error: {exc.message}", err=True)
    for field, problems in (exc.errors or {}).items():
        for problem in problems if isinstance(problems, list) else [problems]:
            click.echo(f"  {field}: {problem}", err=True)
    sys.exit(2)


def _print(report: Report, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(report.as_json(), indent=2))
    elif fmt == "csv":
        click.echo(to_csv(report), nl=False)
    else:
        click.echo(to_text_table(report))


def _report_command(name: str, default_measures, help_text: str) -> click.Command:
    """`flask report <name>`: the report of the options (default measures ``default_measures``)."""

    @report_cli.command(name, help=help_text)
    @_filter_options
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "csv", "json"]),
        default="table",
        show_default=True,
    )
    def command(fmt: str, **kwargs) -> None:
        try:
            report = run_report(load_spec(_params(kwargs), default_measures))
        except RegistryError as exc:
            _fail(exc)
        _print(report, fmt)

    return command


report_flows = _report_command("flows", tuple(MEASURE_LABELS), "Print share-weighted flows by one or two dimensions.")
report_gap = _report_command(
    "gap", GAP_MEASURES, "Print need, commitments, funding gap and coverage by one or two dimensions."
)


@click.command("funding-gap")
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@_filter_options
@with_appcontext
def funding_gap_command(out: Path, **kwargs) -> None:
    """Write the funding-gap workbook (XLSX) for the filters to OUT."""
    from reports.workbook import funding_gap_workbook

    try:
        spec = load_spec(_params(kwargs), GAP_MEASURES)
        data = funding_gap_workbook(spec)
    except RegistryError as exc:
        _fail(exc)
    out.write_bytes(data)
    click.echo(f"Wrote {out} ({len(data):,} bytes, currency {spec.currency}).")


@click.command("synthetic")
@click.option("--projects", default=2000, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--transactions", default=100_000, show_default=True, type=click.IntRange(0, 50_000_000))
@click.option(
    "--seed",
    "random_seed",
    default=6,
    show_default=True,
    help="Random seed (same seed, same data).",
)
@with_appcontext
def synthetic_command(projects: int, transactions: int, random_seed: int) -> None:
    """Fill the registry with a large synthetic data set (labelled demo, refs SYN-...)."""
    from reports.synthetic import SyntheticExists, seed_synthetic

    try:
        with command_unit():  # the command's one commit; anything raised rolls it all back
            counts = seed_synthetic(projects, transactions, random_seed, progress=lambda text: click.echo(f"  {text}"))
            started = time.perf_counter()
            facts.ensure_fresh()  # what the commit would do anyway, timed: flows and facts commit together
            click.echo(f"  report facts brought up to date in {time.perf_counter() - started:.1f} s")
    except SyntheticExists as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    click.echo("Synthetic data loaded: " + ", ".join(f"{n:,} {what}" for what, n in counts.items()))


@report_cli.command("predictability")
@click.option("--currency", default="USD", show_default=True, help="Reporting currency (ISO 4217).")
@click.option("--year-from", type=int, help="First year shown.")
@click.option("--year-to", type=int, help="Last year shown.")
@click.option("--donor", multiple=True, help="Donor organisation reference.")
@with_appcontext
def report_predictability(currency: str, year_from: int | None, year_to: int | None, donor: tuple[str, ...]) -> None:
    """Print planned and disbursed by year, in-year predictability, absorption and disbursement lag, by donor."""
    from reports.forward import predictability

    years = range(year_from, year_to + 1) if year_from and year_to else None
    report = predictability(currency.upper(), years, donor)
    for row in [*report["rows"], report["total"]]:
        click.echo(
            f"{row['donor']}: committed {row['committed']} disbursed {row['disbursed']} {report['currency']}, "
            f"absorption {row['absorption'] or '-'}, lag {row['disbursement_lag_days'] or '-'} days"
        )
        for year in row["years"]:
            click.echo(
                f"  {year['year']}: planned {year['planned']} disbursed {year['disbursed']}"
                f" in-year predictability {year['in_year_predictability'] or '-'}"
            )
    for note in report["notes"]:
        click.echo(f"note: {note}")


@report_cli.command("forward")
@click.option("--by", "by", type=click.Choice(["country", "region", "area"]), default="country", show_default=True)
@click.option("--currency", default="USD", show_default=True, help="Reporting currency (ISO 4217).")
@click.option("--start-year", type=int, help="First of the three years (default: next year).")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text", show_default=True)
@with_appcontext
def report_forward(by: str, currency: str, start_year: int | None, fmt: str) -> None:
    """Print what is planned for each of the next three years by country, region or priority area."""
    from reports.forward import forward_spending
    from reports.forward_api import forward_csv

    report = forward_spending(by, currency.upper(), start_year)
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
        return
    if fmt == "csv":
        click.echo(forward_csv(report), nl=False)
        return
    years = [str(y) for y in report["years"]]
    click.echo("\t".join([by, *years, "total"]))
    for row in [*report["rows"], {"key": "Total", **report["total"]}]:
        click.echo("\t".join([row["key"] or "(unallocated)", *(row[y] for y in years), row["total"]]))
    for note in report["notes"]:
        click.echo(f"note: {note}")


@report_cli.command("refresh")
@click.option("--rebuild", is_flag=True, help="Recompute the facts of every project, not only the changed ones.")
def report_refresh(rebuild: bool) -> None:
    """Bring the report facts (per-project sums of the flows) up to date now."""
    started = time.perf_counter()
    with command_unit():  # the command's one commit
        if rebuild:
            facts.forget()
        done = facts.ensure_fresh()
    what = "rebuilt for every project" if done["rebuilt"] else f"recomputed for {done['projects']:,} changed projects"
    click.echo(f"Report facts {what} in {time.perf_counter() - started:.1f} s.")


def _add_to_group(app: Flask, name: str, help_text: str, command: click.Command) -> None:
    """Add ``command`` to the app's group ``name``, creating the group when nobody has yet.

    Another package may register a group of the same name before or after us; whichever
    comes second adds its commands to the existing group instead of replacing it.
    """
    group = app.cli.commands.get(name)
    if group is None:
        group = AppGroup(name, help=help_text)
        app.cli.add_command(group)
    if isinstance(group, click.Group):
        group.add_command(command)


def init_app(app: Flask) -> None:
    """Attach `report`, `export funding-gap` and `seed synthetic` to the app's command line."""
    from registry.cli import seed_cli

    app.cli.add_command(report_cli)
    _add_to_group(app, "export", "Exports (workbooks, IATI).", funding_gap_command)
    # The registry owns `seed` and registers it after the packages: join its group object.
    seed_cli.add_command(synthetic_command)
    _add_to_group(app, "seed", "Demonstration and synthetic data.", synthetic_command)
