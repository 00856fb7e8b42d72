"""The FastAPI application: GraphQL, uploads and their reports, health probes and the console.

GraphQL at ``/graphql``, file uploads at ``/uploads`` (``api/uploads.py``), upload reports at
``/reports/{upload id}`` (``api/reports.py``), probes at ``/healthz`` and ``/readyz``.

Everything the app needs is handed to :func:`create_app` (settings, and optionally an open store and a
catalog, which tests and embedding programs pass in); nothing is read from module globals, so two apps
with different settings can live in one process.

Every response carries ``X-Request-ID`` (the caller's, if it sent a sane one, else a new one) and every
request leaves one JSON line on the ``entgraph.api.access`` logger; errors logged elsewhere name the
same request id, which is also what an ``INTERNAL`` error tells the client to quote.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from cross_web import HTTPException
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.fastapi import GraphQLRouter
from strawberry.types.unset import UNSET

from entgraph.api import cache_reads
from entgraph.api.activity import ActivityMark
from entgraph.api.auth import ApiKeyFile, Authenticator, Principal, Role
from entgraph.api.body_limit import BodyLimitMiddleware
from entgraph.api.cache_reads import CacheReads
from entgraph.api.cached_answers import CANDIDATE_KEY, READS_KEY, ResponseCacheMiddleware
from entgraph.api.caller_gate import CallerGate
from entgraph.api.channel_routes import ChannelRoutes
from entgraph.api.client_errors import (
    STORE_DOWN,
    ApiError,
    ErrorCode,
    RateLimited,
    Unauthenticated,
    error_body,
    internal_message,
)
from entgraph.api.context import Context
from entgraph.api.direct_reports import register_direct_reports
from entgraph.api.docking import register_docking
from entgraph.api.example_documents import REGISTERED_EXAMPLES
from entgraph.api.field_checks import MAX_BODY_BYTES as FIELD_CHECK_MAX_BYTES
from entgraph.api.field_checks import register_field_checks
from entgraph.api.honours import register_honours
from entgraph.api.persisted_queries import PersistedQueries, PersistedQueryError, console_documents
from entgraph.api.rate_limit import RateLimiter
from entgraph.api.reports import register_reports
from entgraph.api.response_cache import ResponseCache
from entgraph.api.schema import Mutation, Query, build_schema
from entgraph.api.town_exports import register_town_exports
from entgraph.api.uploads import register_uploads
from entgraph.catalog.registry import Catalog
from entgraph.graph.port import GraphStore, QueryTimedOut, StoreUnavailable
from entgraph.loaders.intake import api_activity_mark
from entgraph.settings import Settings
from entgraph.telemetry.series_store import SeriesReader

access_log = logging.getLogger("entgraph.api.access")
error_log = logging.getLogger("entgraph.api.client_errors")

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's request id is echoed into our logs and headers: accept only short, plain tokens so it
# cannot forge log lines or headers.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_HTTP_STATUS = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.BAD_INPUT: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.LIMIT_EXCEEDED: 400,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.TIMEOUT: 503,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}


class RequestLogMiddleware:
    """Request id in and out, one JSON access-log line per request, and a JSON 500 for crashes.

    A plain ASGI middleware (not ``BaseHTTPMiddleware``) so it sees the final status of every
    response, including ones produced by inner middleware such as CORS preflights.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = Headers(scope=scope).get(REQUEST_ID_HEADER)
        request_id = offered if offered and _SANE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        # scope["state"] is what request.state reads: the context getter finds the id there and leaves
        # the authenticated principal there for the access log.
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception(
                "request %s: unhandled error on %s %s", request_id, scope["method"], scope["path"]
            )
            if response_started:
                raise
            body = json.dumps(
                error_body(internal_message(request_id), ErrorCode.INTERNAL, requestId=request_id)
            )
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body.encode()})
        finally:
            principal: Principal | None = state.get("principal")
            access_log.info(
                json.dumps(
                    {
                        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                        "request_id": request_id,
                        "method": scope["method"],
                        # The path only: query strings can carry a whole GraphQL query and its variables.
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "role": principal.role.value if principal else None,
                    }
                )
            )


