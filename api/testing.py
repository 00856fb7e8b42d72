"""Helpers for testing the API over HTTP (for this repository's tests and for integrators' own)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient


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
