"""The guides under /help: one per kind of user (donor officer, ministry official, analyst,
administrator), each walking through that user's main journeys.

The guides' text is in the catalogue like every page's. Their pictures are screenshots of the
demo registry, taken by a browser test (``tests/browser/test_help_guides.py``) that opens the
pages below as each role and writes the files under ``static/help/``; run it again after a
page changes and the guides show the page as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, abort, render_template, url_for
from flask_babel import lazy_gettext as _l

bp = Blueprint("help", __name__, url_prefix="/help")
SCREENSHOT_DIR = "help"  # under the web pages' static folder


@dataclass(frozen=True)
class Screenshot:
    """One picture of a guide: its file, the page it shows, what it shows (its alt text)."""

    name: str
    path: str
    alt: str
    top: str | None = None  # the element at the top of the picture, if not the page's top

    @property
    def filename(self) -> str:
        return f"{SCREENSHOT_DIR}/{self.name}.png"

    @property
    def url(self) -> str:
        return url_for("web.static", filename=self.filename)


@dataclass(frozen=True)
class Guide:
    slug: str
    title: str
    summary: str
    role: str  # the demo account the screenshots are taken as
    screenshots: tuple[Screenshot, ...]

    def shot(self, name: str) -> Screenshot:
        return next(s for s in self.screenshots if s.name == name)


GUIDES = (
    Guide(
        "donor",
        _l("Donor officer"),
        _l("Register your organisation's projects, record their money flows, import a file, and undo."),
        "donor",
        (
            Screenshot("donor-project-form", "/projects/new", _l("The form that registers a project")),
            Screenshot("donor-import", "/imports/", _l("The import page, with the template to download")),
            Screenshot("donor-deleted", "/deleted", _l("The deleted projects of your organisation, to restore")),
        ),
    ),
    Guide(
        "ministry",
        _l("Ministry official"),
        _l("Post your country's pipeline projects, find funding sources, and read the finder's score."),
        "government",
        (
            Screenshot("ministry-pipeline-form", "/pipeline/new", _l("The form that posts a pipeline project")),
            Screenshot(
                "ministry-find-funding",
                "/find-funding?country=NPL&priority_area=23b&instrument=grant&amount=2500000&currency=USD",
                _l("Funding sources ranked for a need in Nepal, each with its score and reasons"),
                top="#ranked-heading",
            ),
        ),
    ),
    Guide(
        "analyst",
        _l("Analyst"),
        _l("Read the reports, find the funding gaps, and export tables and workbooks."),
        "analyst",
        (
            Screenshot("analyst-reports", "/reports/", _l("The reports page: filters, the table by region and charts")),
            Screenshot(
                "analyst-funding-gap",
                "/reports/?by=country&region=002",
                _l("Need, commitments and funding gap by country in Africa"),
            ),
        ),
    ),
    Guide(
        "admin",
        _l("Administrator"),
        _l("Manage users and API tokens, read the audit trail, reload reference data, and keep backups."),
        "admin",
        (
            Screenshot("admin-users", "/admin/users", _l("The users page, filtered by role, organisation and status")),
            Screenshot("admin-audit", "/admin/audit", _l("The audit trail, with the values before and after")),
            Screenshot("admin-reference", "/admin/reference", _l("Reference data and the button that reloads it")),
        ),
    ),
)
BY_SLUG = {guide.slug: guide for guide in GUIDES}


@bp.get("/")
def index():
    """The four guides, one per kind of user."""
    return render_template("help/index.html", guides=GUIDES)


@bp.get("/<slug>")
def guide(slug: str):
    """One user's guide to their main journeys."""
    found = BY_SLUG.get(slug)
    if found is None:
        abort(404)
    from registry.services import matching
    from registry.services.matching.evidence import BONUS_AREA, BONUS_COUNTRY, BONUS_REGION

    # The finder's weights as the finder uses them, never typed in the guide.
    score = {
        **matching.WEIGHTS,
        "country": BONUS_COUNTRY,
        "region": BONUS_REGION,
        "area_evidence": BONUS_AREA,
        "country_or_region": max(BONUS_COUNTRY, BONUS_REGION),
        "max": matching.MAX_SCORE,
    }
    return render_template(f"help/{slug}.html", guide=found, guides=GUIDES, score=score)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
