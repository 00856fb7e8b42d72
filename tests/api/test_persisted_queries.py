"""Persisted queries: Apollo's protocol as stock clients speak it, the registered documents, and a role
held to them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from entgraph.api.app import create_app
from entgraph.api.auth import ApiKeyFile, Role
from entgraph.api.client_errors import ErrorCode
from entgraph.api.console import STATIC
from entgraph.api.example_documents import FULL_PANORAMA
from entgraph.api.graphql_client import api_settings
from entgraph.api.persisted_queries import PersistedQueries, PersistedQueryError, console_documents, sha256
from entgraph.catalog.registry import Catalog
from entgraph.graph.port import GraphStore

HEALTH = "{ storeHealth { ok } }"


def _apq(digest: str, query: str | None = None) -> dict:
    body: dict = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    return body | ({"query": query} if query is not None else {})


def test_an_unknown_hash_is_asked_for_then_remembered() -> None:
    persisted = PersistedQueries([], capacity=2)
    with pytest.raises(PersistedQueryError) as missing:
        persisted.document(None, _apq(sha256(HEALTH))["extensions"], Role.PUBLIC)
    assert (missing.value.code, missing.value.status) == (ErrorCode.PERSISTED_QUERY_NOT_FOUND, 200)
    with pytest.raises(PersistedQueryError, match="does not match"):
        persisted.document("{ me { role } }", _apq(sha256(HEALTH))["extensions"], Role.PUBLIC)
    assert persisted.document(HEALTH, _apq(sha256(HEALTH))["extensions"], Role.PUBLIC) == HEALTH
    assert persisted.document(None, _apq(sha256(HEALTH))["extensions"], Role.PUBLIC) == HEALTH
    # bounded: the least recently used goes first
    for doc in ("{ me { role } }", "{ me { subject } }"):
        persisted.document(doc, _apq(sha256(doc))["extensions"], Role.PUBLIC)
    with pytest.raises(PersistedQueryError):
        persisted.document(None, _apq(sha256(HEALTH))["extensions"], Role.PUBLIC)
    for bad in ({"version": 2, "sha256Hash": sha256(HEALTH)}, {"version": 1, "sha256Hash": "abc"}, "x"):
        with pytest.raises(PersistedQueryError) as refused:
            persisted.document(None, {"persistedQuery": bad}, Role.PUBLIC)
        assert refused.value.code is ErrorCode.BAD_INPUT


def test_a_role_held_to_registered_documents() -> None:
    persisted = PersistedQueries([HEALTH], registered_only=[Role.PUBLIC])
    assert persisted.document(HEALTH, None, Role.PUBLIC) == HEALTH
    assert persisted.document(None, _apq(sha256(HEALTH))["extensions"], Role.PUBLIC) == HEALTH
    other = "{ me { role } }"
    for query, extensions in ((other, None), (other, _apq(sha256(other))["extensions"])):
        with pytest.raises(PersistedQueryError) as refused:
            persisted.document(query, extensions, Role.PUBLIC)
        assert refused.value.code is ErrorCode.PERSISTED_QUERY_NOT_REGISTERED
    assert persisted.document(other, None, Role.ANALYST) == other, "other roles send what they like"


@pytest.mark.stores
def test_over_http_as_stock_clients_send_them(fresh_graph: GraphStore, tmp_path: Path) -> None:
    keys = ApiKeyFile(tmp_path / "api-keys.toml")
    analyst = {"X-API-Key": keys.create(Role.ANALYST, "analyst")}
    # the benches' limits: the full panorama (a registered example) costs more than the default allows
    settings = api_settings(
        tmp_path, api_registered_only="public", api_max_cost=100_000_000, api_max_depth=12
    )
    with TestClient(create_app(settings, fresh_graph, Catalog.load(entry_points=False))) as client:
        # a console document is known by its hash from the start
        towns = console_documents(STATIC / "js" / "queries.js")["TOWNS"]
        answer = client.post("/graphql", json=_apq(sha256(towns)))
        assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
        ran = client.post("/graphql", json=_apq(sha256(FULL_PANORAMA)) | {"variables": {"id": "E-x"}})
        assert [e["extensions"]["code"] for e in ran.json()["errors"]] == ["NOT_FOUND"], "it ran"
        # the public may not send a document nobody registered, by hash or by text
        refused = client.post("/graphql", json={"query": HEALTH})
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_REGISTERED"
        # an analyst's client: hash first, not found, then hash and text, then the hash alone
        missing = client.post("/graphql", json=_apq(sha256(HEALTH)), headers=analyst)
        assert missing.status_code == 200
        assert missing.json()["errors"][0] == {
            "message": "PersistedQueryNotFound",
            "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
        }
        sent = client.post("/graphql", json=_apq(sha256(HEALTH), HEALTH), headers=analyst)
        assert sent.json()["data"]["storeHealth"]["ok"] is True
        again = client.post("/graphql", json=_apq(sha256(HEALTH)), headers=analyst)
        assert again.json()["data"]["storeHealth"]["ok"] is True
        wrong = client.post("/graphql", json=_apq("0" * 64, HEALTH), headers=analyst)
        assert wrong.status_code == 400 and wrong.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"
