"""What one GraphQL request read, noted as it runs, so its answer can be cached with exact dependencies.

The response cache (``api/response_cache.py``) keeps an answer only with the write-version slots
(``graph/write_versions.py``) of everything it came from: every enterprise whose node the request
turned into an ``Enterprise`` (the one asked for, its parent, branches, neighbours, parties ...), the
ids it looked up (a merged-away id redirects: its merge must invalidate the answer), and the datasets
the caller may see. The sequence number is taken when the request starts, before any read.

The notes live in a context variable, set for the request by the context getter: resolvers, however
deeply nested (and the tasks Strawberry gathers them in, which copy the context), add to one object.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field

from entgraph.graph.write_versions import WriteVersions, dataset_slot, enterprise_slot


@dataclass
class CacheReads:
    """The notes of one request; ``s0``: the write sequence number before its first read."""

    versions: WriteVersions
    s0: int
    datasets: tuple[str, ...]
    enterprises: set[str] = field(default_factory=set)
    series: bool = False  # read meter series (kept outside the graph): fresh for a reading interval

    @classmethod
    def begin(cls, versions: WriteVersions, datasets: Iterable[str]) -> CacheReads:
        return cls(versions, versions.sequence(), tuple(datasets))

    def slots(self) -> tuple[int, ...]:
        found = {dataset_slot(d) for d in self.datasets} | {enterprise_slot(e) for e in self.enterprises}
        return tuple(sorted(found))


_CURRENT: ContextVar[CacheReads | None] = ContextVar("entgraph_cache_reads", default=None)


def start(reads: CacheReads | None) -> None:
    """Note this request's reads in ``reads`` (None: nobody is noting)."""
    _CURRENT.set(reads)


def current() -> CacheReads | None:
    return _CURRENT.get()


def note_enterprise(enterprise_id: str | None) -> None:
    """The request read (or looked up) this enterprise."""
    reads = _CURRENT.get()
    if reads is not None and enterprise_id:
        reads.enterprises.add(enterprise_id)


def note_series() -> None:
    """The request read meter series."""
    reads = _CURRENT.get()
    if reads is not None:
        reads.series = True
