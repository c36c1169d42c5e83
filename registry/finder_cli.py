"""`flask --app wsgi finder funding|projects`, `pipeline list|post|interest` and
`saved-search list|create|delete|run`: the funding finder, the pipeline marketplace and saved
searches on the command line, with the results of the page and the API (the same services:
registry.services.matching and registry.services.marketplace), as a table or the API's JSON."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import AppGroup

from registry.cli_support import (
    acting,
    api_context,
    as_option,
    echo_fields,
    echo_json,
    echo_table,
    format_option,
    load_input,
    read_document,
    reading,
)
from registry.unit_of_work import command_unit

finder_cli = AppGroup("finder", help="The funding finder: sources for a need, pipeline projects for a source.")
pipeline_cli = AppGroup("pipeline", help="Pipeline projects: list, post, declare interest.")
searches_cli = AppGroup("saved-search", help="A user's saved searches: list, create, delete, run.")

INPUT = click.File("r", encoding="utf-8-sig")
DAY = click.DateTime(formats=["%Y-%m-%d"])


def _day(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


# -- the finder ------------------------------------------------------------------------------


def funding_result(need, result) -> dict:
    """The finder's answer as GET /api/v1/funding-sources/match gives it."""
    from registry.api.matching import RANKING_RULE, match_out, need_query
    from registry.schemas.matching import MatchResultOut

    with api_context():
        return MatchResultOut().dump(
            {
                "query": need_query(need, result.amount_usd),
                "ranking_rule": RANKING_RULE,
                "matches": [match_out(m, i) for i, m in enumerate(result.matches, start=1)],
                "failing": [match_out(m, None) for m in result.failing],
            }
        )


@finder_cli.command("funding")
@click.option(
    "--country",
    default=None,
    help="ISO 3166 alpha-3 code of the recipient country, e.g. NPL; several separated by commas (NPL,BTN)",
)
@click.option("--region", default=None, help="M49 code of the recipient region, e.g. 034 (several by commas)")
@click.option("--area", "areas", multiple=True, help="Paragraph 23 priority area, e.g. 23b (repeat for several)")
@click.option("--instrument", help="Instrument sought, e.g. grant, concessional_loan")
@click.option("--amount", help="Amount sought (a decimal, e.g. 2500000)")
@click.option("--currency", default=None, help="ISO 4217 code of the amount (required with an amount)")
@click.option("--date", "day", type=DAY, help="Judge the rules on this date (default: today)")
@click.option("--failing/--no-failing", default=True, show_default=True, help="Also list the sources that do not fit")
@format_option()
def finder_funding(
    country: str | None,
    region: str | None,
    areas: tuple[str, ...],
    instrument: str | None,
    amount: str | None,
    currency: str | None,
    day: dt.datetime | None,
    failing: bool,
    output: str,
) -> None:
    """Funding sources ranked by fit to a need, as the Find funding page and
    GET /api/v1/funding-sources/match rank them; the sources failing a hard criterion apart."""
    from registry.services import matching

    with reading():
        need = matching.build_need(
            country,
            [code for given in areas for code in given.split(",")],
            instrument,
            amount,
            currency,  # an amount without its currency is refused, as the API refuses it
            _day(day),
            region=region,
        )
        result = matching.find_funding(need)
        if output == "json":
            body = funding_result(need, result)
            if not failing:
                body["failing"] = []
            echo_json(body)
            return
        asked = f"{need.amount} {need.currency}" if need.amount is not None else "any amount"
        click.echo(
            f"Funding for {', '.join(need.countries + need.regions)}, areas {', '.join(need.areas) or 'any'}, "
            f"{need.instrument or 'any instrument'}, {asked}, on {need.day.isoformat()}:"
        )
        if result.matches:
            _source_rows(result.matches, ranked=True)
        else:
            click.echo("No funding source fits.")
        if failing and result.failing:
            click.echo(f"\nNot a fit ({len(result.failing)}): a hard criterion is not met")
            _source_rows(result.failing, ranked=False)