class _Resources:
    """What the app holds for its lifetime; filled at start-up when not injected."""

    def __init__(self, settings: Settings, store: GraphStore | None, catalog: Catalog | None) -> None:
        self.settings = settings
        self.store = store
        self._catalog = catalog
        self._series: SeriesReader | None = None
        self._cache: ResponseCache | None = None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog.load(self.settings.spec_dirs)
        return self._catalog

    @property
    def series(self) -> SeriesReader:
        """The meter series, read from the series store's published Parquet files (the ingester, in
        another process, is their one writer). One reader per process, opened on first use."""
        if self._series is None:
            self._series = SeriesReader(self.settings.series_dir)
        return self._series

    def response_cache(self) -> ResponseCache | None:
        """The response cache, once the store is open; None when it is off (``ENTGRAPH_API_CACHE_MB=0``)
        or the store keeps no write versions (one opened outside a deployment: nothing could tell the
        cache what changed)."""
        if self._cache is None and self.settings.api_cache_mb and self.store is not None:
            versions = self.store.versions
            if versions is not None:
                megabytes, seconds = self.settings.api_cache_mb, self.settings.api_cache_seconds
                self._cache = ResponseCache(versions, megabytes * 1024 * 1024, seconds)
        return self._cache

    def open_store(self) -> GraphStore:
        if self.store is None:
            raise RuntimeError("the graph store is not open: run the app with its lifespan (start-up)")
        return self.store


