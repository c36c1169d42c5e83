"""GET /api/v1/projects.iati.xml: the project list, filtered, as IATI 2.03 activity XML; and
/api/v1/projects.wsis.csv and .xlsx: the same projects in the shape of the WSIS Stocktaking."""

from __future__ import annotations

import io

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from importers.iati_export import projects_for_export, write_iati
from importers.wsis_export import projects_for_stocktaking, to_csv, to_xlsx
from registry.rate_limits import export_limit
from registry.schemas.projects import ProjectQuery
from registry.services.search import ProjectFilters, project_query

blp = Blueprint("iati_export", __name__, url_prefix="/api/v1", description="Projects as IATI activity XML")


@blp.route("/projects.iati.xml")
class ProjectsIati(MethodView):
    @blp.arguments(ProjectQuery, location="query", unknown=RAISE)
    @blp.doc(
        responses={
            "200": {
                "description": "IATI 2.03 iati-activities document",
                "content": {"application/xml": {}},
            }
        },
    )
    @export_limit
    def get(self, args):
        """The projects matching the filters of the project list, as IATI 2.03 XML."""
        filters = ProjectFilters.from_mapping(args)
        buffer = io.BytesIO()
        write_iati(projects_for_export(project_query(filters)), buffer)
        return Response(
            buffer.getvalue(),
            mimetype="application/xml",
            headers={"Content-Disposition": 'attachment; filename="projects.iati.xml"'},
        )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@blp.route("/projects.wsis.csv")
class ProjectsWsisCsv(MethodView):
    @blp.arguments(ProjectQuery, location="query", unknown=RAISE)
    @blp.doc(responses={"200": {"description": "WSIS Stocktaking rows as CSV", "content": {"text/csv": {}}}})
    @export_limit
    def get(self, args):
        """The projects matching the filters of the project list in the shape of the WSIS Stocktaking
        database (title, action lines, countries, partners, dates, description, link), as CSV."""
        rows = to_csv(projects_for_stocktaking(project_query(ProjectFilters.from_mapping(args))))
        return Response(
            rows,
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="projects.wsis-stocktaking.csv"'},
        )


@blp.route("/projects.wsis.xlsx")
class ProjectsWsisXlsx(MethodView):
    @blp.arguments(ProjectQuery, location="query", unknown=RAISE)
    @blp.doc(responses={"200": {"description": "WSIS Stocktaking rows as XLSX", "content": {XLSX: {}}}})
    @export_limit
    def get(self, args):
        """The same rows as the CSV, as an XLSX workbook of one sheet."""
        data = to_xlsx(projects_for_stocktaking(project_query(ProjectFilters.from_mapping(args))))
        return Response(
            data,
            mimetype=XLSX,
            headers={"Content-Disposition": 'attachment; filename="projects.wsis-stocktaking.xlsx"'},
        )