def _source_rows(found, ranked: bool) -> None:
    rows = []
    for i, m in enumerate(found, start=1):
        rows.append(
            [
                i if ranked else "-",
                m.score,
                m.source.id,
                m.source.ref,
                m.source.name,
                m.source.managing_org.name,
                ", ".join(c.key for c in m.failed) or "-",
                m.committed_in_country,
            ]
        )
    echo_table(
        ["rank", "score", "id", "ref", "source", "managed by", "failed", "usd in country"],
        rows,
        right=("rank", "score", "id", "usd in country"),
    )


@finder_cli.command("projects")
@click.argument("source_id", type=int)
@click.option("--date", "day", type=DAY, help="Judge the rules on this date (default: today)")
@click.option("--include-failing", is_flag=True, help="Also the projects failing a hard criterion")
@format_option()
def finder_projects(source_id: int, day: dt.datetime | None, include_failing: bool, output: str) -> None:
    """Pipeline projects that fit funding source SOURCE_ID, ranked with their remaining gap
    (GET /api/v1/funding-sources/<id>/matching-projects)."""
    from registry.api.matching import PROJECT_RULE, criterion_out, project_out, source_out
    from registry.schemas.matching import MatchingProjectsOut
    from registry.services import matching

    with reading():
        source = matching.get_source(source_id)
        when = _day(day) or dt.date.today()
        found = matching.matching_projects(source, when, include_failing=include_failing)
        if output == "json":
            with api_context():
                body = {
                    "source": source_out(source),
                    "date": when,
                    "ranking_rule": PROJECT_RULE,
                    "projects": [
                        {
                            "rank": i,
                            "score": m.score,
                            "eligible": m.eligible,
                            "failed": [c.key for c in m.failed],
                            "criteria": [criterion_out(c) for c in m.criteria],
                            "project": project_out(m.project, m.gap),
                        }
                        for i, m in enumerate(found, start=1)
                    ],
                }
                echo_json(MatchingProjectsOut().dump(body))
            return
        click.echo(f"Pipeline projects for {source.name} ({source.ref}), on {when.isoformat()}:")
        if not found:
            click.echo("No pipeline project fits.")
            return
        echo_table(
            ["rank", "score", "id", "countries", "areas", "instrument", "gap usd", "failed", "title"],
            [
                [
                    i,
                    m.score,
                    m.project.id,
                    [r.country_iso3 for r in m.project.recipients if r.country_iso3],
                    [a.area_code for a in m.project.areas],
                    m.project.instrument_sought.value if m.project.instrument_sought else None,
                    m.gap.gap_usd,
                    ", ".join(c.key for c in m.failed) or "-",
                    m.project.title,
                ]
                for i, m in enumerate(found, start=1)
            ],
            right=("rank", "score", "id", "gap usd"),
        )


# -- the pipeline marketplace ----------------------------------------------------------------


def _project_rows(listed, gaps) -> None:
    echo_table(
        ["id", "country", "areas", "instrument", "need", "gap usd", "posted", "title"],
        [
            [
                p.id,
                [r.country_iso3 for r in p.recipients if r.country_iso3],
                [a.area_code for a in p.areas],
                p.instrument_sought.value if p.instrument_sought else None,
                f"{gaps[p.id].need} {gaps[p.id].currency}" if gaps[p.id].need is not None else None,
                gaps[p.id].gap_usd,
                p.created_at.date().isoformat() if p.created_at else None,
                p.title,
            ]
            for p in listed
        ],
        right=("id", "need", "gap usd"),
    )