class GraphQLEndpoint(GraphQLRouter[Context, None]):
    """Strawberry's router, answering requests it cannot even read (not JSON, no query, a GET when GET
    is off ...) with a GraphQL-shaped ``BAD_INPUT`` body instead of plain text, so clients parse one
    error format. The HTTP status stays Strawberry's (400). Persisted queries (a document sent by its
    hash, registered documents only for some roles) are settled here, before anything is parsed."""

    def __init__(self, *args: Any, persisted: PersistedQueries, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.persisted = persisted

    async def parse_http_body(self, request: Any) -> Any:
        data = await super().parse_http_body(request)
        # the caller gate authenticated the caller before routing; refused credentials read as public
        principal = getattr(request._request.state, "principal", None)
        role = principal.role if principal is not None else Role.PUBLIC
        for item in data if isinstance(data, list) else [data]:
            item.query = self.persisted.document(item.query, item.extensions, role)
        return data

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        except PersistedQueryError as exc:
            return JSONResponse(error_body(exc.message, exc.code), status_code=exc.status)
        except HTTPException as exc:
            return JSONResponse(error_body(exc.reason, ErrorCode.BAD_INPUT), status_code=exc.status_code)
        except RecursionError:  # json.loads of a body nested thousands deep
            message = "the request body is nested too deeply to be a GraphQL request"
            return JSONResponse(error_body(message, ErrorCode.BAD_INPUT), status_code=400)


def _context_getter(
    settings: Settings, resources: _Resources, authenticator: Authenticator, activity: ActivityMark
) -> Callable[[Request], Awaitable[Context]]:
    """Each GraphQL request's context, and the notes of its reads when the response cache may keep it."""

    async def context_getter(request: Request) -> Context:
        activity.touch()  # the upload worker writes short batches while people are reading
        # authenticated and rate-limited by the caller gate (api/caller_gate.py); refused credentials
        # reach here unauthenticated, and are refused now with GraphQL's answer
        principal = getattr(request.state, "principal", None) or authenticator.authenticate(request.headers)
        request.state.principal = principal
        store = resources.open_store()
        context = Context(
            settings, store, resources.catalog, principal, request.state.request_id,
            series=lambda: resources.series,
        )  # fmt: skip
        # a request the response cache may keep notes what it reads, from before its first read
        reads = None
        if getattr(request.state, CANDIDATE_KEY, False) and store.versions is not None:
            reads = CacheReads.begin(store.versions, context.visible_datasets())
            setattr(request.state, READS_KEY, reads)
        cache_reads.start(reads)
        return context

    return context_getter


def persisted_queries(settings: Settings) -> PersistedQueries:
    """The registered documents (the console's, the documented examples) and the roles held to them."""
    from entgraph.api.console import STATIC  # the console's files, served or not

    console = console_documents(STATIC / "js" / "queries.js")
    roles = [Role.parse(r) for r in settings.api_registered_only.split(",") if r.strip()]
    return PersistedQueries([*console.values(), *REGISTERED_EXAMPLES], roles)


def create_app(
    settings: Settings,
    store: GraphStore | None = None,
    catalog: Catalog | None = None,
    *,
    query: type = Query,
    mutation: type | None = Mutation,
) -> FastAPI:
    """The API for ``settings``. Without ``store`` it opens one at start-up and closes it at shutdown;
    a store passed in belongs to the caller and is left open. ``query``/``mutation`` replace the root
    types (tests serve extra fields through the same limits, auth and error handling)."""
    development = settings.api_mode == "development"
    # New documents are parsed in a worker thread (api/limits.py); with Python's default 5 ms GIL
    # switch interval, every store round trip of a panorama could wait that long behind a stranger's
    # parse. 1 ms keeps the event loop's turns short at a small cost in throughput.
    sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
    resources = _Resources(settings, store, catalog)
    keys = ApiKeyFile(settings.api_keys_path)
    keys.check()  # a malformed keys file stops the server at start-up, not at the first request
    authenticator = Authenticator(settings.api_jwt_secret, keys, settings.api_max_token_days)
    limiter = RateLimiter(settings.api_rate_anonymous, settings.api_rate_authenticated)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = None
        if resources.store is None:
            from entgraph.graph.connect import open_store

            # The embedded store may be started now, at start-up, never later: one the operator stops
            # while we run stays stopped (/readyz 503, GraphQL errors) until `entgraph store start`.
            opened = resources.store = await run_in_threadpool(
                open_store, settings, read_limit=True, restart=False
            )
        resources.catalog  # noqa: B018 - load the catalog now, not during the first request
        try:
            yield
        finally:
            if opened is not None:
                opened.close()
                resources.store = None
            if resources._series is not None:
                resources._series.close()
                resources._series = None

    app = FastAPI(
        title="entgraph",
        lifespan=lifespan,
        # The OpenAPI page describes uploads and docking (docs/openapi.json); off in production.
        openapi_url="/openapi.json" if development else None,
    )

    activity = ActivityMark(api_activity_mark(settings.home))
    persisted = persisted_queries(settings)

    context_getter = _context_getter(settings, resources, authenticator, activity)

    app.include_router(
        GraphQLEndpoint(
            build_schema(settings, query, mutation),
            persisted=persisted,
            path="/graphql",
            graphql_ide="graphiql" if development else None,
            context_getter=context_getter,
            subscription_protocols=(),  # no subscriptions: refuse WebSocket upgrades
        )
    )

    register_reports(app, settings, authenticator, resources.open_store, lambda: resources.catalog)
    channels = ChannelRoutes(settings, authenticator, resources.open_store, lambda: resources.catalog)
    for register in (
        register_uploads,
        register_docking,
        register_direct_reports,
        register_honours,
        register_field_checks,
        register_town_exports,
    ):
        register(app, channels)

    _register_error_handlers(app)
    _register_probes(app, resources, authenticator)

    # inside CORS (cached answers carry its headers too) and the caller gate (callers are known first)
    app.add_middleware(ResponseCacheMiddleware, cache=resources.response_cache, persisted=persisted)
    if settings.cors_origins:
        app.add_middleware(
            ShapedCORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER],
        )
    if settings.api_console:
        from entgraph.api.console import mount_console

        mount_console(app)
    # inside the request log (which then logs the 413), outside everything that reads a body
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.api_max_body_bytes,
        larger={
            "/uploads": settings.upload_max_bytes,
            "/docking/": settings.upload_max_bytes,
            "/field-checks": FIELD_CHECK_MAX_BYTES,  # a phone's photo
        },
    )
    app.add_middleware(CallerGate, authenticator=authenticator, limiter=limiter)  # before any body is read
    app.add_middleware(RequestLogMiddleware)  # added last: outermost, so it sees every response
    return app


