"""The exact response cache over HTTP: served again only while nothing it read has changed, per write path
(load, resolve, steward judgement, warning change, any other write), never across callers, with ETag
and 304."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from entgraph.api.app import create_app
from entgraph.api.auth import ApiKeyFile, Role
from entgraph.api.example_documents import FULL_PANORAMA
from entgraph.api.graphql_client import SAMPLE_SCOPES, api_settings
from entgraph.api.response_cache import MAX_DOCUMENT, cacheable
from entgraph.city_fixtures import City, build_city
from entgraph.graph import record_queries
from entgraph.graph import warning_queries as wq
from entgraph.graph.port import GraphStore
from entgraph.graph.write_versions import WriteVersions, touching
from entgraph.resolution.resolver import Resolver

pytestmark = pytest.mark.stores

PANORAMA = FULL_PANORAMA
NAME_ONLY = "query ($id: String) { enterprise(id: $id) { id name legalRep } }"


@dataclass
class Api:
    client: TestClient
    keys: dict[Role, dict[str, str]]

    def ask(
        self, role: Role, enterprise: str, document: str = PANORAMA, **headers: str
    ) -> tuple[Any, str | None, Any]:
        """(answer body, X-Cache, the response)."""
        answer = self.client.post(
            "/graphql",
            json={"query": document, "variables": {"id": enterprise}},
            headers=self.keys[role] | headers,
        )
        body = answer.json() if answer.status_code == 200 else None
        return body, answer.headers.get("x-cache"), answer


@pytest.fixture(scope="module")
def cache_city(
    new_graph: Callable[[str], GraphStore], city_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[City]:
    """One resolved city for the module, stamping a write-version table as a deployment's store does.
    Each test gets its own API (so an empty cache) and writes what it needs; none relies on another's
    writes, and the enterprises each picks are those not merged away yet."""
    city = build_city(new_graph("api-city-rw"), city_root)
    city.store.versions = WriteVersions.for_graph(tmp_path_factory.mktemp("versions"), "cache-test")
    yield city
    city.store.versions.close()
    city.store.versions = None
    city.store.clear()
    city.store.close()


@pytest.fixture
def cached(cache_city: City, tmp_path: Path) -> Iterator[tuple[Api, City]]:
    key_file = ApiKeyFile(tmp_path / "api-keys.toml")
    keys = {role: {"X-API-Key": key_file.create(role, role.value, SAMPLE_SCOPES.get(role))} for role in Role}
    keys[Role.PUBLIC] = {}
    settings = api_settings(tmp_path, api_max_cost=100_000_000, api_max_depth=12)
    with TestClient(create_app(settings, cache_city.store, cache_city.catalog)) as client:
        yield Api(client, keys), cache_city


def _two_enterprises(city: City) -> tuple[str, str]:
    rows = city.store.read(
        "MATCH (r:SourceRecord)-[a:ABOUT]->(e:Enterprise) WHERE e.merged_into IS NULL "
        "AND e.credit_code IS NOT NULL AND r.dataset = 'jj_enterprise_registration' "
        "RETURN DISTINCT e.id AS id ORDER BY id LIMIT 2"
    )
    return rows[0]["id"], rows[1]["id"]


def test_a_second_ask_is_served_from_the_cache_per_caller_with_etags(cached: tuple[Api, City]) -> None:
    api, city = cached
    x, _ = _two_enterprises(city)
    first, how, response = api.ask(Role.ANALYST, x)
    assert how == "miss" and first["data"]["enterprise"]["id"] == x
    again, how, _ = api.ask(Role.ANALYST, x)
    assert how == "hit" and again == first
    # another caller never gets the analyst's answer: the public's is masked
    public, how, _ = api.ask(Role.PUBLIC, x)
    assert how == "miss" and public != first
    assert api.ask(Role.PUBLIC, x)[:2] == (public, "hit")
    assert api.ask(Role.ANALYST, x)[:2] == (first, "hit")
    # the enterprise role, and a department's, each have their own
    assert api.ask(Role.DEPARTMENT, x)[1] == "miss"
    # credentials that fail are refused, never answered from the cache
    refused = api.client.post(
        "/graphql", json={"query": PANORAMA, "variables": {"id": x}}, headers={"X-API-Key": "nope"}
    )
    assert refused.status_code == 401 and "x-cache" not in refused.headers
    # validators: the same answer revalidates as 304, a changed one comes back whole
    etag = response.headers["etag"]
    assert response.headers["cache-control"] == "private, no-cache"
    not_modified = api.ask(Role.ANALYST, x, **{"If-None-Match": etag})[2]
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert response.headers["vary"] == "Authorization, X-API-Key"
    # by GET too, as CDNs and Apollo's GET mode send them
    params = {"query": NAME_ONLY, "variables": json.dumps({"id": x})}
    got = [api.client.get("/graphql", params=params) for _ in range(2)]
    assert [g.headers.get("x-cache") for g in got] == ["miss", "hit"]
    assert got[0].json() == got[1].json() and got[1].json()["data"]["enterprise"]["id"] == x
    # a mutation, and a query beyond the panorama, pass by untouched
    assert api.client.post("/graphql", json={"query": "{ me { role } }"}).headers.get("x-cache") is None


def test_a_warning_change_invalidates_its_enterprise_only(cached: tuple[Api, City]) -> None:
    api, city = cached
    x, y = _two_enterprises(city)
    for e in (x, y):
        api.ask(Role.ANALYST, e)
    assert [api.ask(Role.ANALYST, e)[1] for e in (x, y)] == ["hit", "hit"]
    row = {
        "id": f"W-cache-{x}", "rule": "power_drop", "period": "2026-11", "enterprise": x, "meter": None,
        "severity": "high", "message_zh": "用电骤降", "message_en": "power fell", "evidence": "{}",
        "town": None, "figure_sources": [], "figures": "{}", "masked_zh": "", "masked_en": "",
    }  # fmt: skip
    wq.upsert_warnings(city.store, [row], int(time.time() * 1000), "test")
    body, how, _ = api.ask(Role.ANALYST, x)
    assert how == "miss", "the warning's enterprise is read again"
    assert f"W-cache-{x}" in [w["id"] for w in body["data"]["enterprise"]["warnings"]]
    assert api.ask(Role.ANALYST, y)[1] == "hit", "another enterprise's answer stands"
    # its lifecycle too: acknowledging it
    wq.move_status(
        city.store, f"W-cache-{x}", "open", "acknowledged", int(time.time() * 1000),
        note=None, feedback=None, actor="test", action=f"A-{x}",
    )  # fmt: skip
    body, how, _ = api.ask(Role.ANALYST, x)
    assert how == "miss"
    assert {w["id"]: w["status"] for w in body["data"]["enterprise"]["warnings"]}[
        f"W-cache-{x}"
    ] == "acknowledged"
    assert api.ask(Role.ANALYST, y)[1] == "hit"


def test_an_answer_depends_on_the_other_enterprises_it_shows(cached: tuple[Api, City]) -> None:
    """A panorama names related enterprises: a write touching one of them (its rename, say) must reach
    the answer that shows it."""
    api, city = cached
    related = "query ($id: String) { enterprise(id: $id) { id related(first: 20) { enterprise { id } } } }"
    for row in city.store.read("MATCH (e:Enterprise) WHERE e.merged_into IS NULL RETURN e.id AS id"):
        body, _, _ = api.ask(Role.ANALYST, row["id"], related)
        others = {r["enterprise"]["id"] for r in body["data"]["enterprise"]["related"]} - {row["id"]}
        if others:
            break
    else:
        pytest.fail("no enterprise of the test city shows another: the test needs one")
    api.ask(Role.ANALYST, row["id"])
    x, other = row["id"], sorted(others)[0]
    assert api.ask(Role.ANALYST, x)[1] == "hit"
    with touching(enterprises=[other]):
        city.store.write("MATCH (e:Enterprise {id: $id}) SET e.name = 'Renamed Neighbour'", {"id": other})
    body, how, _ = api.ask(Role.ANALYST, x)
    assert how == "miss"
    assert "Renamed Neighbour" in {r["enterprise"]["name"] for r in body["data"]["enterprise"]["related"]}


def test_a_load_invalidates_the_callers_who_may_see_its_dataset(cached: tuple[Api, City]) -> None:
    api, city = cached
    x, _ = _two_enterprises(city)
    for role in (Role.PUBLIC, Role.ANALYST):
        api.ask(role, x)
    # a 有条件 register (not open to the public) writes a record
    record_queries.write_records(
        city.store, "GeneralTaxpayerRegistration",
        [{"id": "jj_general_taxpayers:cache-probe", "hash": "h", "props": {"dataset": "jj_general_taxpayers"},
          "links": []}],
        replaced=set(),
    )  # fmt: skip
    assert api.ask(Role.ANALYST, x)[1] == "miss", "the analyst sees that register"
    assert api.ask(Role.PUBLIC, x)[1] == "hit", "the public does not: its answer cannot have changed"
    # a record of that register linking a shared node (a town) may have changed the node, which records
    # the public sees also link: every answer goes
    record_queries.write_records(
        city.store, "GeneralTaxpayerRegistration",
        [{"id": "jj_general_taxpayers:cache-probe-2", "hash": "h",
          "props": {"dataset": "jj_general_taxpayers"},
          "links": [{"relation": "IN_TOWN", "label": "Town", "key": "town:cache-probe", "props": {}}]}],
        replaced=set(),
    )  # fmt: skip
    assert api.ask(Role.PUBLIC, x)[1] == "miss"
    # an open register's records change what the public sees
    record_queries.write_records(
        city.store, "EnterpriseRegistration",
        [{"id": "jj_enterprise_registration:cache-probe", "hash": "h",
          "props": {"dataset": "jj_enterprise_registration"}, "links": []}],
        replaced=set(),
    )  # fmt: skip
    assert api.ask(Role.PUBLIC, x)[1] == "miss"


def test_a_steward_merge_and_a_resolve_invalidate_what_they_changed(cached: tuple[Api, City]) -> None:
    api, city = cached
    x, y = _two_enterprises(city)
    before = {e: api.ask(Role.ANALYST, e, NAME_ONLY)[0] for e in (x, y)}
    merged = api.client.post(
        "/graphql",
        json={
            "query": "mutation ($l: String!, $s: String!) { mergeEnterprises(loser: $l, survivor: $s, "
            'reason: "cache test") { judgement { id } } }',
            "variables": {"l": y, "s": x},
        },
        headers=api.keys[Role.STEWARD],
    )
    assert "errors" not in merged.json(), merged.text
    body, how, _ = api.ask(Role.ANALYST, y, NAME_ONLY)
    assert how == "miss" and body["data"]["enterprise"]["id"] == x, "the merged-away id now redirects"
    assert body != before[y]
    assert api.ask(Role.ANALYST, x, NAME_ONLY)[1] == "miss"
    assert api.ask(Role.ANALYST, x, NAME_ONLY)[1] == "hit"
    Resolver(city.store, city.catalog, city.model).run()
    assert api.ask(Role.ANALYST, x, NAME_ONLY)[1] == "miss", "a resolve relinks across the city"


def test_any_other_write_invalidates_everything(cached: tuple[Api, City]) -> None:
    api, city = cached
    x, _ = _two_enterprises(city)
    api.ask(Role.ANALYST, x)
    assert api.ask(Role.ANALYST, x)[1] == "hit"
    city.store.write("MATCH (e:Enterprise {id: $id}) SET e.name = 'Renamed Co'", {"id": x})
    body, how, _ = api.ask(Role.ANALYST, x)
    assert how == "miss" and body["data"]["enterprise"]["name"] == "Renamed Co"


def test_the_cache_can_be_turned_off(cached: tuple[Api, City], tmp_path: Path) -> None:
    _, city = cached
    x, _ = _two_enterprises(city)
    settings = api_settings(tmp_path, api_cache_mb=0, api_max_cost=100_000_000, api_max_depth=12)
    with TestClient(create_app(settings, city.store, city.catalog)) as off:
        answers = [off.post("/graphql", json={"query": NAME_ONLY, "variables": {"id": x}}) for _ in range(2)]
    assert all(a.status_code == 200 and "x-cache" not in a.headers for a in answers)
    assert answers[0].json() == answers[1].json()


def test_cached_answers_carry_cors_headers(cached: tuple[Api, City], tmp_path: Path) -> None:
    _, city = cached
    x, _ = _two_enterprises(city)
    origin = "https://dashboard.city.example"
    settings = api_settings(tmp_path, api_cors_origins=origin, api_max_cost=100_000_000, api_max_depth=12)
    with TestClient(create_app(settings, city.store, city.catalog)) as client:
        answers = [
            client.post(
                "/graphql", json={"query": NAME_ONLY, "variables": {"id": x}}, headers={"Origin": origin}
            )
            for _ in range(2)
        ]
    assert [a.headers.get("x-cache") for a in answers] == ["miss", "hit"]
    assert all(a.headers.get("access-control-allow-origin") == origin for a in answers)


def test_only_queries_for_the_panorama_are_cacheable() -> None:
    assert cacheable(PANORAMA, None) and cacheable(NAME_ONLY, None)
    assert cacheable('query A { enterprise(id: "x") { id } } query B { me { role } }', "A")
    assert not cacheable('query A { enterprise(id: "x") { id } } query B { me { role } }', "B")
    assert not cacheable('query A { enterprise(id: "x") { id } } query B { me { role } }', None)
    assert not cacheable('{ enterprise(id: "x") { id } me { role } }', None)
    assert not cacheable('mutation { mergeEnterprises(loser: "a", survivor: "b") { ok } }', None)
    assert not cacheable('{ ...F } fragment F on Query { enterprise(id: "x") { id } }', None)
    assert not cacheable("{ enterprise(id: ", None)
    assert not cacheable('{ enterprise(id: "x") { id } }' + " " * MAX_DOCUMENT, None), "too long to look at"
