"""The response cache's door: an ASGI middleware answering cached panoramas before Strawberry is reached.

It sits inside the caller gate (callers are authenticated and rate-limited first) and CORS (cached
answers carry its headers). For a request the cache may answer (``response_cache.cacheable``) it looks
the answer up by document hash, operation, variables and caller; on a miss it lets Strawberry answer,
and keeps that answer with what the request read (``api/cache_reads.py``, left in ``scope["state"]`` by
the context getter). Answers carry ``ETag``, ``Cache-Control: private, no-cache``, ``Vary`` on the
credentials and ``X-Cache: hit|miss``; ``If-None-Match`` with the current ETag gets 304.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entgraph.api.auth import ANONYMOUS, Principal
from entgraph.api.cache_reads import CacheReads
from entgraph.api.persisted_queries import PersistedQueries, PersistedQueryError, sha256
from entgraph.api.response_cache import ResponseCache, cacheable, etag_of

CACHED_PATH = "/graphql"
CACHE_CONTROL = b"private, no-cache"
VARY = b"Authorization, X-API-Key"
READS_KEY = "cache_reads"  # where the context getter leaves a request's notes, in scope["state"]
CANDIDATE_KEY = "cache_candidate"


class ResponseCacheMiddleware:
    """Serves cached answers, and fills the cache from the answers Strawberry gives."""

    def __init__(
        self, app: ASGIApp, cache: Callable[[], ResponseCache | None], persisted: PersistedQueries
    ) -> None:
        self.app = app
        self.cache = cache
        self.persisted = persisted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cache = self.cache() if scope["type"] == "http" and scope["path"] == CACHED_PATH else None
        if cache is None or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        body = b""
        if scope["method"] == "POST":
            body = await _read_body(receive)
            receive = _replay(body)
            request = _json(body) if headers.get("content-type", "").startswith("application/json") else None
        else:
            request = _from_query_string(scope.get("query_string", b""))
        principal = _principal(scope, headers)
        key = self._key(request, principal) if principal is not None else None
        if key is None:
            await self.app(scope, receive, send)
            return
        entry = cache.get(key)
        if entry is not None:
            await _answer(send, entry.body, entry.etag, headers, hit=True)
            return
        scope.setdefault("state", {})[CANDIDATE_KEY] = True
        status, start_headers, answer = await _captured(self.app, scope, receive)
        reads: CacheReads | None = scope["state"].get(READS_KEY)
        if status != 200 or reads is None or not _clean(answer):
            await _send(send, status, start_headers, answer)
            return
        etag = etag_of(answer)
        cache.put(key, answer, etag, reads)
        await _answer(send, answer, etag, headers, hit=False, headers=start_headers)

    def _key(self, request: dict[str, Any] | None, principal: Principal) -> bytes | None:
        if not isinstance(request, dict):
            return None
        query, operation = request.get("query"), request.get("operationName")
        extensions, variables = request.get("extensions"), request.get("variables")
        shapes = ((query, str), (operation, str), (extensions, dict))
        if any(value is not None and not isinstance(value, kind) for value, kind in shapes):
            return None
        try:
            document = self.persisted.document(query, extensions, principal.role)
        except PersistedQueryError:
            return None  # Strawberry's router answers it
        if document is None or not cacheable(document, operation):
            return None
        material = [
            sha256(document), operation, variables or {},
            principal.role.value, principal.scope, principal.subject, principal.method,
        ]  # fmt: skip
        try:
            text = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):
            return None
        return hashlib.blake2b(text.encode(), digest_size=20).digest()


def _principal(scope: Scope, headers: Headers) -> Principal | None:
    """The caller the gate authenticated; anonymous when it sent no credentials; None when it sent some
    that failed (GraphQL answers those)."""
    principal = scope.get("state", {}).get("principal")
    if principal is not None:
        return principal
    if "authorization" in headers or "x-api-key" in headers:
        return None
    return ANONYMOUS


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _from_query_string(raw: bytes) -> dict[str, Any] | None:
    params = {k: v[-1] for k, v in parse_qs(raw.decode("latin-1")).items()}
    request: dict[str, Any] = {"query": params.get("query"), "operationName": params.get("operationName")}
    for name in ("variables", "extensions"):
        if name in params:
            request[name] = _json(params[name].encode())
            if request[name] is None:
                return None
    return request


def _clean(answer: bytes) -> bool:
    parsed = _json(answer)
    return isinstance(parsed, dict) and "errors" not in parsed and parsed.get("data") is not None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _captured(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[int, list, bytes]:
    status, headers, parts = 500, [], []

    async def capture(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, receive, capture)
    return status, headers, b"".join(parts)


async def _send(send: Send, status: int, headers: list, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_REPLACED = (b"content-length", b"etag", b"cache-control", b"vary", b"x-cache")


async def _answer(
    send: Send, body: bytes, etag: bytes, request: Headers, *, hit: bool, headers: list | None = None
) -> None:
    """``body`` with its validators, or 304 when the caller already holds it. ``X-Cache`` says whether
    the cache answered (operators and tests read it)."""
    kept = [(k, v) for k, v in headers or [] if k.lower() not in _REPLACED]
    if not kept:
        kept = [(b"content-type", b"application/json")]
    kept += [
        (b"etag", etag),
        (b"cache-control", CACHE_CONTROL),
        (b"vary", VARY),  # a browser shared by two users keeps their answers apart
        (b"x-cache", b"hit" if hit else b"miss"),
    ]
    if etag.decode() in request.get("if-none-match", ""):
        await _send(send, 304, [*kept, (b"content-length", b"0")], b"")
        return
    await _send(send, 200, [*kept, (b"content-length", str(len(body)).encode())], body)
