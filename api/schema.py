"""The GraphQL schema, assembled from the types and resolvers defined beside it.

``schema.graphql`` at the repository root is this schema printed as SDL (``entgraph export-schema``);
a test fails when the two drift apart, so clients can read the contract without running the server.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from entgraph.graph.port import GraphStore


@strawberry.type(description="Whether the graph store answers, and basic facts about it.")
class StoreHealth:
    ok: bool
    backend: str
    location: str
    detail: str
    nodes: int | None


@strawberry.type
class Query:
    @strawberry.field(description="Health of the graph store behind the API.")
    def store_health(self, info: Info) -> StoreHealth:
        store: GraphStore = info.context["store"]
        health = store.health()
        return StoreHealth(
            ok=health.ok,
            backend=health.backend,
            location=health.location,
            detail=health.detail,
            nodes=health.facts.get("nodes"),
        )


schema = strawberry.Schema(query=Query)


def schema_sdl() -> str:
    return schema.as_str() + "\n"
