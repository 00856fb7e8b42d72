"""Per-caller rate limits: a token bucket per key, token subject or client address.

Anonymous callers are limited per client address, more strictly. Over the limit: HTTP 429 with
``Retry-After`` and the API's error body (``RATE_LIMITED``).

Checked when the caller is known (after authentication, before the request body is parsed), in the
process that serves the request: with ``entgraph serve --workers N`` each worker keeps its own buckets,
so a caller may make up to N times the rate (docs/api.md says so; a shared limiter belongs in the
reverse proxy in front of a fleet). A request weighs one plus one per 2 KB of its body (a 6 KB document
costs four): parsing is what costs the process CPU, and it grows with the document. Buckets of callers
not seen for a while are forgotten, at most ``MAX_CALLERS`` are kept, so a flood of addresses cannot
grow the process.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

from entgraph.api.auth import Principal
from entgraph.api.client_errors import RateLimited

MAX_CALLERS = 10_000
BURST_SECONDS = 2.0  # a bucket holds this many seconds' worth of requests


class RateLimiter:
    def __init__(self, anonymous_per_second: float, authenticated_per_second: float) -> None:
        self.rates = {True: anonymous_per_second, False: authenticated_per_second}
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()  # plain routes run in the thread pool

    def check(self, principal: Principal, address: str | None, weight: int = 1) -> None:
        """Spend ``weight`` requests of the caller's bucket, or raise :class:`RateLimited`."""
        anonymous = principal.method == "anonymous"
        rate = self.rates[anonymous]
        if rate <= 0:
            return
        key = f"addr:{address or '?'}" if anonymous else f"sub:{principal.role.value}:{principal.subject}"
        capacity = max(1.0, rate * BURST_SECONDS)
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.pop(key, (capacity, now))
            tokens = min(capacity, tokens + (now - at) * rate)
            weight = min(weight, capacity)  # a heavy request is possible, just rarer
            if tokens < weight:
                self._buckets[key] = (tokens, now)
                self._trim()
                wait = max(1, math.ceil((weight - tokens) / rate))
                raise RateLimited(
                    f"too many requests: at most {rate:g} per second for this caller; retry in {wait} s",
                    retryAfter=wait,
                )
            self._buckets[key] = (tokens - weight, now)
            self._trim()

    def _trim(self) -> None:
        while len(self._buckets) > MAX_CALLERS:
            self._buckets.popitem(last=False)
