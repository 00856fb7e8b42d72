"""API keys managed over GraphQL by an admin: list, create (shown once), revoke; no shell needed.

A city onboards a department's clerks or an enterprise's reporter from the console: a key for the
``department`` role scoped to ``city:department``, or for the ``enterprise`` role scoped to its credit
code. The keys file keeps only each key's SHA-256 (``auth.ApiKeyFile``); the running server reads a
changed file on its next request, so a new key works and a revoked one stops at once.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from entgraph.api.auth import ApiKeyFile, Role, known_scope, requires
from entgraph.api.client_errors import BadInput, NotFound
from entgraph.api.context import Context
from entgraph.errors import ConfigurationError

AccessRole = strawberry.enum(
    Role,
    name="Role",
    description="Access roles: the nested chain from least to most trusted (PUBLIC, ANALYST, STEWARD, "
    "ADMIN), then the collection channels' roles (DEPARTMENT, ENTERPRISE), each with a scope.",
)
ADMIN_ONLY = [requires(Role.ADMIN)]


@strawberry.type(description="An API key as the keys file knows it: never the key itself.")
class ApiKeyInfo:
    name: str
    role: AccessRole
    scope: str | None
    created: str


@strawberry.type(description="A new API key. `key` is shown this once and kept nowhere.")
class CreatedApiKey:
    name: str
    role: AccessRole
    scope: str | None
    key: str


def _keys(info: Info[Context, None]) -> ApiKeyFile:
    return ApiKeyFile(info.context.settings.api_keys_path)


@strawberry.type
class AccessQuery:
    @strawberry.field(
        description="The API keys (names, roles, scopes): admin.", permission_classes=ADMIN_ONLY
    )
    def api_keys(self, info: Info[Context, None]) -> list[ApiKeyInfo]:
        entries = sorted(_keys(info).check(), key=lambda e: (e.role.value, e.name))
        return [ApiKeyInfo(name=e.name, role=e.role, scope=e.scope, created=e.created) for e in entries]


@strawberry.type
class AccessMutation:
    @strawberry.mutation(
        description="Make a key for someone (department: scope city:department; enterprise: its credit "
        "code). The key is in the answer only.",
        permission_classes=ADMIN_ONLY,
    )
    def create_api_key(
        self, info: Info[Context, None], role: AccessRole, name: str, scope: str | None = None
    ) -> CreatedApiKey:
        departments = {spec.owner for spec in info.context.catalog.specs}
        try:
            checked = known_scope(Role(role), scope, departments)
            key = _keys(info).create(Role(role), name, checked)
        except (ValueError, ConfigurationError) as exc:
            raise BadInput(str(exc)) from None
        return CreatedApiKey(name=name.strip(), role=role, scope=checked, key=key)

    @strawberry.mutation(
        description="Revoke a key by its name: refused from the next request.", permission_classes=ADMIN_ONLY
    )
    def revoke_api_key(self, info: Info[Context, None], name: str) -> bool:
        if not _keys(info).revoke(name):
            raise NotFound(f"no API key named {name!r}")
        return True
