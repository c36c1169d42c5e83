"""The reports page's Forward view: what is planned for the next three years by country, region
or priority area (following the page's "Rows by" where it is one of those), as a table and a
chart, and the predictability measures in a small table; every figure from ``reports.forward``,
the same as the API, the CSV and the workbook."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import urlencode

from babel.numbers import format_percent
from flask import url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select

from registry import i18n
from registry.extensions import db
from registry.models import Country, PriorityArea, Region
from registry.reference_names import area_name, country_name, region_name
from reports import charts
from reports.forward import UNALLOCATED, forward_spending, predictability
from reports.spec import ReportSpec

# The page's "Rows by" -> the forward view's dimension; any other rows: by region.
ROWS_BY = {"country": "country", "region": "region", "priority_area": "area"}
DEFAULT_DIMENSION = "region"
MOST_BARS = 20  # the chart shows the largest and sums the rest in one bar
PAST_YEARS = 3  # predictability of this year and the two before, unless the page gives years
MOST_YEARS = 12  # at most this many years in the predictability table


def dimension_for(spec: ReportSpec) -> str:
    """The forward view's rows: the page's "Rows by" when it is a country, region or area."""
    return ROWS_BY.get(spec.dimensions[0], DEFAULT_DIMENSION)


def _labels(dimension: str) -> dict[str, str]:
    """Key -> its name in the reader's language (countries, regions, priority areas)."""
    if dimension == "area":
        return {
            code: area_name(code, name)
            for code, name in db.session.execute(select(PriorityArea.code, PriorityArea.short_name))
        }
    regions = {code: region_name(code, name) for code, name in db.session.execute(select(Region.code, Region.name))}
    if dimension == "region":
        return regions
    labels = {iso3: country_name(iso3, name) for iso3, name in db.session.execute(select(Country.iso3, Country.name))}
    for code, name in regions.items():
        labels[f"region:{code}"] = _("%(region)s (region)", region=name)
    return labels


def _label(labels: dict[str, str], key: str) -> str:
    if key == UNALLOCATED:
        return _("Unallocated")
    return labels.get(key, key)


def ratio_text(value: str | None) -> str:
    """A ratio (0.9500) as the reader's locale writes a percentage (95.0 %); – when empty."""
    if value is None:
        return "–"
    return format_percent(Decimal(value), format="#,##0.0 %", locale=get_locale(), decimal_quantization=True)


def _notes(conversion: dict, currency: str) -> list[str]:
    """What the figures leave out or convert at an older rate, in the reader's language."""
    out = []
    stale = conversion.get("stale_rates", 0)
    if stale:
        out.append(
            ngettext(
                "%(num)d amount dated beyond the published rates is converted at the last rate known.",
                "%(num)d amounts dated beyond the published rates are converted at the last rate known.",
                stale,
            )
        )
    for code, amount in conversion.get("unconverted", {}).items():
        out.append(
            _(
                "%(amount)s that no rate converts to %(currency)s is left out of the figures.",
                amount=i18n.money(Decimal(amount), code),
                currency=currency,
            )
        )
    return out


def _chart(rows: list[dict], years: list[int], currency: str, dimension_label: str) -> str:
    """The next three years' plans by row as stacked bars: the largest rows, the rest in one bar."""
    items = [(row["label"], row["values"]) for row in rows]
    if len(items) > MOST_BARS:
        items.sort(key=lambda item: -sum(item[1], Decimal(0)))
        rest = items[MOST_BARS - 1 :]
        summed = [sum((values[k] for _name, values in rest), Decimal(0)) for k in range(len(years))]
        count = len(rest)
        items = [*items[: MOST_BARS - 1], (ngettext("%(num)d other", "%(num)d others", count), summed)]
    title = _(
        "Planned disbursements %(first)s–%(last)s by %(dimension)s",
        first=years[0],
        last=years[-1],
        dimension=dimension_label,
    )
    desc = _(
        "Stacked bars: for each %(dimension)s, what is planned to be disbursed in each of the years "
        "%(first)s to %(last)s, in %(currency)s, with the three years' total at the end of the bar.",
        dimension=dimension_label,
        first=years[0],
        last=years[-1],
        currency=currency,
    )
    return charts.stacked_bars(
        items,
        [str(y) for y in years],
        title,
        currency,
        desc=desc,
        empty=_("No planned disbursement for these years."),
    )


def forward_section(spec: ReportSpec, today: dt.date | None = None) -> dict:
    """Everything the page's Forward view shows, for the page's rows and currency."""
    today = today or dt.date.today()
    dimension = dimension_for(spec)
    dimension_label = {"country": _("country"), "region": _("region"), "area": _("priority area")}[dimension]
    currency = spec.currency
    spending = forward_spending(dimension, currency, start_year=today.year + 1)
    years = spending["years"]
    labels = _labels(dimension)
    rows = [
        {
            "key": row["key"],
            "label": _label(labels, row["key"]),
            "values": [Decimal(row[str(y)]) for y in years],
            "total": Decimal(row["total"]),
        }
        for row in spending["rows"]
    ]
    total = {
        "values": [Decimal(spending["total"][str(y)]) for y in years],
        "total": Decimal(spending["total"]["total"]),
    }
    if spec.year_from and spec.year_to and 0 <= spec.year_to - spec.year_from < MOST_YEARS:
        past = list(range(spec.year_from, spec.year_to + 1))
    else:
        past = list(range(today.year - PAST_YEARS + 1, today.year + 1))
    measures = predictability(currency, years=past)
    lag = measures["total"]["disbursement_lag_days"]
    return {
        "dimension": dimension,
        "dimension_label": dimension_label,
        "currency": currency,
        "years": years,
        "rows": rows,
        "total": total,
        "chart": _chart(rows, years, currency, dimension_label),
        "predictability": [
            {
                "year": y["year"],
                "planned": Decimal(y["planned"]),
                "disbursed": Decimal(y["disbursed"]),
                "ratio": ratio_text(y["in_year_predictability"]),
            }
            for y in measures["total"]["years"]
        ],
        "absorption": ratio_text(measures["total"]["absorption"]),
        "committed": Decimal(measures["total"]["committed"]),
        "disbursed": Decimal(measures["total"]["disbursed"]),
        "lag": None if lag is None else i18n.number(Decimal(lag)),
        "projects_with_lag": measures["total"]["projects_with_lag"],
        "notes": list(
            dict.fromkeys(_notes(spending["conversion"], currency) + _notes(measures["conversion"], currency))
        ),
        "csv": url_for("reports.ForwardSpendingCsv") + "?" + urlencode({"by": dimension, "currency": currency}),
        "json": url_for("reports.ForwardSpending") + "?" + urlencode({"by": dimension, "currency": currency}),
        "predictability_json": url_for("reports.Predictability")
        + "?"
        + urlencode({"currency": currency, "year_from": past[0], "year_to": past[-1]}),
    }
