"""Enterprise direct reports over HTTP (企业直报): the forms, drafts, submissions, history and reminders.

    GET  /direct/forms               the reporter's forms: fields, the period to report and its deadline,
                                     its draft and its latest submitted version
    PUT  /direct/{dataset}/draft     save a draft {period, values}
    POST /direct/{dataset}           submit {period, values}: 202 with the version, or 400 with the issues
    GET  /direct/history             every version the enterprise submitted
    GET  /direct/reminders           staff: who reported the period before and not the last (?format=xlsx)

The reporter is an ``enterprise`` principal (its scope: its credit code); an admin may act for one with
``?enterprise=<credit code>``. Submissions are loaded by ``entgraph worker`` like any upload.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from entgraph.api.auth import Principal, Role
from entgraph.api.channel_routes import ChannelRoutes
from entgraph.api.client_errors import BadInput, Forbidden
from entgraph.catalog.timeliness import previous_period
from entgraph.graph import direct_report_queries
from entgraph.loaders.direct_reports import DirectReports, ReportRefused, direct_specs, form
from entgraph.loaders.intake import SubmissionRefused

TAG = "direct reports"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The town of a reporter the graph does not know yet (its first reports came after the last resolve).
UNPLACED = "未定镇街"


def _reporter(principal: Principal, enterprise: str | None) -> str:
    if principal.role is Role.ENTERPRISE and principal.scope:
        return principal.scope
    if principal.role is Role.ADMIN and enterprise:
        return enterprise
    raise Forbidden(
        "direct reports are made by the enterprise itself (the enterprise role)", requiredRole="enterprise"
    )


def _body(payload: Any) -> tuple[str | None, dict[str, Any]]:
    if not isinstance(payload, dict) or not isinstance(payload.get("values", {}), dict):
        raise BadInput('send {"period": "2026-11", "values": {"工业总产值": "1200", ...}}')
    period = payload.get("period")
    if period is not None and not isinstance(period, str):
        raise BadInput("'period' is text, e.g. 2026-11")
    return period, payload.get("values") or {}


def register_direct_reports(app: FastAPI, routes: ChannelRoutes) -> None:
    principal_of, store, catalog = routes.principal, routes.store, routes.catalog

    def reports() -> DirectReports:
        return routes.once("direct-reports", lambda: DirectReports(routes.inbox()))

    @app.get("/direct/forms", tags=[TAG], summary="The reporter's forms, drafts and latest versions")
    def forms(request: Request, enterprise: str | None = None) -> dict[str, Any]:
        code = _reporter(principal_of(request), enterprise)
        history = reports().history(code)
        out = []
        for spec in direct_specs(catalog()):
            shown = dataclasses.asdict(form(spec))
            draft = reports().draft(code, spec.key, shown["period"])
            latest = next(
                (h for h in history if h["dataset"] == spec.key and h["period"] == (shown["period"] or "")),
                None,
            )
            out.append(shown | {"draft": draft and draft["values"], "latest": latest})
        return {"enterprise": code, "forms": out}

    @app.put("/direct/{dataset}/draft", tags=[TAG], summary="Save a draft")
    async def save_draft(dataset: str, request: Request, enterprise: str | None = None) -> dict[str, Any]:
        principal = principal_of(request)
        code = _reporter(principal, enterprise)
        period, values = _body(await request.json())
        try:
            return await run_in_threadpool(
                reports().save_draft, code, dataset, period, values, principal.subject or code
            )
        except SubmissionRefused as exc:
            raise BadInput(str(exc)) from None

    @app.post("/direct/{dataset}", status_code=202, tags=[TAG], summary="Submit a report")
    async def submit(dataset: str, request: Request, enterprise: str | None = None) -> JSONResponse:
        principal = principal_of(request)
        code = _reporter(principal, enterprise)
        period, values = _body(await request.json())
        try:
            version = await run_in_threadpool(
                reports().submit, code, dataset, period, values, principal.subject or code
            )
        except ReportRefused as exc:
            issues = [
                {"field": i.column, "value": i.value, "reasonZh": i.reason_zh, "reasonEn": i.reason_en}
                for i in exc.issues
            ]
            raise BadInput(str(exc), issues=issues) from None
        except SubmissionRefused as exc:
            raise BadInput(str(exc)) from None
        return JSONResponse(version, status_code=202)

    @app.get("/direct/history", tags=[TAG], summary="Every version the enterprise submitted")
    def history(
        request: Request, dataset: str | None = None, enterprise: str | None = None
    ) -> dict[str, Any]:
        code = _reporter(principal_of(request), enterprise)
        return {"enterprise": code, "versions": reports().history(code, dataset)}

    @app.get("/direct/reminders", tags=[TAG], summary="Who reported the period before and not the last")
    def reminders(
        request: Request,
        dataset: str,
        period: str | None = None,
        town: str | None = None,
        format: str = Query("json", pattern="^(json|xlsx)$"),
    ) -> Any:
        if not principal_of(request).role.covers(Role.ANALYST):
            raise Forbidden("reminder lists are for staff", requiredRole="analyst")
        try:
            spec = reports().spec(dataset)
        except SubmissionRefused as exc:
            raise BadInput(str(exc)) from None
        period = period or form(spec).period
        if period is None:
            raise BadInput(f"{spec.title} is reported on change: it has no period to remind of")
        rows = direct_report_queries.not_reported(
            store(), spec.key, period, previous_period(period, spec.frequency)
        )
        # an enterprise the graph does not know yet has no town: listed under UNPLACED, selectable by it
        rows = [r for r in rows if town is None or (r.get("town") or UNPLACED) == town]
        if format == "xlsx":
            return Response(_xlsx(spec.title, period, rows), media_type=XLSX, headers={
                "Content-Disposition": f"attachment; filename*=utf-8''{spec.key}-{period}-reminders.xlsx"
            })  # fmt: skip
        return {"dataset": spec.key, "period": period, "enterprises": rows}


def _xlsx(title: str, period: str, rows: list[dict[str, Any]]) -> bytes:
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("未报送")
    sheet.write_row(0, 0, [f"{title} {period} 未报送企业"])
    sheet.write_row(1, 0, ["镇街", "统一社会信用代码", "企业名称", "企业编号"])
    for n, row in enumerate(rows, 2):
        sheet.write_row(
            n,
            0,
            [
                row.get("town") or UNPLACED,
                row["credit_code"],
                row.get("name") or "",
                row.get("enterprise") or "",
            ],
        )
    book.close()
    return out.getvalue()
