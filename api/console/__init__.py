"""The web console: static pages at ``/console/`` that talk to the API only through ``/graphql``.

There is no server-side rendering and no build step: ``static/`` holds plain ES modules, a stylesheet
and the vendored ECharts and Cytoscape.js (``static/vendor/vendored.json`` says which versions). The
console sends the caller's API key or token with each GraphQL request, exactly as any other client
would, so every role check, mask and query limit is the API's own; it doubles as the reference
front end for integrators.

Its responses carry a strict Content-Security-Policy: scripts only from this origin (no inline script,
no eval), connections only to this origin. The console never writes API data into the page as HTML,
so a name in a department file cannot become markup; the policy is the second line of defence.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).parent / "static"
PATH = "/console"

# ECharts and Cytoscape set element styles from script (allowed by 'unsafe-inline' for styles only);
# charts export as data: and blob: images.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class ConsoleFiles(StaticFiles):
    """The console's files, with the security headers, revalidated on every load (an upgrade of the
    server must not leave browsers running yesterday's modules against today's schema)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


def mount_console(app: FastAPI) -> None:
    """Serve the console at ``/console/``, and send ``/`` there."""
    app.mount(PATH, ConsoleFiles(directory=STATIC, html=True), name="console")

    @app.get("/", include_in_schema=False)
    def to_console() -> RedirectResponse:
        return RedirectResponse(f"{PATH}/", status_code=307)


def console_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}{PATH}/"