@pipeline_cli.command("list")
@click.option("--country", help="ISO3 code of the recipient country")
@click.option("--area", "priority_area", help="Priority area, e.g. 23b")
@click.option("--instrument", help="Instrument sought, e.g. grant")
@click.option("--q", help="Text in the title or description")
@format_option()
def pipeline_list(
    country: str | None, priority_area: str | None, instrument: str | None, q: str | None, output: str
) -> None:
    """Open pipeline projects, newest first, with their remaining funding gap (the filters of
    the Pipeline page; GET /api/v1/pipeline-projects)."""
    from registry.api.matching import project_out
    from registry.schemas.matching import PipelineProjectOut
    from registry.services import marketplace, matching

    args = {"country": country, "priority_area": priority_area, "instrument": instrument, "q": q}
    with reading():
        listed = matching.pipeline_projects(marketplace.pipeline_filters(args))
        gaps = matching.funding_gaps(listed)
        if output == "json":
            with api_context():
                echo_json(PipelineProjectOut(many=True).dump([project_out(p, gaps[p.id]) for p in listed]))
            return
        if not listed:
            click.echo("No open pipeline project matches.")
            return
        _project_rows(listed, gaps)
        click.echo(f"{len(listed)} pipeline project(s)")


def _pipeline_json(project) -> dict:
    from registry.api.matching import project_out
    from registry.schemas.matching import PipelineProjectOut

    with api_context():
        return PipelineProjectOut().dump(project_out(project))


@pipeline_cli.command("post")
@click.argument("file", type=INPUT)
@as_option()
@format_option()
def pipeline_post(file, as_email: str | None, output: str) -> None:
    """Post a pipeline project from FILE (JSON or YAML, - for stdin) with the fields of
    POST /api/v1/pipeline-projects: as a government user (--as), for its own country; the
    system (or an administrator) names the government organisation with org_id."""
    from registry.errors import NotFoundError, PermissionDenied
    from registry.extensions import db
    from registry.models import Organisation
    from registry.models.types import Role
    from registry.schemas.matching import PipelineProjectIn
    from registry.services import marketplace
    from registry.services.lookup import not_found

    document = read_document(file)
    who = acting(as_email)
    with command_unit():
        if who.actor.role not in (Role.GOVERNMENT, Role.ADMIN):
            raise PermissionDenied("Only recipient governments post pipeline projects")
        args = load_input(PipelineProjectIn(), document)
        org = None
        if args.get("org_id") is not None:
            org = db.session.get(Organisation, args["org_id"])
            if org is None:
                raise NotFoundError(not_found("organisation", args["org_id"]))
        data = {k: v for k, v in args.items() if k not in ("org_id", "version")}
        project = marketplace.post_pipeline_project(who.actor, data, org)
    if output == "json":
        echo_json(_pipeline_json(project))
        return
    click.echo(f"Posted pipeline project {project.id} ({project.reference}, version {project.version}).")
    body = _pipeline_json(project)
    echo_fields(
        [
            ("title", body["title"]),
            ("government", body["org"]["name"]),
            ("country", body["countries"]),
            ("areas", body["areas"]),
            ("instrument sought", body["instrument_sought"]),
            ("need", f"{body['gap']['need']} {body['gap']['currency']}"),
            ("contact", body["contact_email"]),
            ("page", body["url"]),
        ]
    )


@pipeline_cli.command("interest")
@click.argument("project_id", type=int)
@as_option(required=True)
@click.option("--note", default="", help="A note for the government (at most 2,000 characters)")
@format_option()
def pipeline_interest(project_id: int, as_email: str, note: str, output: str) -> None:
    """Declare the interest of your donor organisation (--as a donor user) in pipeline project
    PROJECT_ID (POST /api/v1/pipeline-projects/<id>/interests); the government sees it."""
    from registry.api.matching import interest_out
    from registry.errors import PermissionDenied
    from registry.models.types import Role
    from registry.schemas.matching import InterestIn, InterestOut
    from registry.services import marketplace

    who = acting(as_email)
    with command_unit():
        if who.actor.role not in (Role.DONOR, Role.ADMIN):
            raise PermissionDenied("Only donor organisations record interest in pipeline projects")
        args = load_input(InterestIn(), {"note": note})
        project = marketplace.get_pipeline_project(project_id)
        interest = marketplace.express_interest(who.actor, project, args["note"])
    if output == "json":
        echo_json(InterestOut().dump(interest_out(interest)))
        return
    click.echo(
        f"Recorded the interest of {interest.org.name} in pipeline project {project.id} "
        f"({project.title}): interest {interest.id}."
    )


