"""GET /api/v1/projects.iati.xml: the project list, filtered, as IATI 2.03 activity XML."""

from __future__ import annotations

import io

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from importers.iati_export import projects_for_export, write_iati
from registry.services.search import ProjectFilters, project_query

blp = Blueprint(
    "iati_export", __name__, url_prefix="/api/v1", description="Projects as IATI activity XML"
)

FILTER_PARAMETERS = [
    {"name": name, "in": "query", "required": False, "schema": {"type": kind}, "description": text}
    for name, kind, text in (
        ("country", "string", "ISO3 code(s), comma-separated or repeated"),
        ("region", "string", "M49 region code(s); sub-regions and their countries included"),
        ("priority_area", "string", "Paragraph 23 area code(s), 23a-23l"),
        ("status", "string", "pipeline, active, completed, cancelled, suspended"),
        ("org", "string", "Organisation reference(s)"),
        ("year_from", "integer", "Projects whose dates reach this year or later"),
        ("year_to", "integer", "Projects whose dates start in this year or earlier"),
        ("q", "string", "Words in the title, description, reference or IATI identifier"),
    )
]


@blp.route("/projects.iati.xml")
class ProjectsIati(MethodView):
    @blp.doc(
        parameters=FILTER_PARAMETERS,
        responses={
            "200": {
                "description": "IATI 2.03 iati-activities document",
                "content": {"application/xml": {}},
            }
        },
    )
    def get(self):
        """The projects matching the filters of the project list, as IATI 2.03 XML."""
        filters = ProjectFilters.from_args(request.args)
        buffer = io.BytesIO()
        write_iati(projects_for_export(project_query(filters)), buffer)
        return Response(
            buffer.getvalue(),
            mimetype="application/xml",
            headers={"Content-Disposition": 'attachment; filename="projects.iati.xml"'},
        )
