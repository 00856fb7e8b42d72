"""An exact response cache for GraphQL panoramas, answered before Strawberry is reached.

A dashboard asks for the same enterprises again and again; parsing, validating and executing each time
costs the API most of its time. This plain ASGI middleware (inside the caller gate, so callers are
authenticated and rate-limited first) keeps whole answers, keyed by the document's SHA-256, the
operation name, the variables and the caller (role, scope and subject: two callers who may see
different things never share an answer).

**Exact.** An answer is stored with the write-version slots of everything it came from
(``api/cache_reads.py``: the enterprises it read, the datasets its caller may see, and always the
global slot) and the write sequence number ``s0`` taken before its first read. It is served only while
no write touching those slots is under way or has ended since ``s0`` (``graph/write_versions.py``),
which every write to the store, from any process, stamps. Meter series live outside the graph: answers
that read them expire after ``ENTGRAPH_API_CACHE_SECONDS`` (300: the electricity reading interval), as
do all answers, so that what is computed against "now" (windows, deadlines) moves on.

**What is cached:** queries whose root fields are all in :data:`CACHEABLE_ROOTS` (the enterprise
panorama), sent by POST (JSON) or GET, answered 200 with no errors. Everything else passes through
untouched. Answers carry ``ETag`` and ``Cache-Control: private, no-cache``: a front-end revalidates with
``If-None-Match`` and gets ``304 Not Modified`` while its copy is current; ``X-Cache: hit`` or ``miss``
says which way it was answered.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entgraph.api.auth import ANONYMOUS, Principal
from entgraph.api.cache_reads import CacheReads
from entgraph.api.persisted_queries import PersistedQueries, PersistedQueryError, sha256
from entgraph.graph.write_versions import WriteVersions

CACHEABLE_ROOTS = frozenset({"enterprise", "__typename"})
CACHED_PATH = "/graphql"
CACHE_CONTROL = b"private, no-cache"
VARY = b"Authorization, X-API-Key"
READS_KEY = "cache_reads"  # where the context getter leaves a request's notes, in scope["state"]
CANDIDATE_KEY = "cache_candidate"


@dataclass(frozen=True, slots=True)
class Entry:
    body: bytes
    etag: bytes
    s0: int
    slots: tuple[int, ...]
    expires: float  # time.monotonic()


class ResponseCache:
    """Answers by key, least recently used dropped past ``max_bytes``; thread-safe."""

    def __init__(self, versions: WriteVersions, max_bytes: int, seconds: float) -> None:
        self.versions = versions
        self.max_bytes = max_bytes
        self.seconds = seconds
        self._entries: OrderedDict[bytes, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.stale = 0

    def get(self, key: bytes) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            if entry.expires > time.monotonic() and self.versions.unchanged_since(entry.s0, entry.slots):
                self._entries.move_to_end(key)
                self.hits += 1
                return entry
            self._drop(key)
            self.stale += 1
            return None

    def put(self, key: bytes, body: bytes, etag: bytes, reads: CacheReads) -> bool:
        """Keep ``body`` for ``key`` if nothing it read has changed since the request began."""
        slots = reads.slots()
        if len(body) > self.max_bytes // 8 or not self.versions.unchanged_since(reads.s0, slots):
            return False
        entry = Entry(body, etag, reads.s0, slots, time.monotonic() + self.seconds)
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = entry
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))
        return True

    def _drop(self, key: bytes) -> None:
        self._bytes -= len(self._entries.pop(key).body)

    def __len__(self) -> int:
        return len(self._entries)


@functools.lru_cache(maxsize=4096)
def cacheable(document: str, operation_name: str | None) -> bool:
    """Whether the operation is a query asking only for :data:`CACHEABLE_ROOTS`."""
    try:
        parsed = parse(document, no_location=True, max_tokens=20_000)
    except GraphQLError:
        return False
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return False
    selections = operations[0].selection_set.selections
    return all(isinstance(s, FieldNode) and s.name.value in CACHEABLE_ROOTS for s in selections)


def etag_of(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'


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
