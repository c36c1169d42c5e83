"""Server-rendered pages (no CDN: every asset is served from registry/web/static)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask import Flask, g
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from markupsafe import Markup

from registry.i18n import compact_money, money, number, sorted_by_name
from registry.models.scope import INFRASTRUCTURE_KINDS, INFRASTRUCTURE_LABELS, SCOPE_LABELS, SCOPES
from registry.models.types import Role, label
from registry.money import from_minor
from registry.reference_names import country_name, region_name

# (endpoint, label): links appear in the navigation once their page is registered.
NAV = [
    ("web.home", _l("Overview")),
    ("web.projects", _l("Projects")),
    ("web.funding_sources", _l("Funding sources")),
    ("web.organisations", _l("Organisations")),
    ("finder.find_funding", _l("Find funding")),
    ("finder.pipeline", lazy_pgettext("navigation", "Pipeline")),  # the list, not the status
    ("reports_web.index", _l("Reports")),
    ("imports_web.index", _l("Import")),
]


def percent(value: Decimal | None) -> str:
    """A share as '33.3333 %' without trailing zeros."""
    return "–" if value is None else f"{Decimal(value).normalize():f} %"


def share_percent(value: Decimal | None) -> str:
    """A share of the whole, to the 4 decimals a share is shown with ('83.3333 %')."""
    return "–" if value is None else percent(Decimal(value).quantize(Decimal("0.0001")))


def rate(value: Decimal | str | None) -> str:
    """An exchange rate to 6 significant digits for reading (9.82635159327 -> 9.82635); the
    exact rate used stays in the data, the API and every export."""
    if value is None:
        return "–"
    exact = Decimal(value)
    if not exact:
        return "0"
    shown = round(exact, 5 - exact.adjusted())
    return f"{shown.normalize():f}" if shown == shown.to_integral() else f"{shown:f}".rstrip("0").rstrip(".")


def minor_money(minor: int | None, currency: str, with_code: bool = True) -> str:
    """Integer minor units shown as an amount of the currency (its code after it unless told not to)."""
    if minor is None:
        return "–"
    text = money(from_minor(minor, currency), currency)
    return text if with_code else text.removesuffix(f" {currency}")


def audit_value(value: Any) -> str:
    """An audit snapshot value in words: shares as 'KEN 60 %', amounts with currency."""
    if value in (None, "", [], {}):
        return "–"
    if isinstance(value, list):
        return ", ".join(audit_value(v) for v in value)
    if isinstance(value, dict):
        if "amount" in value and "currency" in value:
            return f"{audit_value(value['amount'])} {value['currency']}"
        name = value.get("country") or value.get("region") or value.get("code")
        if name and "share" in value:
            return f"{name} {value['share']} %"
        return "; ".join(f"{k} {audit_value(v)}" for k, v in value.items())
    if isinstance(value, str) and _AMOUNT_TEXT.match(value):
        amount = Decimal(value)  # as elsewhere on the page, to the places given: 1,250,000.00
        return number(amount, -amount.as_tuple().exponent)
    return label(value) if isinstance(value, str) and value.islower() and "_" in value else str(value)


_AMOUNT_TEXT = re.compile(r"^-?\d+\.\d+$")


def source_range(source, compact: bool = False) -> Markup:
    """'USD 50,000.00 – 2,000,000.00' for a funding source's amount per project; ``compact``
    abbreviates the amounts for a list ('USD 50,000 – 2 m'), the exact figures on hover."""
    low, high = source.min_amount_minor, source.max_amount_minor
    if low is None and high is None:
        return Markup("–")
    cur = source.amount_currency

    def text(minor: int) -> str | Markup:
        amount = from_minor(minor, cur)
        return compact_money(amount) if compact else money(amount, cur).removesuffix(f" {cur}")

    # The message is ours; the amounts are escaped unless they are the compact figure's markup.
    if low is not None and high is not None:
        return Markup(_("%(currency)s %(low)s – %(high)s")) % {"currency": cur, "low": text(low), "high": text(high)}
    if low is not None:
        return Markup(_("%(currency)s from %(amount)s")) % {"currency": cur, "amount": text(low)}
    return Markup(_("%(currency)s up to %(amount)s")) % {"currency": cur, "amount": text(high)}


def window(source) -> str:
    """When a funding source takes applications."""
    if not source.window_from and not source.window_until:
        return _("Open")
    start = source.window_from.isoformat() if source.window_from else "…"
    end = source.window_until.isoformat() if source.window_until else "…"
    return _("%(start)s to %(end)s", start=start, end=end)


def country_label(country) -> str:
    """A country's name in the reader's language (registry.reference_names.country_name)."""
    return "" if country is None else country_name(country)


def region_label(code: str) -> str:
    """An M49 region's name in the reader's language with its code: Southern Asia (034)."""
    from registry.extensions import db
    from registry.models import Region

    region = db.session.get(Region, code)
    return f"{region_name(code, region.name)} ({code})" if region else code


def scope_label(code: str | None) -> str:
    """A project scope in the reader's language (National, Multi-country...)."""
    return _(SCOPE_LABELS[code]) if code in SCOPE_LABELS else (code or "")


