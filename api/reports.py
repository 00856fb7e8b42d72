"""Upload reports over HTTP: ``GET /reports/{upload id}`` serves the row-error report of an upload.

The loader writes one ``.xlsx`` per upload under ``settings.report_dir`` (summary, issues, and the
refused rows under their original headers, ready to fix and upload again) and stores its path on the
``Upload`` node. ``UploadSummary.errorReport`` links here. A report names files and rows, so it is for
analysts and above, exactly as upload history is; callers authenticate as for ``/graphql`` (the same
:class:`~entgraph.api.auth.Authenticator`, so a bad key or token is a 401 with the API's error body).

The stored path is trusted only inside the report directory: both are resolved (symlinks and ``..``
followed) before comparing, so a tampered or stale ``report_path`` never serves another file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response

from entgraph.api.auth import Authenticator, Role, role_required
from entgraph.api.errors import NotFound
from entgraph.graph import source_writer
from entgraph.graph.port import GraphStore
from entgraph.settings import Settings

REPORT_ROLE = Role.ANALYST
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def report_file(settings: Settings, upload: Mapping[str, Any]) -> Path | None:
    """The upload's report file when it exists inside the report directory, else None."""
    stored = upload.get("report_path")
    if not stored:
        return None
    root = settings.report_dir.resolve()
    path = Path(stored).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def report_url(upload_id: str) -> str:
    """The path ``GET /reports/{upload_id}`` answers at (ids are ``<dataset>:<digest>``)."""
    return "/reports/" + quote(upload_id, safe=":")


def register_reports(
    app: FastAPI, settings: Settings, authenticator: Authenticator, store: Callable[[], GraphStore]
) -> None:
    """Add ``GET /reports/{upload_id}`` to ``app``; ``store`` gives the open graph store per request."""

    # A plain ``def``: FastAPI runs it in its thread pool, off the event loop, as the store is blocking.
    @app.get("/reports/{upload_id}", include_in_schema=False)
    def upload_report(upload_id: str, request: Request) -> Response:
        principal = authenticator.authenticate(request.headers)  # Unauthenticated -> the app's 401
        request.state.principal = principal  # for the access log, as /graphql does
        if not principal.role.covers(REPORT_ROLE):
            raise role_required(REPORT_ROLE)  # -> the app's 403, with the API's error body
        upload = source_writer.upload(store(), upload_id)
        if upload is None:
            raise NotFound(f"no upload {upload_id}")
        path = report_file(settings, upload)
        if path is None:
            raise NotFound(f"upload {upload_id} has no report to download")
        return FileResponse(path, media_type=XLSX, filename=path.name)
