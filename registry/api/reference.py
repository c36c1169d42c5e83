"""Read-only reference data: countries, priority areas, recipient categories."""

from __future__ import annotations

import datetime as dt

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE
from sqlalchemy import select

from registry.extensions import db
from registry.models import Country, PriorityArea, RecipientCategory
from registry.schemas.reference import (
    AsOfQuery,
    CountryOut,
    CountryQuery,
    PriorityAreaOut,
    RecipientCategoryOut,
)
from registry.services import reference

blp = Blueprint("reference", __name__, url_prefix="/api/v1", description="Reference data")


def _country_out(country: Country, day: dt.date) -> dict:
    return {
        "iso3": country.iso3,
        "iso2": country.iso2,
        "numeric": country.numeric,
        "name": country.name,
        "name_fr": country.name_fr,
        "region": country.region,
        "subregion": country.subregion,
        "intermediate": country.intermediate,
        "dac_recipient": country.dac_recipient,
        "income_group": country.income_group,
        "categories": country.categories_on(day),
        "as_of": day,
    }


@blp.route("/countries")
class Countries(MethodView):
    @blp.arguments(CountryQuery, location="query", unknown=RAISE)
    @blp.response(200, CountryOut(many=True))
    def get(self, args):
        """Every country and territory, with its categories on ``as_of`` (default today)."""
        day = args["as_of"] or dt.date.today()
        stmt = select(Country).order_by(Country.iso3)
        if args["region"]:
            codes = reference.region_and_descendants(args["region"])
            stmt = stmt.where(
                Country.region_code.in_(codes)
                | Country.subregion_code.in_(codes)
                | Country.intermediate_code.in_(codes)
            )
        if args["dac_recipient"] is not None:
            stmt = stmt.where(Country.dac_recipient.is_(args["dac_recipient"]))
        if args["category"]:
            stmt = stmt.where(Country.iso3.in_(reference.members_on(args["category"].upper(), day)))
        return [_country_out(c, day) for c in db.session.scalars(stmt)]


@blp.route("/countries/<string:iso3>")
class CountryDetail(MethodView):
    @blp.arguments(AsOfQuery, location="query", unknown=RAISE)
    @blp.response(200, CountryOut)
    def get(self, args, iso3: str):
        """One country by ISO 3166 alpha-3 code; categories in force on ``as_of``."""
        day = args["as_of"] or dt.date.today()
        return _country_out(reference.get_country(iso3), day)


@blp.route("/priority-areas")
class PriorityAreas(MethodView):
    @blp.response(200, PriorityAreaOut(many=True))
    def get(self):
        """The Tunis Agenda paragraph 23 priority areas, 23a-23l."""
        return db.session.scalars(select(PriorityArea).order_by(PriorityArea.code)).all()


@blp.route("/recipient-categories")
class RecipientCategories(MethodView):
    @blp.arguments(AsOfQuery, location="query", unknown=RAISE)
    @blp.response(200, RecipientCategoryOut(many=True))
    def get(self, args):
        """LDC, LLDC, SIDS, HIPC, EIT, FCS, OCC with their members on ``as_of``."""
        day = args["as_of"] or dt.date.today()
        return [
            {
                "code": c.code,
                "name": c.name,
                "description": c.description,
                "source": c.source,
                "members": reference.members_on(c.code, day),
                "as_of": day,
            }
            for c in db.session.scalars(select(RecipientCategory).order_by(RecipientCategory.code))
        ]
