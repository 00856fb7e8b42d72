"""Helpers for testing the API over HTTP (for this repository's tests and for integrators' own)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from starlette.testclient import TestClient

from entgraph.api.auth import Role, issue_token
from entgraph.api.example_documents import FULL_PANORAMA  # noqa: F401 - the tests' and benches' panorama
from entgraph.settings import Settings


def api_settings(home: Path, **overrides: Any) -> Settings:
    """Settings for an API under test in ``home``, every API setting explicit (so an ENTGRAPH_API_*
    variable in the environment cannot change a test): development mode, API keys from
    ``home/api-keys.toml``, no JWT secret, no CORS origins, the default query limits."""
    values: dict[str, Any] = {
        "home": home,
        "api_mode": "development",
        "api_jwt_secret": None,
        "api_keys_file": home / "api-keys.toml",
        "api_cors_origins": "",
        "api_max_depth": 10,
        "api_max_aliases": 15,
        "api_max_cost": 5000,
    }
    return Settings(**(values | overrides))


def post_graphql(
    client: TestClient, query: str, headers: dict[str, str] | None = None, **variables: Any
) -> dict[str, Any]:
    """POST a GraphQL document; the HTTP status must be 200 (GraphQL errors travel in the body)."""
    response = client.post("/graphql", json={"query": query, "variables": variables}, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()


def data_of(body: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` of a response that must have no errors."""
    assert "errors" not in body, body["errors"]
    return body["data"]


# A scope for each channel role, for tests that try every role: a department the built-in catalog
# names and a valid credit code.
SAMPLE_SCOPES: dict[Role, str] = {Role.DEPARTMENT: "晋江:市税务局", Role.ENTERPRISE: "91350582MA2XN6QLXM"}


def bearer(secret: str, role: Role, subject: str = "tester", scope: str | None = None) -> dict[str, str]:
    """An Authorization header with a fresh JWT for ``role``, signed with ``secret`` (a channel role
    gets its sample scope unless one is given)."""
    token = issue_token(SecretStr(secret), role, subject, 60, scope or SAMPLE_SCOPES.get(role))
    return {"Authorization": f"Bearer {token}"}


class GraphQLClient:
    """A test client that posts GraphQL as a given role: ``client.query(doc, role=Role.PUBLIC, id=...)``."""

    def __init__(self, client: TestClient, secret: str, default_role: Role = Role.STEWARD) -> None:
        self.client, self.secret, self.default_role = client, secret, default_role

    def query(self, document: str, role: Role | None = None, **variables: Any) -> dict[str, Any]:
        headers = bearer(self.secret, role or self.default_role)
        return post_graphql(self.client, document, headers, **variables)

    def data(self, document: str, role: Role | None = None, **variables: Any) -> dict[str, Any]:
        return data_of(self.query(document, role, **variables))

    def error_codes(self, document: str, role: Role | None = None, **variables: Any) -> list[str]:
        return [e["extensions"]["code"] for e in self.query(document, role, **variables).get("errors", [])]


HOSTILE_SECRET = "h" * 40  # the JWT secret of the production-mode test server (tests/api/conftest.py)


class Served:
    def __init__(self, base: str, keys: dict[Role, str]) -> None:
        self.base, self.keys = base, keys
        self.http = httpx.Client(base_url=base, timeout=30)

    def post(self, body: Any = None, role: Role | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if role is not None:
            headers["X-API-Key"] = self.keys[role]
        if body is not None:
            kwargs["json"] = body
        return self.http.post("/graphql", headers=headers, **kwargs)

    def errors(self, query: str, role: Role | None = None, **variables: Any) -> list[dict[str, Any]]:
        response = self.post({"query": query, "variables": variables}, role)
        assert response.status_code in (200, 400), response.text
        return response.json().get("errors") or []
