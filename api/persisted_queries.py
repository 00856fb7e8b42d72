"""Persisted queries: documents sent by their SHA-256 (Apollo's APQ protocol), and registered documents.

A client sends ``extensions: {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}`` and no
``query``. A document the server knows runs; an unknown one answers ``PersistedQueryNotFound`` (code
``PERSISTED_QUERY_NOT_FOUND``, HTTP 200), and the client sends it again with its text, which the server
checks against the hash and remembers (a bounded, least-recently-used memory: registering documents
cannot grow the server without bound). Stock Apollo, urql and Relay clients do this unchanged.

**Registered documents** are known from the start: every document of the console (``queries.js``) and
the documented examples (``graphql_client.REGISTERED_EXAMPLES``). With
``ENTGRAPH_API_REGISTERED_ONLY=public`` (roles, comma-separated) those roles may run registered
documents only, by hash or by text: a front-end's public traffic then cannot send the server a query
nobody wrote for it (``PERSISTED_QUERY_NOT_REGISTERED``, HTTP 400).

Parsing and validating a document are already remembered by its text (``api/limits.py``), so a
persisted document costs neither after its first use; what the hash saves is the request's bytes, and
what registration adds is the safelist.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from entgraph.api.auth import Role
from entgraph.api.client_errors import ErrorCode

VERSION = 1
AUTOMATIC_CAPACITY = 5_000  # documents clients registered themselves, least recently used dropped
_HASH = re.compile(r"^[0-9a-f]{64}$")
_CONST = re.compile(r"^(?:export )?const (\w+) = `(.*?)`;", re.S | re.M)


class PersistedQueryError(Exception):
    """A request the persisted-query protocol refuses: its message, code and HTTP status."""

    def __init__(self, message: str, code: ErrorCode, status: int) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def console_documents(queries_js: Path) -> dict[str, str]:
    """The documents of the console's ``queries.js`` by constant name, ``${OTHER}`` replaced by that
    constant as the browser does."""
    consts: dict[str, str] = {}
    for name, body in _CONST.findall(queries_js.read_text(encoding="utf-8")):
        consts[name] = re.sub(r"\$\{(\w+)\}", lambda m: consts[m.group(1)], body)
    return {name: doc for name, doc in consts.items() if doc.lstrip().startswith(("query", "mutation"))}


class PersistedQueries:
    def __init__(
        self,
        registered: Iterable[str],
        registered_only: Iterable[Role] = (),
        capacity: int = AUTOMATIC_CAPACITY,
    ) -> None:
        self.registered: Mapping[str, str] = {sha256(doc): doc for doc in registered}
        self.registered_only = frozenset(registered_only)
        self._automatic: OrderedDict[str, str] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def document(self, query: str | None, extensions: Mapping[str, Any] | None, role: Role) -> str | None:
        """The document to run for a request's ``query`` and ``extensions`` from a caller of ``role``."""
        persisted = (extensions or {}).get("persistedQuery")
        restricted = role in self.registered_only
        if persisted is None:
            if restricted and query is not None and sha256(query) not in self.registered:
                raise _not_registered(role)
            return query
        digest = _checked_hash(persisted)
        if query is None:
            found = self.registered.get(digest) or (None if restricted else self._recall(digest))
            if found is None:
                raise PersistedQueryError("PersistedQueryNotFound", ErrorCode.PERSISTED_QUERY_NOT_FOUND, 200)
            return found
        if sha256(query) != digest:
            raise PersistedQueryError("provided sha does not match query", ErrorCode.BAD_INPUT, 400)
        if digest not in self.registered:
            if restricted:
                raise _not_registered(role)
            self._remember(digest, query)
        return query

    def _recall(self, digest: str) -> str | None:
        with self._lock:
            found = self._automatic.get(digest)
            if found is not None:
                self._automatic.move_to_end(digest)
            return found

    def _remember(self, digest: str, query: str) -> None:
        with self._lock:
            self._automatic[digest] = query
            self._automatic.move_to_end(digest)
            while len(self._automatic) > self._capacity:
                self._automatic.popitem(last=False)


def _checked_hash(persisted: Any) -> str:
    if not isinstance(persisted, Mapping) or persisted.get("version") != VERSION:
        raise PersistedQueryError(
            f"persistedQuery: {{'version': {VERSION}, 'sha256Hash': '<64 hex digits>'}}",
            ErrorCode.BAD_INPUT,
            400,
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _HASH.match(digest):
        raise PersistedQueryError(
            "persistedQuery.sha256Hash: 64 lower-case hex digits", ErrorCode.BAD_INPUT, 400
        )
    return digest


def _not_registered(role: Role) -> PersistedQueryError:
    return PersistedQueryError(
        f"the {role.value} role runs registered documents only (the console's, the documented examples)",
        ErrorCode.PERSISTED_QUERY_NOT_REGISTERED,
        400,
    )
