"""What the collection channels' plain HTTP routes share: the caller, the open store and catalog, one inbox.

The upload, docking, direct-report and honour routes (``api/uploads.py`` ...) are plain FastAPI routes
beside GraphQL. Each asks this object for the caller (authenticated as GraphQL's are, and left on the
request for the access log) and for the services it builds on, made once, on first use (their schema
checks need the open store, which exists only once the app has started).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request

from entgraph.api.auth import Authenticator, Principal
from entgraph.catalog.registry import Catalog
from entgraph.graph.port import GraphStore
from entgraph.loaders.intake import Inbox
from entgraph.settings import Settings

T = TypeVar("T")


class ChannelRoutes:
    def __init__(
        self,
        settings: Settings,
        authenticator: Authenticator,
        store: Callable[[], GraphStore],
        catalog: Callable[[], Catalog],
    ) -> None:
        self.settings = settings
        self.authenticator = authenticator
        self.store = store
        self.catalog = catalog
        self._made: dict[str, object] = {}

    def principal(self, request: Request) -> Principal:
        """The caller (``Unauthenticated`` becomes the app's 401), noted for the access log."""
        principal = self.authenticator.authenticate(request.headers)
        request.state.principal = principal
        return principal

    def once(self, name: str, make: Callable[[], T]) -> T:
        """The service ``name``, made by ``make`` the first time it is asked for."""
        if name not in self._made:
            self._made[name] = make()
        return self._made[name]  # type: ignore[return-value]

    def inbox(self) -> Inbox:
        return self.once("inbox", lambda: Inbox(self.store(), self.catalog(), self.settings.inbox_dir))
