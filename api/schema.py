"""The GraphQL schema, assembled from the types and resolvers defined beside it.

``schema.graphql`` at the repository root is this schema printed as SDL (``entgraph export-schema``);
a test fails when the two drift apart, so clients can read the contract without running the server.

The types are fixed; what depends on settings (limits, introspection, error masking) is added as
extensions by :func:`build_schema`, which the app calls. Extensions do not change the SDL.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import strawberry
from strawberry.extensions import DisableIntrospection, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import Info

from entgraph.api.access import AccessMutation, AccessQuery, AccessRole
from entgraph.api.auth import Role
from entgraph.api.chains import ChainQuery
from entgraph.api.client_errors import ApiSchema, ErrorShaping
from entgraph.api.context import Context
from entgraph.api.enterprise_listing import EnterpriseQuery
from entgraph.api.feeds import FeedsQuery
from entgraph.api.field_checks import FieldCheckMutation, FieldCheckQuery
from entgraph.api.input_limits import InputLimits
from entgraph.api.land_credit import LandCreditQuery
from entgraph.api.limits import Limits, limit_extensions
from entgraph.api.stewardship import StewardMutation, StewardQuery
from entgraph.api.telemetry import TelemetryMutation, TelemetryQuery
from entgraph.api.town_dashboard import TownDashboardQuery
from entgraph.api.town_map import TownMapQuery
from entgraph.api.towns import TownsMutation, TownsQuery
from entgraph.settings import Settings


@strawberry.type(description="Whether the graph store answers, and basic facts about it.")
class StoreHealth:
    ok: bool
    backend: str
    location: str | None = strawberry.field(
        description="Where the store is (a path or address): shown to admins only."
    )
    detail: str
    nodes: int | None


@strawberry.type(name="Principal", description="The caller, as the API authenticated them.")
class PrincipalType:
    role: AccessRole = strawberry.field(description="What the caller may see and do.")
    subject: str | None = strawberry.field(
        description="The token's subject or the API key's name; null for anonymous callers."
    )
    scope: str | None = strawberry.field(
        default=None,
        description="DEPARTMENT: the city:department it submits for; ENTERPRISE: its credit code.",
    )


@strawberry.type
class PlatformQuery:
    @strawberry.field(description="Health of the graph store behind the API.")
    async def store_health(self, info: Info[Context, None]) -> StoreHealth:
        health = await info.context.in_thread(info.context.store.health)
        return StoreHealth(
            ok=health.ok,
            backend=health.backend,
            # a filesystem path or host is an attacker's map: admins only
            location=health.location if info.context.principal.role.covers(Role.ADMIN) else None,
            detail=health.detail,
            nodes=health.facts.get("nodes"),
        )

    @strawberry.field(description="Who the API takes the caller to be.")
    def me(self, info: Info[Context, None]) -> PrincipalType:
        principal = info.context.principal
        return PrincipalType(role=principal.role, subject=principal.subject, scope=principal.scope)


# The root query: each domain module defines its own root type beside its resolvers; they are merged
# here, in one place, so the SDL has one Query.
Query = merge_types(
    "Query",
    (
        PlatformQuery,
        EnterpriseQuery,
        ChainQuery,
        LandCreditQuery,
        StewardQuery,
        FeedsQuery,
        TelemetryQuery,
        AccessQuery,
        TownMapQuery,
        FieldCheckQuery,
        TownsQuery,
        TownDashboardQuery,
    ),
)
Mutation = merge_types(
    "Mutation", (StewardMutation, TelemetryMutation, AccessMutation, FieldCheckMutation, TownsMutation)
)


def build_schema(
    settings: Settings, query: type = Query, mutation: type | None = Mutation
) -> strawberry.Schema:
    """The served schema: ``query`` (and ``mutation``) with the limits and error handling of ``settings``.

    ``query`` is a parameter so tests (and later issues) can serve extra root fields through the same
    machinery.
    """
    production = settings.api_mode == "production"
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        *limit_extensions(Limits.from_settings(settings), InputLimits.from_settings(settings)),
        functools.partial(ErrorShaping, production),
    ]
    if production:
        extensions.append(DisableIntrospection)
    return ApiSchema(
        query=query,
        mutation=mutation,
        extensions=extensions,
        # Without introspection, "Did you mean ...?" would still leak field names one guess at a time.
        config=StrawberryConfig(disable_field_suggestions=production),
    )


def schema_sdl() -> str:
    return strawberry.Schema(query=Query, mutation=Mutation).as_str() + "\n"
