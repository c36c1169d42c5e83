"""GET /api/v1/projects.iati.xml: the project list, filtered, as IATI 2.03 activity XML."""

from __future__ import annotations

import io

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from importers.iati_export import projects_for_export, write_iati
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
