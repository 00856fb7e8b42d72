"""The review queue at city scale over HTTP: ordered by stake, a queue per town, and acceptTasks (one
judgement per task, one resolver run), refused below the steward role."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from entgraph.api.app import create_app
from entgraph.api.auth import Role, issue_token
from entgraph.api.graphql_client import data_of, post_graphql
from entgraph.city_fixtures import mention_links
from entgraph.settings import Settings

SECRET = "q" * 40
QUEUE = """query($order: TaskOrder!) { stewardTasks(first: 50, orderBy: $order) {
  id town impact stake stakeExplanation stakeBreakdown(first: 10) { category label records weight stake }
  candidates(first: 1) { enterpriseId probability } mentions } }"""
TOWNS = "{ stewardTownQueues { town tasks records stake } }"
ACCEPT = """mutation($ids: [String!]!) { acceptTasks(ids: $ids, reason: "checked the group") {
  accepted changedEnterprises summary
  outcomes { taskId accepted skipped taskStatus judgement { id kind subject object user task reason } } } }"""


def bearer(role: Role, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SecretStr(SECRET), role, subject, 600)}"}


STEWARD = bearer(Role.STEWARD, "bob")


def _app(city: Any, home: Path) -> TestClient:
    (home / "resolution").mkdir(parents=True, exist_ok=True)
    shutil.copy(city.model, home / "resolution" / "model.json")
    settings = Settings(
        home=home, api_mode="development", api_jwt_secret=SECRET, api_keys_file=home / "k.toml"
    )
    return TestClient(create_app(settings, city.store, city.catalog))


@pytest.fixture(scope="module")
def client(resolved_city: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with _app(resolved_city, tmp_path_factory.mktemp("queue-api")) as test_client:
        yield test_client


def ok(client: TestClient, query: str, headers: dict[str, str] | None = STEWARD, **variables: Any) -> dict:
    return data_of(post_graphql(client, query, headers, **variables))


def test_the_queue_is_ordered_by_stake_and_explains_it(client: TestClient) -> None:
    tasks = ok(client, QUEUE, order="STAKE")["stewardTasks"]
    assert tasks
    keys = [(t["stake"], t["impact"]) for t in tasks]
    assert keys == sorted(keys, reverse=True)
    for task in tasks:
        shares = task["stakeBreakdown"]
        assert sum(s["records"] for s in shares) == task["impact"]
        assert sum(s["stake"] for s in shares) == pytest.approx(task["stake"])
        assert all(s["stake"] == pytest.approx(s["records"] * s["weight"]) for s in shares)
        assert all(f"{s['records']} {s['label']}" in task["stakeExplanation"] for s in shares)
    by_impact = ok(client, QUEUE, order="IMPACT")["stewardTasks"]
    keys = [(t["impact"], t["stake"]) for t in by_impact]
    assert keys == sorted(keys, reverse=True)
    assert {t["id"] for t in by_impact} == {t["id"] for t in tasks}


def test_town_queues_are_the_sums_of_their_tasks(client: TestClient) -> None:
    tasks = ok(client, QUEUE, order="STAKE")["stewardTasks"]
    queues = ok(client, TOWNS)["stewardTownQueues"]
    assert {q["town"] for q in queues} == {t["town"] for t in tasks}
    for queue in queues:
        mine = [t for t in tasks if t["town"] == queue["town"]]
        assert queue["tasks"] == len(mine)
        assert queue["records"] == sum(t["impact"] for t in mine)
        assert queue["stake"] == pytest.approx(sum(t["stake"] for t in mine))
    assert [q["stake"] for q in queues] == sorted((q["stake"] for q in queues), reverse=True)


@pytest.mark.parametrize("query", [TOWNS, ACCEPT])
def test_public_and_analyst_are_refused(client: TestClient, resolved_city: Any, query: str) -> None:
    for headers in ({}, bearer(Role.ANALYST, "ann")):
        body = post_graphql(client, query, headers, ids=["T-x"])
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert body["errors"][0]["extensions"]["requiredRole"] == "steward"
    assert not resolved_city.store.read("MATCH (j:Judgement) WHERE j.task IS NOT NULL RETURN j LIMIT 1")


def test_accept_tasks_one_judgement_each_one_run_each_undone_alone(
    resolved_city_copy: Any, tmp_path: Path
) -> None:
    store = resolved_city_copy.store
    with _app(resolved_city_copy, tmp_path) as api:
        tasks = [t for t in ok(api, QUEUE, order="STAKE")["stewardTasks"] if t["candidates"]][:2]
        assert len(tasks) == 2
        unknown = post_graphql(api, ACCEPT, STEWARD, ids=[tasks[0]["id"], "T-nope"])
        assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert post_graphql(api, ACCEPT, STEWARD, ids=[])["errors"][0]["extensions"]["code"] == "BAD_INPUT"

        runs = store.read("MATCH (x:ResolutionRun) RETURN count(x) AS n")[0]["n"]
        result = ok(api, ACCEPT, ids=[t["id"] for t in tasks])["acceptTasks"]
        assert store.read("MATCH (x:ResolutionRun) RETURN count(x) AS n")[0]["n"] == runs + 1
        assert result["accepted"] == 2
        best = {t["id"]: t["candidates"][0]["enterpriseId"] for t in tasks}
        judgements = {}
        for outcome in result["outcomes"]:
            j = outcome["judgement"]
            assert outcome["accepted"] and outcome["taskStatus"] == "resolved" and not outcome["skipped"]
            assert (j["kind"], j["object"], j["task"], j["user"]) == (
                "link",
                best[j["task"]],
                j["task"],
                "bob",
            )
            judgements[j["task"]] = j["id"]
        assert set(best.values()) <= set(result["changedEnterprises"])
        for task in tasks:
            linked = mention_links(store, task["mentions"])
            assert set(linked.values()) == {(best[task["id"]], "steward")}

        again = ok(api, ACCEPT, ids=[tasks[0]["id"]])["acceptTasks"]
        assert again["accepted"] == 0 and again["outcomes"][0]["skipped"] == "already resolved"

        undo = "mutation($j: String!) { undoJudgement(id: $j) { judgement { undone } } }"
        assert ok(api, undo, j=judgements[tasks[0]["id"]])["undoJudgement"]["judgement"]["undone"]
        assert "steward" not in {
            m for _e, m in filter(None, mention_links(store, tasks[0]["mentions"]).values())
        }
        assert set(mention_links(store, tasks[1]["mentions"]).values()) == {(best[tasks[1]["id"]], "steward")}
