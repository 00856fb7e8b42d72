"""The caller gate: who is calling, and whether they may, before anything reads their request.

A flood is refused where refusing costs least. As a plain ASGI middleware outside the body limit and
FastAPI, the gate authenticates a GraphQL request from its headers and spends its weight from the
caller's bucket (``api/rate_limit.py``: one, plus one per 2 KB of declared body). A caller over its rate
gets the 429 at once, from bytes made here, without routing, dependency resolution or the body being
read: a body larger than ``DRAIN_BYTES`` is not read at all and the connection is closed on it (the
first requests of a flood were answered in full; the rest pay for their own bytes). A small body is read
and dropped, so an ordinary client keeps its connection and sees the 429.

Credentials that do not authenticate are counted as anonymous, by address (guessing keys is a flood
like any other), and the request goes on, so that GraphQL answers it with its ``UNAUTHENTICATED``
error; a caller who did authenticate is handed on in ``scope["state"]["principal"]`` and not
authenticated twice (``api/app.py``'s context getter).
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from entgraph.api.auth import ANONYMOUS, Authenticator, Principal
from entgraph.api.client_errors import ApiError, RateLimited, error_body
from entgraph.api.rate_limit import RateLimiter

GATED_PATH = "/graphql"
DRAIN_BYTES = 64 * 1024  # read and drop a refused body up to this; close the connection past it


class CallerGate:
    def __init__(self, app: ASGIApp, authenticator: Authenticator, limiter: RateLimiter) -> None:
        self.app = app
        self.authenticator = authenticator
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != GATED_PATH or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            principal: Principal = self.authenticator.authenticate(headers)
            scope.setdefault("state", {})["principal"] = principal
        except ApiError:
            principal = ANONYMOUS  # refused credentials: GraphQL says why; the address pays meanwhile
        declared = headers.get("content-length", "")
        weight = 1 + (int(declared) // 2048 if declared.isdigit() else 0)
        client = scope.get("client")
        try:
            self.limiter.check(principal, client[0] if client else None, weight)
        except RateLimited as refused:
            small = declared.isdigit() and int(declared) <= DRAIN_BYTES
            if small:
                await _drain(receive)
            await _refuse(send, refused, keep_alive=small)
            return
        await self.app(scope, receive, send)


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def _refuse(send: Send, refused: RateLimited, keep_alive: bool) -> None:
    details = {k: v for k, v in refused.extensions.items() if k != "code"}
    body = json.dumps(error_body(refused.message, refused.code, **details)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(refused.extensions.get("retryAfter", 1)).encode()),
    ]
    if not keep_alive:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
