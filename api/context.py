"""The per-request context every resolver receives as ``info.context``.

It is built fresh for each request by the app's context getter, after authentication, so nothing in it
is shared between callers: in particular the DataLoaders, whose caches must never serve one caller's
(masked or unmasked) results to another.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from entgraph.api.auth import Principal, Role
from entgraph.api.cache_reads import note_series
from entgraph.api.masking import Decision, MaskKind, apply, policy
from entgraph.catalog.registry import Catalog
from entgraph.catalog.spec import DatasetSpec, Sharing
from entgraph.errors import ConfigurationError
from entgraph.graph.port import GraphStore
from entgraph.settings import Settings
from entgraph.telemetry.series_store import SeriesReader

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class Context(BaseContext):
    def __init__(
        self,
        settings: Settings,
        store: GraphStore,
        catalog: Catalog,
        principal: Principal,
        request_id: str,
        series: Callable[[], SeriesReader] | None = None,
    ) -> None:
        super().__init__()  # request, response and background_tasks are filled in by the router
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self.principal = principal
        self.request_id = request_id
        self._series = series
        # DataLoaders by name, created on first use within this request (see ``loader``).
        self.loaders: dict[str, DataLoader[Any, Any]] = {}
        self._visible: list[str] | None = None
        self._may_see: dict[str | None, bool] = {}
        # One "now" per request, so that windows ending now agree between resolvers (and batch).
        self.now_ms = int(time.time() * 1000)

    def loader(
        self, name: str, load: Callable[[list[K]], Awaitable[Sequence[V | BaseException]]]
    ) -> DataLoader[K, V]:
        """This request's DataLoader ``name``, made from ``load`` the first time it is asked for.

        Resolvers of one request that ask for the same name share one loader, so their keys are
        batched into one store round trip.
        """
        if name not in self.loaders:
            self.loaders[name] = DataLoader(load_fn=load)
        return self.loaders[name]

    @property
    def series(self) -> SeriesReader:
        """The meter series store's reader (opened by the app on first use)."""
        if self._series is None:
            raise RuntimeError("this API was built without a series store")
        note_series()
        return self._series()

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking call (the store's methods are blocking) off the event loop."""
        return await run_in_threadpool(fn, *args)

    def spec(self, dataset: str | None) -> DatasetSpec | None:
        """The catalog's spec of ``dataset``; None when it names none (a record of a dataset since
        removed from the catalog keeps its provenance, but no column rules apply to it)."""
        if not dataset:
            return None
        try:
            return self.catalog.get(dataset).spec
        except ConfigurationError:
            return None

    def may_see(self, dataset: str | None) -> bool:
        """Whether this caller may see what records of ``dataset`` state (its sharing, as the masking
        policy reads it). A dataset not in the catalog has no sharing to go by: staff only."""
        seen = self._may_see.get(dataset)
        if seen is None:  # asked per record and fact: once per dataset and request
            spec = self.spec(dataset)
            if spec is None:
                seen = self.principal.role.covers(Role.ANALYST)
            else:
                seen = policy(spec.sharing, self.principal.role) is not Decision.NULL
            self._may_see[dataset] = seen
        return seen

    def visible_datasets(self) -> list[str]:
        """Keys of the catalog's datasets this caller may see (``may_see``), for Cypher filters."""
        if self._visible is None:
            self._visible = [feed.spec.key for feed in self.catalog if self.may_see(feed.spec.key)]
        return self._visible

    def mask(self, sharing: Sharing, kind: MaskKind | str, value: Any) -> Any:
        """``value`` as this caller may see it (see ``entgraph.api.masking``)."""
        return apply(sharing, self.principal.role, kind, value)
