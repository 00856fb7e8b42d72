"""Resolution end to end on a generated city in the real embedded store: deterministic ids, export,
evaluation against truth, every steward operation and its undo, and replay after a rerun from scratch."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from entgraph.catalog.registry import Catalog
from entgraph.graph import judgement_queries, mention_queries, task_queries
from entgraph.graph.port import GraphStore
from entgraph.loaders.engine import Loader
from entgraph.resolution.evaluate import evaluate, read_truth
from entgraph.resolution.export import COLUMNS, export_links, link_rows
from entgraph.resolution.resolver import Bands, Resolver
from entgraph.resolution.steward import Steward, StewardError
from entgraph.synthetic import generate_city

pytestmark = [pytest.mark.slow, pytest.mark.stores]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(300, seed=11, out_dir=out)
    return out


@pytest.fixture(scope="module")
def loaded(
    new_graph: Callable[[str], GraphStore], city: Path, catalog: Catalog, tmp_path_factory
) -> Iterator[GraphStore]:
    store = new_graph("resolve")
    loader = Loader(store, catalog, tmp_path_factory.mktemp("reports"))
    for path in sorted(p for p in city.iterdir() if p.is_file()):
        loader.load(path)
    yield store
    store.clear()
    store.close()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model") / "model.json"


@pytest.fixture(scope="module")
def resolver(loaded: GraphStore, catalog: Catalog, model_path: Path) -> Resolver:
    resolver = Resolver(loaded, catalog, model_path, Bands())
    summary = resolver.run()
    assert summary.trained and model_path.exists()
    # the summary adds up: each mention decided or awaiting a steward; tasks group them by name
    assert summary.mentions == sum(summary.methods.values()) + summary.tasks
    assert 0 < summary.task_groups <= summary.tasks
    open_tasks = loaded.read("MATCH (t:StewardTask {status: 'open'}) RETURN count(t) AS n")[0]["n"]
    assert summary.task_groups == open_tasks
    enterprises = loaded.read("MATCH (e:Enterprise) RETURN e.id AS id")
    assert summary.enterprises_created == len(enterprises)
    assert summary.enterprises_coded == sum(1 for e in enterprises if not e["id"].startswith("P-"))
    line = summary.line()
    assert f"{summary.tasks} awaiting a steward in {summary.task_groups} tasks" in line, line
    return resolver


def _links(store: GraphStore) -> dict[tuple[str, str], str]:
    rows = store.read(
        "MATCH (r:SourceRecord)-[a:ABOUT]->(e:Enterprise) RETURN r.id AS r, a.party AS p, e.id AS e"
    )
    return {(row["r"], row["p"]): row["e"] for row in rows}


def test_coded_records_link_to_ids_derived_from_their_code(resolver: Resolver, loaded: GraphStore) -> None:
    rows = loaded.read(
        "MATCH (r:SourceRecord)-[a:ABOUT {method: 'credit_code'}]->(e:Enterprise) "
        "RETURN e.id AS id, e.credit_code AS code LIMIT 200"
    )
    assert rows
    assert all(row["id"] == f"E-{row['code']}" for row in rows)
    # every enterprise dataset record was considered: none is left pending
    pending = loaded.read(
        "MATCH (r:SourceRecord) WHERE r.retired IS NULL AND r.to_resolve = 1 "
        "AND r.dataset IN $ds RETURN count(r) AS c",
        {"ds": ["jj_enterprise_registration", "jj_tax_registration"]},
    )
    assert pending == [{"c": 0}]


class _Watched:
    """The real store, with the Cypher of every read kept (to see what a run bothered to read)."""

    def __init__(self, store: GraphStore) -> None:
        self._store, self.reads = store, []

    def read(self, query, params=None, **options):
        self.reads.append(query)
        return self._store.read(query, params, **options)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_a_second_run_finds_nothing_to_do(
    resolver: Resolver, loaded: GraphStore, catalog: Catalog, model_path: Path
) -> None:
    before = _links(loaded)
    watched = _Watched(loaded)
    summary = Resolver(watched, catalog, model_path, Bands()).run()  # type: ignore[arg-type]
    assert (summary.records, summary.mentions) == (0, 0)
    assert _links(loaded) == before
    # nothing pending: the city's enterprises are not read (what a scheduled run would cost at scale)
    assert watched.reads and not [q for q in watched.reads if "MATCH (e:Enterprise)" in q]
    runs = loaded.read("MATCH (x:ResolutionRun) RETURN x.status AS s")
    assert runs and all(row["s"] == "done" for row in runs)


def test_export_has_one_line_per_row_and_party(
    resolver: Resolver, loaded: GraphStore, catalog: Catalog, tmp_path: Path, city: Path
) -> None:
    out = tmp_path / "links.csv"
    count = export_links(loaded, catalog, out)
    with out.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        lines = list(reader)
    assert len(lines) == count
    records = loaded.read("MATCH (r:SourceRecord) WHERE r.retired IS NULL RETURN count(r) AS c")[0]["c"]
    assert count >= records
    # rows are numbered as a spreadsheet shows them: the truth file's keys are found
    truth = read_truth(city / "truth" / "truth.csv")
    keys = {(x["file"], x["sheet"], int(x["row"]), x["party"] or "subject") for x in lines}
    linked_truth = [k for k in truth if k in keys]
    assert len(linked_truth) > 0.9 * len(truth)


def test_every_party_awaiting_a_steward_is_exported(
    resolver: Resolver, loaded: GraphStore, catalog: Catalog
) -> None:
    """A record may have one party linked and another awaiting a steward: both are exported."""
    waiting = {
        mention for task in task_queries.tasks(loaded, "open") for mention in task.get("mention_ids") or []
    }
    assert waiting
    exported = {f"{row.record_id}|{row.party}": row.method for row in link_rows(loaded, catalog)}
    assert {m: exported.get(m) for m in waiting} == dict.fromkeys(waiting, "awaiting_steward")


def test_resolution_is_accurate_on_the_small_city(
    resolver: Resolver, loaded: GraphStore, catalog: Catalog, city: Path
) -> None:
    result = evaluate(read_truth(city / "truth" / "truth.csv"), link_rows(loaded, catalog))
    assert result.codeless > 100
    assert result.pairwise_precision >= 0.97, result.lines()
    assert result.pairwise_recall >= 0.85, result.lines()
    assert result.steward_share <= 0.10, result.lines()


def _steward(loaded: GraphStore, catalog: Catalog, resolver: Resolver) -> Steward:
    return Steward(loaded, catalog, resolver, "tester")


def _some_splink_link(loaded: GraphStore) -> tuple[str, str, str]:
    rows = loaded.read(
        "MATCH (r:SourceRecord)-[a:ABOUT]->(e:Enterprise) WHERE a.method IN ['splink', 'org_code'] "
        "RETURN r.id AS r, a.party AS p, e.id AS e ORDER BY r.id LIMIT 1"
    )
    assert rows, "the city should have code-less records linked by matching"
    return rows[0]["r"], rows[0]["p"], rows[0]["e"]


def test_split_then_undo(resolver: Resolver, loaded: GraphStore, catalog: Catalog) -> None:
    steward = _steward(loaded, catalog, resolver)
    record, party, enterprise = _some_splink_link(loaded)
    outcome = steward.split([f"{record}|{party}"], reason="different phone")
    moved = _links(loaded)[(record, party)]
    assert moved != enterprise and moved.startswith("P-")
    # replayed: a rerun does not put it back
    mention_queries.mark_pending(loaded, [record])
    resolver.run()
    assert _links(loaded)[(record, party)] == moved
    steward.undo(outcome.judgement.id)
    assert _links(loaded)[(record, party)] == enterprise


def test_merge_then_undo_and_branches_are_never_merged(
    resolver: Resolver, loaded: GraphStore, catalog: Catalog
) -> None:
    steward = _steward(loaded, catalog, resolver)
    pair = loaded.read(
        "MATCH (b:Enterprise)-[:BRANCH_OF]->(p:Enterprise) RETURN b.id AS b, p.id AS p LIMIT 1"
    )
    assert pair, "the generated city has branches (分公司) linked to their parents"
    with pytest.raises(StewardError, match="branch"):
        steward.merge(pair[0]["b"], pair[0]["p"])
    ids = [
        r["id"]
        for r in loaded.read(
            "MATCH (e:Enterprise) WHERE e.credit_code IS NOT NULL AND e.kind = 'enterprise' "
            "RETURN e.id AS id ORDER BY e.id LIMIT 2"
        )
    ]
    loser, survivor = ids
    of_loser = {key for key, target in _links(loaded).items() if target == loser}
    assert of_loser
    outcome = steward.merge(loser, survivor, reason="same company, two codes")
    links = _links(loaded)
    assert {links[key] for key in of_loser} == {survivor}
    assert loaded.read(
        "MATCH (:Enterprise {id: $l})-[:REDIRECTS_TO]->(e) RETURN e.id AS e", {"l": loser}
    ) == [{"e": survivor}]
    with pytest.raises(StewardError, match="already merged"):
        steward.merge(loser, survivor)
    steward.undo(outcome.judgement.id)
    links = _links(loaded)
    assert {links[key] for key in of_loser} == {loser}
    with pytest.raises(StewardError, match="already undone"):
        steward.undo(outcome.judgement.id)


def test_link_a_record_to_another_enterprise_then_undo(
    resolver: Resolver, loaded: GraphStore, catalog: Catalog
) -> None:
    steward = _steward(loaded, catalog, resolver)
    record, party, enterprise = _some_splink_link(loaded)
    other = loaded.read(
        "MATCH (e:Enterprise) WHERE e.id <> $e AND e.merged_into IS NULL "
        "RETURN e.id AS id ORDER BY e.id LIMIT 1",
        {"e": enterprise},
    )[0]["id"]
    outcome = steward.link(f"{record}|{party}", other, reason="checked the licence")
    assert _links(loaded)[(record, party)] == other
    assert (
        loaded.read("MATCH (r:SourceRecord {id: $r})-[a:ABOUT]->() RETURN a.method AS m", {"r": record})[0][
            "m"
        ]
        == "steward"
    )
    steward.undo(outcome.judgement.id)
    assert _links(loaded)[(record, party)] == enterprise


def test_task_accept_reject_unsure_and_undo(resolver: Resolver, loaded: GraphStore, catalog: Catalog) -> None:
    # Widen the review band so that this small city surely has tasks.
    wide = Resolver(loaded, catalog, resolver.model_path, Bands(link=0.999999, review=0.05))
    steward = Steward(loaded, catalog, wide, "tester")
    record, _party, _enterprise = _some_splink_link(loaded)
    mention_queries.mark_pending(loaded, [record])
    wide.run()
    tasks = steward.tasks()
    assert tasks, "a link below 0.999999 must become a task in the wide band"
    task = steward.task(tasks[0]["id"])
    assert task["candidates"] and task["candidates"][0]["explanation"]
    best = task["candidates"][0]["enterprise_id"]

    accepted = steward.accept(task["id"])
    assert task_queries.task(loaded, task["id"])["status"] == "resolved"
    assert all(
        _links(loaded).get((rid, "subject")) == best
        for rid in task["record_ids"]
        if (rid, "subject") in _links(loaded)
    )
    steward.undo(accepted.judgement.id)
    assert task_queries.task(loaded, task["id"])["status"] == "open"

    rejected = steward.reject(task["id"], best, reason="different legal representative")
    current = steward.task(task["id"]) if task_queries.task(loaded, task["id"])["status"] == "open" else None
    if current is not None:
        assert best not in [c["enterprise_id"] for c in current["candidates"]]
    now = _links(loaded)
    still = [
        (
            rid,
            now.get((rid, "subject")),
            loaded.read(
                "MATCH (r:SourceRecord {id: $r})-[a:ABOUT]->(e) "
                "RETURN a.method AS m, a.party AS p, e.id AS e",
                {"r": rid},
            ),
        )
        for rid in task["record_ids"]
        if now.get((rid, "subject")) == best
    ]
    assert not still, (task["mention_key"], still)
    steward.undo(rejected.judgement.id)

    if task_queries.task(loaded, task["id"])["status"] == "open":
        steward.unsure(task["id"])
        assert task_queries.task(loaded, task["id"])["status"] == "unsure"
        assert task["id"] in {t["id"] for t in steward.tasks("unsure")}
    resolver.run()  # back to the default band


def test_judgements_survive_a_rerun_from_scratch(
    resolver: Resolver, loaded: GraphStore, catalog: Catalog
) -> None:
    steward = _steward(loaded, catalog, resolver)
    record, party, enterprise = _some_splink_link(loaded)
    other = loaded.read(
        "MATCH (e:Enterprise) WHERE e.id <> $e AND e.id STARTS WITH 'E-' AND e.merged_into IS NULL "
        "RETURN e.id AS id ORDER BY e.id DESC LIMIT 1",
        {"e": enterprise},
    )[0]["id"]
    steward.link(f"{record}|{party}", other)
    coded_before = {k: v for k, v in _links(loaded).items() if v.startswith("E-")}
    summary = resolver.run(from_scratch=True)
    assert summary.records > 0
    after = _links(loaded)
    assert after[(record, party)] == other
    same = sum(after.get(k) == v for k, v in coded_before.items())
    assert same >= 0.99 * len(coded_before)
    active = [j for j in judgement_queries.judgements(loaded) if j["kind"] == "link" and j["object"] == other]
    assert active and json.dumps(active[0]["records"])


def test_enterprises_carry_golden_values_region_and_representative(
    resolver: Resolver, loaded: GraphStore
) -> None:
    rows = loaded.read(
        "MATCH (e:Enterprise)-[:REGISTERED_IN]->(g:Region) WHERE e.credit_code STARTS WITH '9135058' "
        "MATCH (e)-[:LEGAL_REP]->(p:Person) RETURN e AS e, g.name AS region, p.name AS rep LIMIT 20"
    )
    assert rows
    for row in rows:
        e = dict(row["e"])
        assert row["region"] == "晋江市"
        assert row["rep"] == e["legal_rep"]
        sources = json.loads(e["golden_sources"])
        assert sources["legal_rep"][0]  # the record the value came from
    # the name shown is a market regulator's (priority 0) when it has a record of the enterprise
    rows = loaded.read(
        "MATCH (r:SourceRecord {dataset: 'jj_enterprise_registration'})-[:ABOUT]->(e:Enterprise) "
        "RETURN e.golden_sources AS s LIMIT 20"
    )
    assert rows
    assert all(json.loads(row["s"])["name"][2] == 0 for row in rows)
