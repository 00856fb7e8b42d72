"""Stewards at city scale: tasks weighed by what is at stake, a queue per town, and bulk accepts (by ids
and by filter, from the CLI), against the real embedded store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from entgraph.city_fixtures import graph_env, mention_links, write_csv
from entgraph.cli import app
from entgraph.graph import judgement_queries, resolution_schema, task_queries
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.port import GraphStore
from entgraph.loaders.engine import Loader
from entgraph.resolution.resolver import Resolver, _group_tasks
from entgraph.resolution.stake import StakeTable, default_table, describe, stake_of
from entgraph.resolution.steward import Steward, StewardError, stake_lines

pytestmark = pytest.mark.stores

NOW = "2025-06-01T08:00:00+00:00"


def _row(key: str, record: str, dataset: str, town: str = "安海镇") -> dict[str, Any]:
    return {
        "key": key,
        "mention_id": f"{record}|subject",
        "record_id": record,
        "dataset": dataset,
        "town": town,
        "name": key.removeprefix("name:").split("|")[0],
        "candidates": [{"enterprise_id": "E-1", "probability": 0.9, "match_weight": 3.0, "explanation": []}],
        "parked": False,
    }


def test_tax_electricity_and_credit_records_weigh_more_than_a_park_list() -> None:
    table = default_table()
    park = table.classify("jj_park_enterprises")
    for dataset in ("jj_tax_declarations", "wh_tax_revenue", "jj_key_enterprise_electricity"):
        assert table.classify(dataset)[1] > park[1], dataset
    for dataset in ("wh_enterprise_electricity", "wh_credit_wuhai", "wh_market_supervision_credit"):
        assert table.classify(dataset)[1] > park[1], dataset
    assert table.classify("jj_tax_declarations")[0] == "tax"
    assert table.classify("jj_key_enterprise_electricity")[0] == "electricity"  # 市供电公司
    assert table.classify("wh_credit_wuhai")[0] == "credit"
    # a dataset outside the catalog is classified by its key, else weighs the default
    assert table.classify("xx_tax_arrears")[0] == "tax"
    assert table.classify("xx_unknown") == ("other", table.default)

    pairs = [("r1", "jj_tax_declarations"), ("r1", "jj_tax_declarations"), ("r2", "jj_tax_net_receipts")]
    entries = table.entries([*pairs, ("r3", "wh_enterprise_electricity")])
    assert len(entries) == 3  # one entry per record, however many parties write the name
    lines = table.explain(entries)
    assert [(x.category, x.records) for x in lines] == [("tax", 2), ("electricity", 1)]
    assert stake_of(entries) == sum(x.stake for x in lines)
    assert describe(lines).startswith("2 税务 tax records")


def test_the_table_is_data(tmp_path: Path) -> None:
    own = tmp_path / "stake.toml"
    own.write_text(
        'default = 2.0\n[[category]]\nkey = "park"\nweight = 9\ndatasets = ["jj_park_enterprises"]\n'
    )
    table = StakeTable.load(path=own)
    assert table.classify("jj_park_enterprises") == ("park", 9.0)
    assert table.classify("jj_tax_declarations") == ("other", 2.0)
    own.write_text("[[category]]\nweight = 1\n")
    with pytest.raises(Exception, match="needs a key"):
        StakeTable.load(path=own)


def test_tasks_are_ordered_by_stake_then_impact_and_queued_per_town(fresh_graph: GraphStore) -> None:
    store = fresh_graph
    store.ensure_schema(resolution_schema.RESOLUTION_SCHEMA)
    park = "name:园区甲|安海镇"
    taxed = "name:税电乙|安海镇"
    bigger_park = "name:园区丙|池店镇"
    rows = [
        _row(park, "R-p1", "jj_park_enterprises"),
        _row(park, "R-p2", "jj_park_enterprises"),
        _row(taxed, "R-t1", "jj_tax_declarations"),
        _row(taxed, "R-e1", "wh_enterprise_electricity"),
        *(_row(bigger_park, f"R-q{n}", "jj_park_enterprises", "池店镇") for n in range(3)),
    ]
    task_queries.upsert_tasks(store, _group_tasks(rows, NOW))
    by_stake = task_queries.tasks(store)
    ids = {t["mention_key"]: t["id"] for t in by_stake}
    # equal impact (2 records each): the tax and electricity records rank above the park list's
    assert [t["mention_key"] for t in by_stake] == [taxed, bigger_park, park]
    assert [t["stake"] for t in by_stake] == [9.0, 1.5, 1.0]
    assert [t["mention_key"] for t in task_queries.tasks(store, order="impact")] == [bigger_park, taxed, park]
    assert describe(stake_lines(by_stake[0])) == "1 税务 tax record (×5), 1 电力 electricity record (×4)"

    # records accumulate over runs, and so does the stake: a record met again is not counted twice
    again = [_row(park, "R-p2", "jj_park_enterprises"), _row(park, "R-t9", "jj_tax_net_receipts")]
    task_queries.upsert_tasks(store, _group_tasks(again, NOW))
    task = task_queries.task(store, ids[park])
    assert (task["impact"], task["stake"]) == (3, 6.0)
    assert task_queries.tasks(store)[0]["id"] == ids[taxed]

    queues = {q["town"]: q for q in task_queries.town_queues(store)}
    assert set(queues) == {"安海镇", "池店镇"}
    for town, queue in queues.items():
        mine = task_queries.tasks(store, town=town)
        assert queue["tasks"] == len(mine)
        assert queue["records"] == sum(t["impact"] for t in mine)
        assert queue["stake"] == pytest.approx(sum(t["stake"] for t in mine))
    assert [q["town"] for q in task_queries.town_queues(store)] == ["安海镇", "池店镇"]  # largest stake first
    with pytest.raises(ValueError, match="order"):
        task_queries.tasks(store, order="name")


# --- bulk accept on a resolved city -----------------------------------------------------------------


def _open_with_candidates(steward: Steward, **filters: Any) -> list[dict[str, Any]]:
    return [t for t in steward.tasks("open", **filters) if json.loads(t.get("candidates") or "[]")]


def _task_judgements(store: FalkorDBStore) -> list[dict[str, Any]]:
    """Active judgements made on tasks (not the resolver's own merges)."""
    return [j for j in judgement_queries.judgements(store) if j.get("task")]


def _runs(store: FalkorDBStore) -> int:
    return store.read("MATCH (x:ResolutionRun) RETURN count(x) AS n")[0]["n"]


def test_bulk_accept_by_ids_one_judgement_each_one_run_each_undone_alone(resolved_city_copy: Any) -> None:
    store, catalog = resolved_city_copy.store, resolved_city_copy.catalog
    steward = Steward(store, catalog, Resolver(store, catalog, resolved_city_copy.model), "tester")
    tasks = _open_with_candidates(steward)[:2]
    assert len(tasks) == 2, "the city has open tasks to review"
    best = {t["id"]: json.loads(t["candidates"])[0]["enterprise_id"] for t in tasks}
    with pytest.raises(StewardError, match="no steward task T-nope"):
        steward.accept_many([tasks[0]["id"], "T-nope"])
    assert not _task_judgements(store), "an unknown id refuses the whole request"

    runs = _runs(store)
    outcome = steward.accept_many([t["id"] for t in tasks], reason="reviewed together")
    assert _runs(store) == runs + 1, "one resolver run for the whole group"
    assert [o.task_id for o in outcome.accepted] == [t["id"] for t in tasks]
    judgements = {j["task"]: j for j in _task_judgements(store)}
    assert set(judgements) == set(best)
    for task in tasks:
        j = judgements[task["id"]]
        assert (j["kind"], j["object"], j["subject"]) == ("link", best[task["id"]], task["mention_key"])
        assert j["reason"] == "reviewed together" and set(j["records"]) == set(task["record_ids"])
        assert task_queries.task(store, task["id"])["status"] == "resolved"
        assert set(mention_links(store, task["mention_ids"]).values()) == {(best[task["id"]], "steward")}

    # a task accepted twice is skipped, and says so
    again = steward.accept_many([tasks[0]["id"]])
    assert again.accepted == [] and again.outcomes[0].skipped == "already resolved"

    first, second = tasks
    steward.undo(judgements[first["id"]]["id"])
    assert "steward" not in {m for _e, m in filter(None, mention_links(store, first["mention_ids"]).values())}
    assert set(mention_links(store, second["mention_ids"]).values()) == {(best[second["id"]], "steward")}
    assert [j["task"] for j in _task_judgements(store)] == [second["id"]]


def test_cli_bulk_accept_by_filter_shows_then_needs_yes(resolved_city_copy: Any, tmp_path: Path) -> None:
    store, catalog = resolved_city_copy.store, resolved_city_copy.catalog
    steward = Steward(store, catalog, Resolver(store, catalog, resolved_city_copy.model), "tester")
    # the reviewed group: every open task whose best candidate is likely
    chosen = _open_with_candidates(steward, min_probability=0.5)
    datasets = [d for t in steward.tasks() for d in t["datasets"]]
    dataset = max(sorted(set(datasets)), key=datasets.count)
    assert len(chosen) >= 2, "the city has a group of tasks to accept together"

    (tmp_path / "resolution").mkdir()
    shutil.copy(resolved_city_copy.model, tmp_path / "resolution" / "model.json")
    env = {"ENTGRAPH_HOME": str(tmp_path), "ENTGRAPH_USER": "town-steward", **graph_env(store)}
    runner = CliRunner()
    towns = runner.invoke(app, ["steward", "towns"], env=env)
    assert towns.exit_code == 0, towns.output
    queues = task_queries.town_queues(store)
    total = next(line.split() for line in towns.output.splitlines() if line.startswith("total"))
    assert total[1:3] == [str(sum(q["tasks"] for q in queues)), str(sum(q["records"] for q in queues))]
    assert all((q["town"] or "(none)") in towns.output for q in queues)

    listed = runner.invoke(app, ["steward", "tasks", "--dataset", dataset, "--order", "impact"], env=env)
    assert listed.exit_code == 0 and "by impact" in listed.output
    assert all(t["id"] in listed.output for t in steward.tasks("open", dataset=dataset))

    args = ["steward", "accept", "--min-probability", "0.5", "--reason", "镇街核实"]
    dry = runner.invoke(app, args, env=env)
    assert dry.exit_code == 0, dry.output
    assert f"will accept the best candidate of {len(chosen)} open task(s)" in dry.output
    assert all(t["id"] in dry.output for t in chosen) and "--yes" in dry.output
    assert not _task_judgements(store), "without --yes nothing is accepted"

    done = runner.invoke(app, [*args, "--yes"], env=env)
    assert done.exit_code == 0, done.output
    assert f"accepted {len(chosen)} of {len(chosen)} task(s) by town-steward" in done.output
    judgements = _task_judgements(store)
    assert sorted(j["task"] for j in judgements) == sorted(t["id"] for t in chosen)
    assert {j["user"] for j in judgements} == {"town-steward"}
    for task in chosen:
        assert task_queries.task(store, task["id"])["status"] == "resolved"

    both = runner.invoke(app, ["steward", "accept", chosen[0]["id"], "--town", "安海镇"], env=env)
    assert both.exit_code != 0 and "not both" in both.output


def test_a_record_naming_no_town_is_queued_at_its_likeliest_enterprises_town(resolved_city_copy: Any) -> None:
    """Seed 001: what cannot be matched goes to the towns to verify. Most department records name no
    town; their tasks go to the town of the best candidate, so every town's queue is complete."""
    store = resolved_city_copy.store
    tasks = store.read(
        "MATCH (t:StewardTask {status: 'open'}) RETURN t.town AS town, t.candidates AS c, t.mention_key AS k"
    )
    with_candidates = [t for t in tasks if json.loads(t["c"] or "[]")]
    assert with_candidates
    query = "MATCH (e:Enterprise) WHERE e.town IS NOT NULL RETURN e.id AS id, e.town AS town"
    towns = {row["id"]: row["town"] for row in store.read(query)}
    for task in with_candidates:
        best = json.loads(task["c"])[0]["enterprise_id"]
        written = task["k"].rpartition("|")[2]  # the town the records wrote, part of the task's key
        assert task["town"] == (written or towns.get(best)), task


def test_deciding_one_record_of_a_task_leaves_the_task_open_with_the_others(
    resolved_city_copy: Any, tmp_path: Path
) -> None:
    store, catalog = resolved_city_copy.store, resolved_city_copy.catalog
    resolver = Resolver(store, catalog, resolved_city_copy.model)
    steward = Steward(store, catalog, resolver, "tester")
    ambiguous = _open_with_candidates(steward)[0]
    # a list names that name twice, with nothing else: one task for both records
    write_csv(
        tmp_path / "瞪羚企业名单.csv",
        ["企业名称", "认定时间", "联系方式", "联系人", "负责人"],
        [[ambiguous["name"], "2023-03-01", "", "", ""], [ambiguous["name"], "2023-04-01", "", "", ""]],
    )
    Loader(store, catalog, tmp_path / "reports").load(tmp_path / "瞪羚企业名单.csv")
    resolver.run()
    task = next(t for t in steward.tasks("open") if "jj_gazelle_enterprises" in t["datasets"])
    first, second = [m for m in task["mention_ids"] if "jj_gazelle_enterprises" in m]
    target = json.loads(task["candidates"])[0]["enterprise_id"]

    steward.link(first, target, reason="this record only")
    after = task_queries.task(store, task["id"])
    assert after["status"] == "open", "the other record still waits for a steward"
    assert first not in after["mention_ids"] and second in after["mention_ids"]
    assert after["impact"] == len(after["record_ids"]) == len(task["record_ids"]) - 1
    assert mention_links(store, [first])[first] == (target, "steward")
    assert mention_links(store, [second])[second] is None

    # deciding the rest (the task's name) closes it
    steward.link(task["id"], target, reason="the rest too")
    assert task_queries.task(store, task["id"])["status"] == "resolved"
    assert mention_links(store, [second])[second] == (target, "steward")