def openapi_document() -> str:
    """The OpenAPI description of the plain HTTP routes (uploads, docking), as docs/openapi.json holds
    it; GraphQL describes itself (schema.graphql)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as home:
        app = create_app(Settings(home=Path(home), api_mode="development", api_console=False))
        document = app.openapi()
    document["info"]["description"] = (
        "entgraph's collection channels over HTTP: department uploads (multipart files) and system docking "
        "(JSON or CSV record batches). Authenticate with X-API-Key or a bearer token of the department "
        "role (scope city:department) or admin. GraphQL is at /graphql (schema.graphql)."
    )
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def app_from_environment() -> FastAPI:
    """The app for the settings in the environment (``ENTGRAPH_*``), opening its own store at start-up:
    the factory each worker process of ``entgraph serve --workers N`` builds its app with."""
    return create_app(Settings())


def _register_error_handlers(app: FastAPI) -> None:
    """The API's error body for errors raised outside GraphQL (context getter, plain routes)."""

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, exc: Unauthenticated) -> JSONResponse:
        return JSONResponse(
            error_body(exc.message, ErrorCode.UNAUTHENTICATED),
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(QueryTimedOut)
    async def store_timed_out(request: Request, exc: QueryTimedOut) -> JSONResponse:
        body = error_body("the store stopped this request at its time limit", ErrorCode.TIMEOUT)
        return JSONResponse(body, status_code=_HTTP_STATUS[ErrorCode.TIMEOUT])

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        body = error_body(STORE_DOWN, ErrorCode.UNAVAILABLE)
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
        details = {k: v for k, v in exc.extensions.items() if k != "code"}
        return JSONResponse(
            error_body(exc.message, exc.code, **details),
            status_code=429,
            headers={"Retry-After": str(exc.extensions.get("retryAfter", 1))},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # a plain route's missing header or bad parameter: the API's BAD_INPUT, not FastAPI's own shape
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()[:5]
        )
        return JSONResponse(error_body(f"bad request: {problems}", ErrorCode.BAD_INPUT), status_code=400)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        # Plain HTTP routes (reports) raise the same errors as resolvers; they answer with the same body.
        details = {k: v for k, v in exc.extensions.items() if k != "code"}
        return JSONResponse(error_body(exc.message, exc.code, **details), status_code=_HTTP_STATUS[exc.code])


def _register_probes(app: FastAPI, resources: _Resources, authenticator: Authenticator) -> None:
    """``/healthz`` (the process answers) and ``/readyz`` (the store answers)."""

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """The process answers. Says nothing about the store: that is /readyz."""
        return {"status": "alive"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> JSONResponse:
        """The store answers: 200 with its facts, else 503 with one line why. Runs in a thread pool."""
        if resources.store is None:
            return _unready("the graph store is not open yet")
        try:
            health = resources.store.health()
        except Exception as exc:  # health() should not raise; if it does, the store is not usable
            error_log.exception("store health check failed")
            return _unready(f"store health check failed: {type(exc).__name__}")
        if not health.ok:
            return _unready(health.detail or "the graph store does not answer")
        content: dict[str, Any] = {"status": "ready", "backend": health.backend}
        # the store's facts (its pid, size, files) are an operator's, not anyone's
        if _is_admin(authenticator, request.headers):
            content["facts"] = health.facts
        return JSONResponse(jsonable_encoder(content))


class ShapedCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with its refusals in the API's error body rather than plain text."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 400:
            reason = response.body.decode("utf-8", "replace").strip() or "CORS preflight refused"
            body = json.dumps(error_body(reason, ErrorCode.BAD_INPUT)).encode()
            headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
            headers["content-type"] = "application/json"
            return Response(body, status_code=400, headers=headers)
        return response


def _is_admin(authenticator: Authenticator, headers: Headers) -> bool:
    try:
        return authenticator.authenticate(headers).role.covers(Role.ADMIN)
    except ApiError:
        return False


def _unready(reason: str) -> JSONResponse:
    one_line = " ".join(reason.split())[:500]
    return JSONResponse({"status": "unavailable", "reason": one_line}, status_code=503)
