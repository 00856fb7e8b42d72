"""The app through HTTP against a real embedded store: probes, request ids, access log, error masking,
production mode and CORS."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import strawberry
from fastapi.testclient import TestClient
from strawberry.types import Info

from entgraph.api.app import create_app
from entgraph.api.auth import ApiKeyFile, Role
from entgraph.api.context import Context
from entgraph.api.graphql_client import api_settings
from entgraph.api.schema import Query
from entgraph.catalog.registry import Catalog
from entgraph.graph import EmbeddedServer
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.port import GraphStore


@pytest.fixture
def store(fresh_graph: GraphStore) -> FalkorDBStore:
    return fresh_graph


@pytest.fixture
def client(tmp_path: Path, store: FalkorDBStore, catalog: Catalog) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings(tmp_path), store, catalog)) as test_client:
        yield test_client


def gql(client: TestClient, query: str, **kwargs: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query}, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


# -- probes ----------------------------------------------------------------------------------------


def test_healthz_says_the_process_is_alive(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_readyz_reports_the_store_and_its_facts_to_admins_only(
    client: TestClient, store: FalkorDBStore, tmp_path: Path
) -> None:
    store.write("CREATE (:Probe {n: 1}), (:Probe {n: 2})")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "backend": "falkordb"}  # no pid, size or files
    keys = ApiKeyFile(tmp_path / "api-keys.toml")
    for role, shown in ((Role.ANALYST, False), (Role.ADMIN, True)):
        key = keys.create(role, f"probe-{role.value}")
        body = client.get("/readyz", headers={"X-API-Key": key}).json()
        assert body["status"] == "ready" and ("facts" in body) is shown
    assert body["facts"]["graph"] == store.graph_name
    assert body["facts"]["nodes"] == 2


def test_readyz_is_503_with_one_line_when_the_store_is_unreachable(
    server: EmbeddedServer, tmp_path: Path, catalog: Catalog
) -> None:
    info = server.ensure_running()
    # Connected by address, not as the embedded server's owner: the adapter would restart its own server.
    remote = FalkorDBStore("ready", host="127.0.0.1", port=info.port, password=server.password)
    with TestClient(create_app(api_settings(tmp_path), remote, catalog)) as client:
        assert client.get("/readyz").status_code == 200
        server.stop()
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200  # alive, just not ready
    remote.close()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert "cannot reach" in body["reason"]
    assert "\n" not in body["reason"]


def test_the_store_is_opened_from_settings_and_closed_at_shutdown(
    shared_server: EmbeddedServer, tmp_path: Path, catalog: Catalog
) -> None:
    info = shared_server.ensure_running()
    graph = f"api-{uuid.uuid4().hex[:10]}"
    settings = api_settings(
        tmp_path, graph=f"falkordb://:{shared_server.password}@127.0.0.1:{info.port}", graph_name=graph
    )
    app = create_app(settings, catalog=catalog)
    with TestClient(app) as client:
        data = gql(client, "{ storeHealth { ok backend nodes } }")["data"]
        assert data == {"storeHealth": {"ok": True, "backend": "falkordb", "nodes": 0}}
    # After shutdown the app holds no store any more: a request (without start-up) cannot reach one.
    unstarted = TestClient(app)
    response = unstarted.post("/graphql", json={"query": "{ me { role } }"})
    assert response.status_code == 500


# -- GraphQL basics --------------------------------------------------------------------------------


def test_store_health_and_me_for_an_anonymous_caller(client: TestClient) -> None:
    data = gql(client, "{ storeHealth { ok backend nodes } me { role subject } }")["data"]
    assert data["storeHealth"] == {"ok": True, "backend": "falkordb", "nodes": 0}
    assert data["me"] == {"role": "PUBLIC", "subject": None}


def test_a_query_error_has_a_code(client: TestClient) -> None:
    body = gql(client, "{ noSuchField }")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"


# -- request ids and the access log ----------------------------------------------------------------


def test_the_request_id_is_echoed_or_generated(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "trace-42.a"})
    assert given.headers["X-Request-ID"] == "trace-42.a"

    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert first != second
    assert len(first) == 32 and int(first, 16) >= 0

    # An id that could forge log lines or headers is replaced, not echoed.
    odd = client.get("/healthz", headers={"X-Request-ID": 'x" injected="1'}).headers["X-Request-ID"]
    assert odd != 'x" injected="1'
    assert len(odd) == 32


def test_every_request_leaves_one_json_access_line(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="entgraph.api.access")
    client.post("/graphql?debug=secret", json={"query": "{ me { role } }"}, headers={"X-Request-ID": "log-1"})
    client.get("/nowhere", headers={"X-Request-ID": "log-2"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "entgraph.api.access"]
    assert [line["request_id"] for line in lines] == ["log-1", "log-2"]
    graphql, missing = lines
    assert graphql["method"] == "POST"
    assert graphql["path"] == "/graphql"  # no query string: it may carry queries and variables
    assert graphql["status"] == 200
    assert graphql["role"] == "public"
    assert isinstance(graphql["duration_ms"], float) and graphql["duration_ms"] >= 0
    assert missing["status"] == 404
    assert missing["role"] is None  # not a GraphQL request: nobody was authenticated


# -- unexpected errors -----------------------------------------------------------------------------


@strawberry.type
class BrokenQuery(Query):
    @strawberry.field
    def broken(self, info: Info[Context, None]) -> int:
        raise RuntimeError("MATCH (n:Secret) password=hunter2 at /srv/entgraph/internal.py")


def test_an_unexpected_error_is_internal_with_the_request_id_and_no_internals(
    tmp_path: Path, store: FalkorDBStore, catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="entgraph.api")
    app = create_app(api_settings(tmp_path), store, catalog, query=BrokenQuery)
    with TestClient(app) as client:
        response = client.post(
            "/graphql", json={"query": "{ me { role } broken }"}, headers={"X-Request-ID": "oops-1"}
        )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None  # broken is non-null, so the null propagates to data
    [error] = body["errors"]
    assert error["extensions"] == {"code": "INTERNAL", "requestId": "oops-1"}
    assert "oops-1" in error["message"]
    assert error["path"] == ["broken"]
    text = response.text
    for internal in ("hunter2", "MATCH", "RuntimeError", "Traceback", "internal.py"):
        assert internal not in text
    # The operators get everything, under the same request id.
    logged = [r for r in caplog.records if r.name == "entgraph.api.client_errors" and r.exc_info]
    assert len(logged) == 1
    assert "oops-1" in logged[0].getMessage()
    assert "hunter2" in str(logged[0].exc_info[1])


def test_a_crash_outside_graphql_is_a_json_500_without_internals(tmp_path: Path, catalog: Catalog) -> None:
    # Not started (no lifespan) and no store given: the context cannot be built.
    client = TestClient(create_app(api_settings(tmp_path), catalog=catalog))
    response = client.post("/graphql", json={"query": "{ me { role } }"}, headers={"X-Request-ID": "c-1"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "c-1"
    assert response.json() == {
        "errors": [
            {
                "message": "internal error; quote request id c-1 to the operators",
                "extensions": {"code": "INTERNAL", "requestId": "c-1"},
            }
        ]
    }


# -- production mode -------------------------------------------------------------------------------

INTROSPECTION = "{ __schema { queryType { name } } }"


def test_development_mode_serves_graphiql_and_introspection(client: TestClient) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    assert gql(client, INTROSPECTION)["data"] == {"__schema": {"queryType": {"name": "Query"}}}


def test_production_mode_has_no_graphiql_no_introspection_no_suggestions(
    tmp_path: Path, store: FalkorDBStore, catalog: Catalog
) -> None:
    app = create_app(api_settings(tmp_path, api_mode="production"), store, catalog)
    with TestClient(app) as client:
        page = client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 404
        assert "graphiql" not in page.text.lower()

        body = gql(client, INTROSPECTION)
        assert body["data"] is None
        assert "introspection" in body["errors"][0]["message"].lower()
        assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"

        typo = gql(client, "{ me { rol } }")
        assert "Did you mean" not in typo["errors"][0]["message"]

        assert client.get("/openapi.json").status_code == 404
        # Ordinary queries still work.
        assert gql(client, "{ me { role } }")["data"] == {"me": {"role": "PUBLIC"}}


# -- CORS ------------------------------------------------------------------------------------------


def preflight(client: TestClient, origin: str) -> Any:
    return client.options(
        "/graphql",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key",
        },
    )


def test_cors_allows_only_the_configured_origins(
    tmp_path: Path, store: FalkorDBStore, catalog: Catalog
) -> None:
    settings = api_settings(tmp_path, api_cors_origins="https://dash.example.cn, https://bi.example.cn")
    with TestClient(create_app(settings, store, catalog)) as client:
        allowed = preflight(client, "https://bi.example.cn")
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://bi.example.cn"
        assert "x-api-key" in allowed.headers["access-control-allow-headers"].lower()

        simple = client.post(
            "/graphql", json={"query": "{ me { role } }"}, headers={"Origin": "https://dash.example.cn"}
        )
        assert simple.headers["access-control-allow-origin"] == "https://dash.example.cn"
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()

        refused = preflight(client, "https://evil.example.com")
        assert "access-control-allow-origin" not in refused.headers
        other = client.post(
            "/graphql", json={"query": "{ me { role } }"}, headers={"Origin": "https://evil.example.com"}
        )
        assert "access-control-allow-origin" not in other.headers


def test_no_cors_headers_by_default(client: TestClient) -> None:
    response = client.post(
        "/graphql", json={"query": "{ me { role } }"}, headers={"Origin": "https://dash.example.cn"}
    )
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in preflight(client, "https://dash.example.cn").headers


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ('{"variables": {}}', "application/json", 400),
        ("query=1", "text/plain", 400),
    ],
    ids=["broken-json", "no-query", "wrong-content-type"],
)
def test_an_unreadable_request_gets_a_graphql_shaped_error(
    client: TestClient, body: str, content_type: str, status: int
) -> None:
    response = client.post("/graphql", content=body, headers={"Content-Type": content_type})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_INPUT" and error["message"]
