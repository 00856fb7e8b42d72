"""Honours published on application, over HTTP: apply, review, restore, the public list, the certificates.

    POST /honours/applications                 an enterprise applies (multipart: title, awardedBy,
                                               recognisedOn, statement=true, file parts: the certificate)
    GET  /honours/applications                 the enterprise's own; a department's to review; staff: all
    POST /honours/applications/{id}/review     the awarding department: {"approve": true|false, "note"}
    POST /honours/applications/{id}/restore    the awarding department, after a withdrawal: {"note"}
    GET  /honours/applications/{id}/files/{n}  a certificate, for the applicant, the department, staff
    GET  /honours                              published honours, for anyone (?creditCode=)

Withdrawal on dishonesty is automatic (``loaders/honours.py``, after each resolve run).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from entgraph.api.auth import Principal, Role
from entgraph.api.channel_routes import ChannelRoutes
from entgraph.api.client_errors import BadInput, Forbidden, NotFound
from entgraph.graph import honour_queries
from entgraph.loaders.honours import MAX_FILES, HonourRefused, Honours, full_view, public_view

TAG = "honours"


def _deciding_scope(principal: Principal) -> str | None:
    """The department that decides (its scope); None for an admin; others may not."""
    if principal.role is Role.DEPARTMENT:
        return principal.scope
    if principal.role is Role.ADMIN:
        return None
    raise Forbidden("honours are reviewed by the awarding department", requiredRole="department")


def _may_see(principal: Principal, application: dict[str, Any]) -> bool:
    if principal.role is Role.ENTERPRISE:
        return application["credit_code"] == principal.scope
    if principal.role is Role.DEPARTMENT:
        return application["awarded_by"] == principal.scope
    return principal.role.covers(Role.ANALYST)


def register_honours(app: FastAPI, routes: ChannelRoutes) -> None:
    principal_of, store = routes.principal, routes.store

    def honours() -> Honours:
        home = routes.settings.home
        return routes.once("honours", lambda: Honours(routes.store(), routes.catalog(), home / "honours"))

    @app.post("/honours/applications", status_code=201, tags=[TAG], summary="Apply to publish an honour")
    async def apply(request: Request) -> JSONResponse:
        principal = principal_of(request)
        if principal.role is not Role.ENTERPRISE or not principal.scope:
            raise Forbidden("an enterprise applies for its own honours", requiredRole="enterprise")
        form = await request.form(max_files=MAX_FILES + 1, max_fields=10)
        try:
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            files = [(p.filename or "", p.file) for p in form.getlist("file") if isinstance(p, UploadFile)]
            applied = await run_in_threadpool(
                honours().apply,
                principal.scope,
                title=fields.get("title", ""),
                awarded_by=fields.get("awardedBy", ""),
                recognised_on=fields.get("recognisedOn") or None,
                statement=fields.get("statement", "").lower() in ("true", "1", "on", "yes"),
                files=files,
                by=principal.subject or principal.scope,
            )
        except HonourRefused as exc:
            raise BadInput(str(exc)) from None
        finally:
            await form.close()
        return JSONResponse(full_view(applied), status_code=201)

    @app.get("/honours/applications", tags=[TAG], summary="Applications the caller may see")
    def listed(request: Request, status: str | None = None) -> dict[str, Any]:
        principal = principal_of(request)
        statuses = [status] if status else None
        if principal.role is Role.ENTERPRISE:
            rows = honour_queries.applications(store(), credit_code=principal.scope, statuses=statuses)
        elif principal.role is Role.DEPARTMENT:
            rows = honour_queries.applications(store(), awarded_by=principal.scope, statuses=statuses)
        elif principal.role.covers(Role.ANALYST):
            rows = honour_queries.applications(store(), statuses=statuses)
        else:
            raise Forbidden("applications are for the applicant, the awarding department and staff")
        return {"applications": [full_view(row) for row in rows]}

    _register_decisions(app, honours, principal_of)

    @app.get("/honours/applications/{application_id}/files/{number}", tags=[TAG], summary="A certificate")
    def certificate(application_id: str, number: int, request: Request) -> FileResponse:
        principal = principal_of(request)
        found = honour_queries.application(store(), application_id[:100])
        if found is None or not _may_see(principal, found):
            raise NotFound(f"no honour application {application_id[:100]}")
        files = json.loads(found.get("files") or "[]")
        if not 1 <= number <= len(files):
            raise NotFound(f"application {application_id} has no file {number}")
        kept = files[number - 1]
        return FileResponse(Path(kept["path"]), filename=kept["name"])

    @app.get("/honours", tags=[TAG], summary="Published honours (anyone)")
    def published(request: Request, creditCode: str | None = None) -> dict[str, Any]:  # noqa: N803 - the API's case
        principal_of(request)
        rows = honour_queries.applications(store(), credit_code=creditCode, statuses=["published"])
        return {"honours": [public_view(row) for row in rows]}


def _register_decisions(
    app: FastAPI, honours: Callable[[], Honours], principal_of: Callable[[Request], Principal]
) -> None:
    """The awarding department's decisions: review (publish or reject) and restore."""

    async def decision(request: Request) -> tuple[Principal, str | None, dict[str, Any]]:
        principal = principal_of(request)
        scope = _deciding_scope(principal)
        body = await request.json() if await request.body() else {}
        if not isinstance(body, dict):
            raise BadInput('send {"approve": true, "note": "..."}')
        return principal, scope, body

    async def decided(act: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return full_view(await run_in_threadpool(act))
        except HonourRefused as exc:  # another department's application answers as a missing one
            raise (NotFound if "no honour application" in str(exc) else BadInput)(str(exc)) from None

    @app.post("/honours/applications/{application_id}/review", tags=[TAG], summary="Publish or reject")
    async def review(application_id: str, request: Request) -> dict[str, Any]:
        principal, scope, body = await decision(request)
        return await decided(
            lambda: honours().review(
                application_id,
                scope=scope,
                approve=bool(body.get("approve")),
                note=str(body.get("note") or ""),
                by=principal.subject or "admin",
            )
        )

    @app.post(
        "/honours/applications/{application_id}/restore", tags=[TAG], summary="Show a withdrawn honour again"
    )
    async def restore(application_id: str, request: Request) -> dict[str, Any]:
        principal, scope, body = await decision(request)
        return await decided(
            lambda: honours().restore(
                application_id, scope=scope, note=str(body.get("note") or ""), by=principal.subject or "admin"
            )
        )