def infrastructure_label(code: str | None) -> str:
    """An infrastructure kind in the reader's language."""
    return _(INFRASTRUCTURE_LABELS[code]) if code in INFRASTRUCTURE_LABELS else (code or "")


def scope_choices() -> list[tuple[str, str]]:
    """(code, label) of the scopes, in their order."""
    return [(code, scope_label(code)) for code in SCOPES]


def infrastructure_choices() -> list[tuple[str, str]]:
    """(code, label) of the infrastructure kinds, in their order."""
    return [(code, infrastructure_label(code)) for code in INFRASTRUCTURE_KINDS]


def by_name(items, name=lambda item: item):
    """Items sorted by their name as readers expect (collation: Côte d'Ivoire beside Costa Rica)."""
    return sorted_by_name(items, name)


def org_name(org_id: int) -> str:
    """An organisation's name for the history list."""
    from registry.extensions import db
    from registry.models import Organisation

    # a deleted organisation keeps its name in the history of what it did
    org = db.session.get(Organisation, org_id, execution_options={"include_deleted": True})
    return org.name if org else _("organisation %(id)s", id=org_id)


def init_app(app: Flask) -> None:
    from registry.web import auth, catalogue, codelists, input_guard, plans, projects, views  # noqa: F401  (routes attach to views.bp)

    input_guard.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(auth.bp)
    from registry.web import admin, alerts, api_docs, deleted, finder, tokens
    from registry.web import help as help_guides

    app.register_blueprint(finder.bp)
    app.register_blueprint(tokens.bp)
    app.register_blueprint(deleted.bp)
    app.register_blueprint(alerts.bp)
    admin.init_app(app)
    api_docs.init_app(app)
    help_guides.init_app(app)
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["percent"] = percent
    app.jinja_env.filters["share_percent"] = share_percent
    app.jinja_env.filters["minor_money"] = minor_money
    app.jinja_env.filters["rate"] = rate
    app.jinja_env.filters["audit_value"] = audit_value
    app.jinja_env.filters["country_label"] = country_label
    app.jinja_env.filters["by_name"] = by_name
    app.jinja_env.filters["scope_label"] = scope_label
    app.jinja_env.filters["infrastructure_label"] = infrastructure_label
    app.jinja_env.globals["source_range"] = source_range
    app.jinja_env.globals["scope_choices"] = scope_choices
    app.jinja_env.globals["infrastructure_choices"] = infrastructure_choices
    app.jinja_env.globals["window"] = window
    app.jinja_env.globals["org_name"] = org_name
    app.jinja_env.globals["code_name"] = codelists.name
    app.jinja_env.globals["Role"] = Role  # templates compare roles as members, as the code does

    @app.context_processor
    def navigation():
        endpoints = set(app.view_functions)
        user = g.get("user")

        def offered(endpoint: str) -> bool:
            # A page whose view admits only some roles is not offered to a user of another
            # role (a visitor still sees it: following it leads to the login).
            roles = getattr(app.view_functions[endpoint], "allowed_roles", ())
            return not roles or user is None or user.role in roles

        items = [(e, text) for e, text in NAV if e in endpoints and offered(e)]
        if user is not None and user.role is Role.ADMIN:
            items.append(("admin.index", _l("Admin")))  # never offered to a visitor, unlike the pages above
        return {
            "nav_items": items,
            "has_endpoint": lambda name: name in endpoints,
            "current_user": user,
        }
