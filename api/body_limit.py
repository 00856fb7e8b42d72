"""Request body limit: a body over ``ENTGRAPH_API_MAX_BODY_BYTES`` is refused before anyone parses it.

A declared ``Content-Length`` over the limit is answered at once; a body sent without one (chunked) is
counted as it arrives and cut off at the limit. Either way the client gets HTTP 413 with the API's
GraphQL-shaped ``LIMIT_EXCEEDED`` body, and nothing of the body is kept. GraphQL documents of
thousands of tokens are a few dozen KB; comments and string values, which the token limit does not
count, are bounded here.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entgraph.api.client_errors import ErrorCode, error_body

DRAIN_FACTOR = 32  # 8 MB at the default limit: a stray upload, not a flood


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """``max_bytes`` for every path but those starting with a prefix in ``larger`` (file uploads),
    which get their own limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = next((n for prefix, n in self.larger.items() if path.startswith(prefix)), self.max_bytes)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._drain(receive, limit)
            await self._refuse(send, int(declared) if declared.isdigit() else None, limit)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await self._drain(receive, limit)
                await self._refuse(send, None, limit)

    async def _drain(self, receive: Receive, limit: int) -> None:
        """Read and drop what the client is still sending, up to ``DRAIN_FACTOR`` x the limit, so an
        ordinary HTTP client (which sends its whole body before reading) gets the 413 rather than a
        reset connection; past that the connection is closed on it."""
        left = min(limit, self.max_bytes) * DRAIN_FACTOR
        while left > 0:
            message = await receive()
            if message["type"] != "http.request":
                return
            left -= len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _refuse(self, send: Send, declared: int | None, limit: int) -> None:
        details = {"limit": "body_bytes", "max": limit}
        if declared is not None:
            details["actual"] = declared
        body = error_body(
            f"the request body exceeds the body_bytes limit ({limit} bytes)",
            ErrorCode.LIMIT_EXCEEDED,
            **details,
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})
