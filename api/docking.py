"""System docking over HTTP (系统对接): department systems and front-end processors push records.

    POST /docking/{dataset}                      a batch: JSON {records, deletions} or a CSV body;
                                                 header Idempotency-Key; ?channel= (the sending system),
                                                 ?sync= (a batch of a full-volume sync). 202 + the job.
    POST /docking/{dataset}/syncs/{sync}/complete  load a full-volume sync; what it omits is retired
    GET  /docking/{dataset}/batches?since=       the batches accepted after a cursor, and the next cursor

Described in the app's OpenAPI document (``/openapi.json`` in development; ``docs/docking-openapi.json``
exported from code). Batches become upload jobs (``api/uploads.py``), loaded by ``entgraph worker``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from entgraph.api.channel_routes import ChannelRoutes
from entgraph.api.client_errors import ApiError, BadInput, ErrorCode
from entgraph.api.uploads import job_json, reading_scope, submitter
from entgraph.loaders.docking import MAX_BATCH_RECORDS, Docking, DockingConflict, batches_since
from entgraph.loaders.intake import SubmissionRefused

TAG = "docking"


class Conflict(ApiError):
    code = ErrorCode.BAD_INPUT


class DockingBatch(BaseModel):
    """One batch of a dataset's records."""

    records: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=MAX_BATCH_RECORDS,
        description="Upserts by the dataset's record key. Keys: the seed's headers (纳税人识别号) or our "
        "field names (taxpayer_id), as the dataset's spec lists them.",
    )
    deletions: list[dict[str, Any]] = Field(
        default_factory=list, description="Records to retire, each given by its record key's fields."
    )


class DockingJob(BaseModel):
    """The upload job a batch became (``GET /uploads/{id}`` follows it)."""

    id: str
    status: str = Field(description="queued, running, done, refused, failed; a sync's batch: received.")
    dataset: str | None = None
    file_name: str | None = Field(default=None, alias="fileName")
    rows_read: int | None = Field(default=None, alias="rowsRead")
    new: int | None = None
    updated: int | None = None
    unchanged: int | None = None
    rejected: int | None = None
    retired: int | None = None
    upload_id: str | None = Field(default=None, alias="uploadId")
    message: str | None = None
    report_url: str | None = Field(default=None, alias="reportUrl", description="The row report once loaded.")


class BatchPage(BaseModel):
    batches: list[DockingJob]
    cursor: str | None = Field(description="Pass as ?since= to get what came after; unchanged when none did.")


def _csv_or_json(request_body: bytes, content_type: str) -> tuple[list, list, bytes | None]:
    if content_type.startswith("text/csv"):
        return [], [], request_body
    try:
        parsed = DockingBatch.model_validate(json.loads(request_body or b"{}"))
    except (ValueError, TypeError) as exc:
        raise BadInput(
            f"the body must be JSON {{records, deletions}} or text/csv: {str(exc)[:300]}"
        ) from None
    return parsed.records, parsed.deletions, None


def register_docking(app: FastAPI, routes: ChannelRoutes) -> None:
    principal_of, store = routes.principal, routes.store

    def docking() -> Docking:
        return routes.once("docking", lambda: Docking(routes.inbox()))

    async def call(fn: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return await run_in_threadpool(fn, *args, **kwargs)
        except DockingConflict as exc:
            raise Conflict(str(exc), reason="IDEMPOTENCY_KEY_REUSED") from None
        except SubmissionRefused as exc:
            raise BadInput(str(exc)) from None

    @app.post(
        "/docking/{dataset}",
        status_code=202,
        tags=[TAG],
        response_model=DockingJob,
        summary="Push one batch of records",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": DockingBatch.model_json_schema()},
                    "text/csv": {"schema": {"type": "string"}, "example": "纳税人识别号,纳税人名称\n..."},
                },
            }
        },
    )
    async def push(
        dataset: str,
        request: Request,
        idempotency_key: str = Header(
            ..., alias="Idempotency-Key", description="Names the batch: resend freely."
        ),
        channel: str = Query("docking", description="The sending system, e.g. xinyong-wuhai."),
        sync: str | None = Query(None, description="A full-volume sync this batch belongs to."),
    ) -> JSONResponse:
        principal = principal_of(request)
        scope = submitter(principal)
        records, deletions, csv_body = _csv_or_json(
            await request.body(), request.headers.get("content-type", "")
        )
        job = await call(
            docking().batch,
            dataset,
            key=idempotency_key,
            channel=channel,
            submitted_by=principal.subject or "anonymous",
            scope=scope,
            records=records,
            csv_body=csv_body,
            deletions=deletions,
            sync=sync,
        )
        return JSONResponse(job_json(job), status_code=202)

    @app.post(
        "/docking/{dataset}/syncs/{sync}/complete",
        status_code=202,
        tags=[TAG],
        response_model=DockingJob,
        summary="Load a full-volume sync; records it omits are retired",
    )
    async def complete(
        dataset: str, sync: str, request: Request, channel: str = Query("docking")
    ) -> JSONResponse:
        principal = principal_of(request)
        scope = submitter(principal)
        job = await call(
            docking().complete,
            dataset,
            sync,
            channel=channel,
            submitted_by=principal.subject or "anonymous",
            scope=scope,
        )
        return JSONResponse(job_json(job), status_code=202)

    @app.get(
        "/docking/{dataset}/batches", tags=[TAG], response_model=BatchPage, summary="Batches since a cursor"
    )
    def batches(
        dataset: str, request: Request, since: str | None = None, first: int = Query(100, ge=1, le=1000)
    ) -> dict[str, Any]:
        scope = reading_scope(principal_of(request), "docking batches")
        rows, cursor = batches_since(store(), dataset, scope, since, first)
        return {"batches": [job_json(job) for job in rows], "cursor": cursor}
