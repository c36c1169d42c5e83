"""Security headers on every response: pages, API, static files and errors.

Set in one ``after_request`` hook so nothing can be served without them. The
Content-Security-Policy lets scripts and styles come only from the app's own files: no
inline ``<script>`` or ``<style>`` block, no ``on*=`` handler and no ``style=`` attribute is
allowed. Bars whose length comes from the data (the home page's amounts, the finder's
coverage, a job's progress) are SVG rects with a ``width`` attribute, and the charts are
sized by the style sheet.
Strict-Transport-Security is sent only when REGISTRY_ENV=production, where the app is
behind https; sent from a development server over http it would pin the browser to
https for the host.
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# One year, the subdomains too: the value browsers' preload lists ask for.
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


def security_headers(production: bool) -> dict[str, str]:
    """The headers every response carries in this environment."""
    headers = dict(HEADERS)
    if production:
        headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
    return headers


def init_app(app: Flask) -> None:
    headers = security_headers(app.config.get("REGISTRY_ENV") == "production")

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response
