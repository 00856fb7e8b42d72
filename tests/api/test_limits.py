"""Depth, alias, cost and size limits: over-limit queries are refused with LIMIT_EXCEEDED, unexecuted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import strawberry
from fastapi.testclient import TestClient
from graphql import parse
from strawberry.types import Info

from entgraph.api.app import create_app
from entgraph.api.context import Context
from entgraph.api.graphql_client import api_settings
from entgraph.api.limits import _PARSED, DEFAULT_LIST_SIZE, MAX_TOKENS, Measure, _Remembered, measure
from entgraph.api.schema import Query
from entgraph.catalog.registry import Catalog
from entgraph.graph import EmbeddedServer
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.settings import Settings

# Resolvers record that they ran: a refused query must not run any.
CALLS: list[str] = []


@strawberry.type
class Node:
    value: int

    @strawberry.field
    def child(self) -> Node:
        CALLS.append("child")
        return Node(value=self.value + 1)

    @strawberry.field
    def children(self, first: int | None = None) -> list[Node]:
        CALLS.append("children")
        return [Node(value=i) for i in range(min(first or 3, 3))]

    @strawberry.field
    def tags(self) -> list[str]:
        return ["a", "b"]


@strawberry.type
class TreeQuery(Query):
    @strawberry.field
    def node(self, info: Info[Context, None]) -> Node:
        CALLS.append("node")
        return Node(value=0)

    @strawberry.field
    def nodes(
        self, info: Info[Context, None], first: int | None = None, limit: int | None = None
    ) -> list[Node]:
        CALLS.append("nodes")
        return [Node(value=i) for i in range(min(first or limit or 3, 3))]


SCHEMA = strawberry.Schema(query=TreeQuery)._schema


def make_settings(home: Path, **overrides: Any) -> Settings:
    """The API with small limits, so that each can be reached by a short document."""
    return api_settings(home, **({"api_max_depth": 4, "api_max_aliases": 3, "api_max_cost": 500} | overrides))


@pytest.fixture
def client(shared_server: EmbeddedServer, tmp_path: Path) -> Iterator[TestClient]:
    store = FalkorDBStore(f"api-{uuid.uuid4().hex[:10]}", server=shared_server)
    app = create_app(make_settings(tmp_path), store, Catalog([]), query=TreeQuery)
    with TestClient(app) as test_client:
        yield test_client
    store.close()


def run(client: TestClient, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    CALLS.clear()
    response = client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    return response.json()


def assert_refused(body: dict[str, Any], limit: str, maximum: int, actual: int) -> None:
    assert body["data"] is None
    assert CALLS == [], "a refused query ran resolvers"
    codes = [e["extensions"]["code"] for e in body["errors"]]
    assert codes == ["LIMIT_EXCEEDED"], body
    assert body["errors"][0]["extensions"] == {
        "code": "LIMIT_EXCEEDED",
        "limit": limit,
        "max": maximum,
        "actual": actual,
    }


# -- through HTTP (limits: depth 4, aliases 3, cost 500) -------------------------------------------


def test_depth_at_the_limit_runs_and_over_it_is_refused(client: TestClient) -> None:
    ok = run(client, "{ node { child { child { value } } } }")  # depth 4
    assert ok == {"data": {"node": {"child": {"child": {"value": 2}}}}}
    assert CALLS == ["node", "child", "child"]

    assert_refused(run(client, "{ node { child { child { child { value } } } } }"), "depth", 4, 5)


def test_depth_counts_through_fragments(client: TestClient) -> None:
    query = """
      query { node { ...deep } }
      fragment deep on Node { child { ... on Node { child { child { value } } } } }
    """
    assert_refused(run(client, query), "depth", 4, 5)


def test_aliases_over_the_limit_are_refused(client: TestClient) -> None:
    three = "{ a: node { value } b: node { value } c: node { v: value } }"
    assert_refused(run(client, three), "aliases", 3, 4)
    assert "errors" not in run(client, "{ a: node { value } b: node { value } c: node { value } }")

    # An aliased field inside a fragment counts every time the fragment is used.
    spread = "query { a: node { ...f } b: node { ...f } } fragment f on Node { x: value }"
    assert_refused(run(client, spread), "aliases", 3, 4)


def test_list_cost_is_first_times_the_child_cost(client: TestClient) -> None:
    # 1 + 49 x (1 + 10 x 1) = 540 > 500; 1 + 45 x (1 + 10 x 1) = 496.
    over = "{ nodes(first: 49) { children(first: 10) { value } } }"
    assert_refused(run(client, over), "cost", 500, 540)
    under = "{ nodes(first: 45) { children(first: 10) { value } } }"
    assert "errors" not in run(client, under)
    assert CALLS[0] == "nodes"


def test_cost_reads_first_and_limit_from_variables(client: TestClient) -> None:
    query = "query($n: Int) { nodes(limit: $n) { child { value } tags } }"  # 1 + n x (2 + 1)
    assert_refused(run(client, query, {"n": 200}), "cost", 500, 601)
    assert "errors" not in run(client, query, {"n": 150})  # 451
    with_default = "query($n: Int = 200) { nodes(limit: $n) { value } }"  # 1 + 200 x 1
    assert "errors" not in run(client, with_default)


def test_a_document_remembered_as_valid_is_still_measured_with_each_requests_variables(
    client: TestClient,
) -> None:
    # The same text passes once (and its standard validation is remembered), then comes back with
    # variables that make it too costly: the cost is measured again, with the new variables.
    query = "query($n: Int) { nodes(limit: $n) { child { value } tags } }"  # 1 + n x (2 + 1)
    for _ in range(2):
        assert "errors" not in run(client, query, {"n": 10})
    assert_refused(run(client, query, {"n": 200}), "cost", 500, 601)
    # and a document that fails validation is refused every time, not only the first
    unknown = "{ nodes(first: 1) { nosuchfield } }"
    for _ in range(2):
        assert [e["extensions"]["code"] for e in run(client, unknown)["errors"]] == ["BAD_INPUT"]


def test_a_list_without_a_size_counts_as_the_default(client: TestClient) -> None:
    # 1 + 100 x (1 + 100 x 1) = 10101
    expected = 1 + DEFAULT_LIST_SIZE * (1 + DEFAULT_LIST_SIZE)
    assert_refused(run(client, "{ nodes { children { value } } }"), "cost", 500, expected)
    # A negative size is not trusted either.
    assert_refused(run(client, "{ nodes(first: -1) { children { value } } }"), "cost", 500, expected)


def test_an_oversized_document_is_refused_before_parsing(client: TestClient) -> None:
    huge = "{ " + " ".join(["n"] * MAX_TOKENS) + " }"  # over the token limit, under the size one
    body = run(client, huge)
    assert body["data"] is None
    assert CALLS == []
    assert body["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert "tokens" in body["errors"][0]["message"]


def test_a_parsed_document_is_reused_and_an_oversized_one_is_refused_every_time(client: TestClient) -> None:
    query = "query($n: Int) { nodes(limit: $n) { value } }"
    assert "errors" not in run(client, query, {"n": 2})
    first = _PARSED.get(_Remembered.key(query))
    assert first is not None
    assert "errors" not in run(client, query, {"n": 3})
    assert _PARSED.get(_Remembered.key(query)) is first  # not parsed again
    huge = "{ " + " ".join(["n"] * MAX_TOKENS) + " }"  # over the token limit, under the size one
    for _ in range(2):  # a refused text is never remembered as parsed
        assert run(client, huge)["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert _PARSED.get(_Remembered.key(huge)) is None
    broken = "{ nodes(limit: 1) { value }"
    for _ in range(2):
        assert run(client, broken)["errors"][0]["extensions"]["code"] == "BAD_INPUT"


def test_defaults_allow_ordinary_queries(shared_server: EmbeddedServer, tmp_path: Path) -> None:
    store = FalkorDBStore(f"api-{uuid.uuid4().hex[:10]}", server=shared_server)
    defaults = make_settings(tmp_path, api_max_depth=10, api_max_aliases=15, api_max_cost=5000)
    with TestClient(create_app(defaults, store, Catalog([]), query=TreeQuery)) as client:
        body = run(
            client, "{ storeHealth { ok } me { role } nodes(first: 20) { children(first: 10) { value } } }"
        )
        assert "errors" not in body
        assert body["data"]["storeHealth"] == {"ok": True}
        deep = "{ node { " + "child { " * 10 + "value" + " }" * 10 + " } }"
        assert_refused(run(client, deep), "depth", 10, 12)
    store.close()


# -- the measure itself ----------------------------------------------------------------------------


def test_measure_counts_introspection_as_free_and_fragments_like_inline_selections() -> None:
    inline = parse("{ nodes(first: 5) { value child { value } } }")
    spread = parse("{ nodes(first: 5) { ...f } } fragment f on Node { value child { value } }")
    expected = Measure(depth=3, aliases=0, cost=1 + 5 * (1 + 2))
    assert measure(SCHEMA, inline) == {"": expected}
    assert measure(SCHEMA, spread) == {"": expected}
    assert measure(SCHEMA, parse("{ __schema { types { name fields { name } } } __typename }")) == {
        "": Measure()
    }


def test_measure_only_the_named_operation() -> None:
    document = parse("query Cheap { node { value } } query Dear { nodes { children { value } } }")
    assert set(measure(SCHEMA, document, operation_name="Cheap")) == {"Cheap"}
    assert measure(SCHEMA, document)["Dear"].cost == 1 + 100 * (1 + 100)


def test_a_connections_edges_count_as_many_as_its_first() -> None:
    api = strawberry.Schema(query=Query)._schema
    one_page = parse("{ enterprises(first: 20) { totalCount edges { node { name } } } }")
    assert measure(api, one_page)[""].cost == 1 + (1 + (1 + 20 * (1 + 1)))
    # Without first (or with an unreadable one) a page counts as the list default.
    unbounded = parse("{ enterprises { edges { node { name } } } }")
    assert measure(api, unbounded)[""].cost == 1 + (1 + DEFAULT_LIST_SIZE * (1 + 1))
    # The page size of one connection does not leak into a list nested deeper.
    nested = parse("{ enterprises(first: 2) { edges { node { branches { name } } } } }")
    assert measure(api, nested)[""].cost == 1 + (1 + 2 * (1 + (1 + DEFAULT_LIST_SIZE * 1)))


@pytest.mark.timeout(30)
def test_nested_fragment_spreads_are_measured_in_linear_time() -> None:
    # Each fragment spreads the previous one twice: 2^30 executions of the innermost field, which a
    # naive expansion would walk one by one (for hours: the timeout ends that; no time is asserted).
    fragments = ["fragment f0 on Node { value }"]
    fragments += [
        f"fragment f{i} on Node {{ a{i}: child {{ ...f{i - 1} }} b{i}: child {{ ...f{i - 1} }} }}"
        for i in range(1, 31)
    ]
    document = parse("{ node { ...f30 } } " + " ".join(fragments))
    [result] = measure(SCHEMA, document).values()
    assert result.depth == 32
    assert result.aliases == 2 * (2**30 - 1)
