"""An exact response cache for GraphQL panoramas: whole answers, kept with what they were read from.

Answers are keyed by the document's SHA-256, the operation name, the variables and the caller (role,
scope and subject: two callers who may see different things never share an answer); the middleware
that looks them up and fills them is ``api/cached_answers.py``.

**Exact.** An answer is kept with the write-version slots of everything it came from
(``api/cache_reads.py``: the enterprises it read, the datasets its caller may see; and always the global
and the shared-facts slots) and the write sequence number ``s0`` taken before its first read. It is
served only while no write touching those slots is under way or has ended since ``s0``
(``graph/write_versions.py``), which every write to the store, from any process, stamps. Meter series
live outside the graph: every answer expires after ``ENTGRAPH_API_CACHE_SECONDS`` (300: the electricity
reading interval), so that series, and what is computed against "now" (windows, deadlines), move on.

**What is cached:** queries whose root fields are all in :data:`CACHEABLE_ROOTS` (the enterprise
panorama), answered 200 with no errors (the middleware's rule).
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse

from entgraph.api.cache_reads import CacheReads
from entgraph.graph.write_versions import WriteVersions

CACHEABLE_ROOTS = frozenset({"enterprise", "__typename"})
MAX_DOCUMENT = 8 * 1024  # characters: the full panorama is 1.2k
MAX_TOKENS = 2_000


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


def cacheable(document: str, operation_name: str | None) -> bool:
    """Whether the operation is a query asking only for :data:`CACHEABLE_ROOTS`. Decided on the event
    loop, before the limits (which parse off it): a document longer than any panorama is not looked at,
    so strangers' large documents cost this nothing."""
    if len(document) > MAX_DOCUMENT:
        return False
    return _cacheable(document, operation_name)


@functools.lru_cache(maxsize=1024)
def _cacheable(document: str, operation_name: str | None) -> bool:
    try:
        parsed = parse(document, no_location=True, max_tokens=MAX_TOKENS)
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
