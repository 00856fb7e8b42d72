"""Department uploads over HTTP: submit files to the upload queue, follow each job, list one's own.

    POST /uploads            multipart: one or more ``file`` parts, optional ``dataset`` (key or title);
                             202 with the queued jobs. A department (its scope) or an admin.
    GET  /uploads            the caller's jobs, newest first (a department: its own; staff: all)
    GET  /uploads/{job}      one job: status, counts, the refusal's reason, the report's URL
    POST /uploads/{job}/retry  a failed job queued again (admin)

Nothing is loaded inside the request: the file goes to the inbox and a worker (``entgraph worker``)
loads it, exactly as ``entgraph load`` would. The row report is ``GET /reports/{uploadId}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from entgraph.api.auth import Principal, Role
from entgraph.api.channel_routes import ChannelRoutes
from entgraph.api.client_errors import BadInput, Forbidden, NotFound
from entgraph.api.reports import report_url
from entgraph.graph import intake_queries
from entgraph.loaders.intake import SubmissionRefused

MAX_FILES = 20  # per request: a department's monthly batch, not a dump of its archive
MAX_LISTED = 200
_FIELDS = {
    "id": "id",
    "status": "status",
    "dataset": "dataset",
    "file_name": "fileName",
    "bytes": "bytes",
    "submitted_by": "submittedBy",
    "scope": "department",
    "submitted_at": "submittedAt",
    "started_at": "startedAt",
    "finished_at": "finishedAt",
    "attempts": "attempts",
    "rows_read": "rowsRead",
    "new": "new",
    "updated": "updated",
    "unchanged": "unchanged",
    "rejected": "rejected",
    "duplicates": "duplicates",
    "retired": "retired",
    "warnings": "warnings",
    "upload_id": "uploadId",
    "message": "message",
}


def job_json(job: dict[str, Any]) -> dict[str, Any]:
    """A job as the API shows it (camelCase; no server paths, no worker names)."""
    out = {name: job.get(field) for field, name in _FIELDS.items()}
    out["reportUrl"] = report_url(job["upload_id"]) if job.get("upload_id") else None
    return out


def submitter(principal: Principal) -> str | None:
    """The scope a submission is made under: a department's; None for an admin (any dataset)."""
    if principal.role is Role.DEPARTMENT:
        return principal.scope
    if principal.role is Role.ADMIN:
        return None
    raise Forbidden("submitting files needs the department role (or admin)", requiredRole="department")


def reading_scope(principal: Principal, what: str) -> str | None:
    """Whose jobs a caller lists: a department its own (its scope), staff everyone's (None)."""
    if principal.role is Role.DEPARTMENT:
        return principal.scope
    if principal.role.covers(Role.ANALYST):
        return None
    raise Forbidden(f"{what} are for the department that sent them and for staff")


def may_see(principal: Principal, job: dict[str, Any]) -> bool:
    """Staff see every job; a department its own; nobody else any."""
    if principal.role is Role.DEPARTMENT:
        return job.get("scope") == principal.scope
    return principal.role.covers(Role.ANALYST)


def register_uploads(app: FastAPI, routes: ChannelRoutes) -> None:
    inbox, principal_of, store = routes.inbox, routes.principal, routes.store

    @app.post(
        "/uploads",
        status_code=202,
        tags=["uploads"],
        summary="Submit department files to the upload queue",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {
                                "file": {
                                    "type": "array",
                                    "items": {"type": "string", "format": "binary"},
                                    "description": f"xlsx, xls, csv ... (at most {MAX_FILES} a request)",
                                },
                                "dataset": {
                                    "type": "string",
                                    "description": "The dataset's key or title; omitted: recognised.",
                                },
                            },
                        }
                    }
                },
            }
        },
    )
    async def submit(request: Request) -> JSONResponse:
        principal = principal_of(request)
        scope = submitter(principal)
        # Starlette spools each file part to a temporary file past 1 MB: the body is never held whole
        form = await request.form(max_files=MAX_FILES, max_fields=10)
        try:
            files = [part for part in form.getlist("file") if isinstance(part, UploadFile)]
            dataset = form.get("dataset")
            if dataset is not None and not isinstance(dataset, str):
                raise BadInput("'dataset' is a text field: the dataset's key or title")
            if not files:
                raise BadInput("send the file(s) as multipart/form-data parts named 'file'")
            jobs = []
            for part in files:
                try:
                    job = await run_in_threadpool(
                        inbox().accept,
                        part.file,
                        part.filename or "",
                        submitted_by=principal.subject or "anonymous",
                        scope=scope,
                        dataset=dataset or None,
                    )
                except SubmissionRefused as exc:
                    raise BadInput(str(exc), file=part.filename) from None
                jobs.append(job_json(job))
        finally:
            await form.close()
        return JSONResponse({"jobs": jobs}, status_code=202)

    @app.get("/uploads", tags=["uploads"], summary="The caller's upload jobs, newest first")
    def list_jobs(request: Request, first: int = 50) -> dict[str, Any]:
        scope = reading_scope(principal_of(request), "upload jobs")
        rows = intake_queries.jobs(store(), scope, max(1, min(first, MAX_LISTED)))
        return {"jobs": [job_json(job) for job in rows]}

    @app.get("/uploads/{job_id}", tags=["uploads"], summary="One upload job: status, counts, report")
    def get_job(job_id: str, request: Request) -> dict[str, Any]:
        principal = principal_of(request)
        job = intake_queries.job(store(), job_id[:100])
        # another department's job answers as a missing one: its existence is not ours to tell
        if job is None or not may_see(principal, job):
            raise NotFound(f"no upload job {job_id[:100]}")
        return job_json(job)

    @app.post("/uploads/{job_id}/retry", tags=["uploads"], summary="Queue a failed job again (admin)")
    def retry(job_id: str, request: Request) -> dict[str, Any]:
        principal = principal_of(request)
        if not principal.role.covers(Role.ADMIN):
            raise Forbidden("retrying a failed upload job needs the admin role", requiredRole="admin")
        if not intake_queries.retry(store(), job_id[:100]):
            raise NotFound(f"no failed upload job {job_id[:100]}")
        job = intake_queries.job(store(), job_id[:100])
        assert job is not None
        return job_json(job)
