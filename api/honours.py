"""Honours published on application, over HTTP: apply, review, restore, the public list, the certificates.

    POST /honours/applications                 an enterprise applies (multipart: title, awardedBy,
                                               recognisedOn, statement=true, file parts: the certificate)
    GET  /honours/applications                 the enterprise's own; a department's to review; staff: all
    POST /honours/applications/{id}/review     the awarding department: {"approve": true|false, "note"}
    POST /honours/applications/{id}/restore    the awarding department, after a withdrawal: {"note"}
    POST /honours/applications/{id}/change     the enterprise or the department reports a change to a
                                               shown honour: {"note"}; due within 15 working days
    POST /honours/applications/{id}/update     the awarding department: {"title", "recognisedOn", "note"}
    POST /honours/applications/{id}/revoke     the awarding department: {"note"}; no longer shown
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


# A department's decision: (the service, its scope or None for an admin, the JSON body, who) -> the result.
_Act = Callable[[Honours, str | None, dict[str, Any], str], dict[str, Any]]


def _register_decisions(
    app: FastAPI, honours: Callable[[], Honours], principal_of: Callable[[Request], Principal]
) -> None:
    """The awarding department's decisions (review, restore, update, revoke) and a reported change."""

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

    async def department_acts(request: Request, act: _Act) -> dict[str, Any]:
        principal, scope, body = await decision(request)
        return await decided(lambda: act(honours(), scope, body, principal.subject or "admin"))

    def note(body: dict[str, Any]) -> str:
        return str(body.get("note") or "")

    @app.post("/honours/applications/{application_id}/review", tags=[TAG], summary="Publish or reject")
    async def review(application_id: str, request: Request) -> dict[str, Any]:
        return await department_acts(
            request,
            lambda h, scope, body, by: h.review(
                application_id, scope=scope, approve=bool(body.get("approve")), note=note(body), by=by
            ),
        )

    @app.post(
        "/honours/applications/{application_id}/restore", tags=[TAG], summary="Show a withdrawn honour again"
    )
    async def restore(application_id: str, request: Request) -> dict[str, Any]:
        return await department_acts(
            request, lambda h, scope, body, by: h.restore(application_id, scope=scope, note=note(body), by=by)
        )

    @app.post("/honours/applications/{application_id}/change", tags=[TAG], summary="Report a change")
    async def change(application_id: str, request: Request) -> dict[str, Any]:
        principal = principal_of(request)
        code = principal.scope if principal.role is Role.ENTERPRISE else None
        if code is None:
            scope = _deciding_scope(principal)  # the department, or an admin
        elif not code:
            raise Forbidden("an enterprise key without its credit code", requiredRole="enterprise")
        else:
            scope = None
        body = await request.json() if await request.body() else {}
        said = note(body) if isinstance(body, dict) else ""
        return await decided(
            lambda: honours().report_change(
                application_id,
                credit_code=code,
                scope=scope,
                note=said,
                by=principal.subject or code or "admin",
            )
        )

    @app.post("/honours/applications/{application_id}/update", tags=[TAG], summary="Update a shown honour")
    async def update(application_id: str, request: Request) -> dict[str, Any]:
        return await department_acts(
            request,
            lambda h, scope, body, by: h.amend(
                application_id,
                scope=scope,
                title=str(body.get("title") or "") or None,
                recognised_on=str(body.get("recognisedOn") or "") or None,
                note=note(body),
                by=by,
            ),
        )

    @app.post("/honours/applications/{application_id}/revoke", tags=[TAG], summary="Revoke a shown honour")
    async def revoke(application_id: str, request: Request) -> dict[str, Any]:
        return await department_acts(
            request, lambda h, scope, body, by: h.revoke(application_id, scope=scope, note=note(body), by=by)
        )