# -- saved searches -------------------------------------------------------------------------


def _search_json(search) -> dict:
    from registry.api.matching import search_out
    from registry.schemas.matching import SavedSearchOut

    with api_context():
        return SavedSearchOut().dump(search_out(search))


@searches_cli.command("list")
@as_option(required=True)
@format_option()
def searches_list(as_email: str, output: str) -> None:
    """The saved searches of the user named by --as, newest first (GET /api/v1/saved-searches)."""
    from registry.services import marketplace

    who = acting(as_email)
    with reading():
        found = marketplace.saved_searches(who.actor)
        if output == "json":
            echo_json([_search_json(s) for s in found])
            return
        if not found:
            click.echo(f"{who.user.email} has no saved search.")
            return
        echo_table(
            ["id", "kind", "name", "params", "created"],
            [
                [s.id, s.kind, s.name, s.params, s.created_at.strftime("%Y-%m-%d %H:%M") if s.created_at else None]
                for s in found
            ],
            right=("id",),
        )


@searches_cli.command("create")
@as_option(required=True)
@click.option("--name", required=True, help="What the search is called")
@click.option("--kind", required=True, type=click.Choice(["funding", "pipeline"]), help="finder or marketplace")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A search parameter (funding: country, priority_area, instrument, amount, currency; "
    "pipeline: source_id, country, priority_area, instrument, q); repeat for several",
)
@format_option()
def searches_create(as_email: str, name: str, kind: str, params: tuple[str, ...], output: str) -> None:
    """Save a finder ("funding") or marketplace ("pipeline") search for the user named by --as,
    checked as the live search is; prints its Atom and CSV feed addresses."""
    from registry.schemas.matching import SavedSearchIn
    from registry.services import marketplace

    given = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--param")
        given[key.strip()] = value
    who = acting(as_email)
    with command_unit():
        args = load_input(SavedSearchIn(), {"name": name, "kind": kind, "params": given})
        search = marketplace.create_saved_search(who.actor, args["name"], args["kind"], args["params"])
    body = _search_json(search)
    if output == "json":
        echo_json(body)
        return
    click.echo(f"Saved search {search.id} ({search.kind}): {search.name}")
    echo_fields([("params", body["params"]), ("atom feed", body["atom_url"]), ("csv feed", body["csv_url"])])


@searches_cli.command("delete")
@click.argument("search_id", type=int)
@as_option(required=True)
def searches_delete(search_id: int, as_email: str) -> None:
    """Delete saved search SEARCH_ID of the user named by --as; its feed addresses stop working."""
    from registry.services import marketplace

    who = acting(as_email)
    with command_unit():
        search = marketplace.get_saved_search(who.actor, search_id)
        name = search.name
        marketplace.delete_saved_search(who.actor, search)
    click.echo(f"Deleted saved search {search_id} ({name}).")


@searches_cli.command("run")
@click.argument("search_id", type=int)
@as_option(required=True)
@click.option("--date", "day", type=DAY, help="Judge the rules on this date (default: today)")
@format_option()
def searches_run(search_id: int, as_email: str, day: dt.datetime | None, output: str) -> None:
    """Run saved search SEARCH_ID of the user named by --as: its current matches, in its own
    ranking, with the columns of its CSV feed."""
    from registry.services import marketplace

    who = acting(as_email)
    with reading():
        search = marketplace.get_saved_search(who.actor, search_id)
        items = marketplace.search_matches(search, _day(day))
        rows = [item.row for item in items]
        if output == "json":
            echo_json({"id": search.id, "name": search.name, "kind": search.kind, "matches": rows})
            return
        click.echo(f"{search.name} ({search.kind}): {len(rows)} match(es)")
        if not rows:
            return
        if search.kind == "funding":
            columns = ["rank", "score", "source_id", "source_ref", "name", "managing_organisation"]
        else:
            columns = ["rank", "score", "project_id", "countries", "areas", "instrument_sought", "gap_usd", "title"]
        echo_table(columns, [[row.get(c) for c in columns] for row in rows], right=("rank", "score", "gap_usd"))
