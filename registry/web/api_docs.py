"""The interactive API reference at /api/v1/docs: Swagger UI reading /api/v1/openapi.json,
with the main calls of each kind of user above it.

Swagger UI comes from the swagger-ui-bundle package and is served by the app, so the page
works with no internet. The page keeps the Content-Security-Policy as it is: the start-up
is a static script (``static/api-docs.js``), not inline, and the images Swagger UI's style
sheet carries as ``data:`` addresses are served as files of their own (the policy admits
images from the app only).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import unquote

from flask import Blueprint, Flask, Response, abort, render_template, request, url_for
from flask_babel import lazy_gettext as _l

bp = Blueprint("api_reference", __name__)

SCRIPT = "swagger-ui-bundle.js"
STYLE = "swagger-ui.css"
ASSET_AGE = 24 * 3600
_DATA_URL = re.compile(
    r"""url\((?P<quote>["']?)data:(?P<mime>[\w.+-]+/[\w.+-]+)(?:;[\w=.-]+)*?(?P<b64>;base64)?,"""
    r"""(?P<body>.*?)(?P=quote)\)"""
)
_SUFFIX = {"image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif"}


def swagger_ui_dir() -> Path:
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


@dataclass(frozen=True)
class Call:
    """One example call: what it does, the method and address, and a JSON body to send."""

    means: str
    method: str
    path: str
    body: str | None = None


# The calls each kind of user makes most, as the guides under /help describe them.
MAIN_CALLS = [
    (
        _l("Donor officer"),
        [
            Call(
                _l("Active projects in a country, with filters"),
                "GET",
                "/api/v1/projects?country=KEN&status=active&area=23b",
            ),
            Call(
                _l("Register a project"),
                "POST",
                "/api/v1/projects",
                '{"reference": "KEN-BB-2026", "title": "Rural broadband, Turkana",\n'
                ' "status": "active", "recipients": [{"country": "KEN", "share": "100"}],\n'
                ' "areas": [{"code": "23b", "share": "100"}]}',
            ),
            Call(
                _l("Record a disbursement"),
                "POST",
                "/api/v1/projects/12/transactions",
                '{"type": "disbursement", "amount": "250000.00", "currency": "EUR",\n "value_date": "2026-03-31"}',
            ),
        ],
    ),
    (
        _l("Ministry official"),
        [
            Call(
                _l("Find funding sources for a need"),
                "GET",
                "/api/v1/funding-sources/match?country=NPL&priority_area=23b&instrument=grant&amount=2500000&currency=USD",
            ),
            Call(_l("Open pipeline projects of a country"), "GET", "/api/v1/pipeline-projects?country=NPL"),
        ],
    ),
    (
        _l("Analyst"),
        [
            Call(_l("Funding gap by region"), "GET", "/api/v1/reports/funding-gap?by=region"),
            Call(
                _l("Disbursements by priority area and year"),
                "GET",
                "/api/v1/reports/flows?by=priority_area&by=year&measure=disbursement",
            ),
            Call(
                _l("The same as a workbook"),
                "GET",
                "/api/v1/reports/flows.xlsx?by=priority_area&by=year&measure=disbursement",
            ),
        ],
    ),
    (
        _l("Administrator"),
        [
            Call(_l("Changes to accounts, newest first"), "GET", "/api/v1/audit-events?entity_type=user"),
            Call(_l("Every import and its status"), "GET", "/api/v1/imports"),
        ],
    ),
]


@bp.get("/api/v1/docs")
def reference():
    """The interactive reference of the API, with its main calls."""
    return render_template("api_docs/page.html", spec_url=url_for("api-docs.openapi_json"), main_calls=MAIN_CALLS)


def image_name(number: int, mime: str) -> str:
    return f"image-{number}.{_SUFFIX.get(mime, 'bin')}"


# The script's one image (the "loading" animation) is a data: address in a string.
_DATA_STRING = re.compile(r'"data:(?P<mime>image/[\w.+-]+);base64,(?P<body>[A-Za-z0-9+/=]+)"')
_HERE = "\ue000"  # stands for the assets' address in the cached script until a request fills it


@dataclass(frozen=True)
class Assets:
    style: str
    script: str
    images: dict[str, tuple[str, bytes]]


@cache
def assets() -> Assets:
    """Swagger UI's style sheet and script with each ``data:`` image swapped for the address of
    a file served beside them."""
    images: dict[str, tuple[str, bytes]] = {}

    def keep(mime: str, data: bytes) -> str:
        name = image_name(len(images), mime)
        images[name] = (mime, data)
        return name

    def in_style(match: re.Match) -> str:
        body = match["body"]
        if match["b64"]:
            data = base64.b64decode(body)
        else:
            data = unquote(body.replace('\\"', '"').replace("\\'", "'")).encode()
        return f'url("{keep(match["mime"], data)}")'

    def in_script(match: re.Match) -> str:
        return f'"{_HERE}{keep(match["mime"], base64.b64decode(match["body"]))}"'

    folder = swagger_ui_dir()
    style = _DATA_URL.sub(in_style, (folder / STYLE).read_text(encoding="utf-8"))
    script = _DATA_STRING.sub(in_script, (folder / SCRIPT).read_text(encoding="utf-8"))
    unmapped = re.compile(r"[/][/*]# sourceMappingURL=\S*")
    return Assets(unmapped.sub("", style), unmapped.sub("", script), images)


@bp.get("/api/v1/docs/assets/<name>")
def asset(name: str) -> Response:
    """Swagger UI's script, its style sheet, and the images they show."""
    found = assets()
    if name == SCRIPT:
        here = url_for("api_reference.asset", name="x").removesuffix("x")
        response = Response(found.script.replace(_HERE, here), mimetype="text/javascript")
    elif name == STYLE:
        response = Response(found.style, mimetype="text/css")
    elif name in found.images:
        mime, data = found.images[name]
        response = Response(data, mimetype=mime)
    else:
        abort(404)
    response.cache_control.public = True
    response.cache_control.max_age = ASSET_AGE
    response.add_etag()
    return response.make_conditional(request)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
