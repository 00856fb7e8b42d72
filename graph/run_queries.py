"""Resolution runs: started, finished, rolled back when killed, or every result forgotten for a rerun."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from entgraph.graph.port import GraphStore


def start_run(store: GraphStore, run: Mapping[str, Any]) -> None:
    store.write("CREATE (x:ResolutionRun) SET x = $run", {"run": dict(run)})


def unfinished_runs(store: GraphStore) -> list[dict[str, Any]]:
    return [dict(row["x"]) for row in store.read("MATCH (x:ResolutionRun {status: 'running'}) RETURN x AS x")]


def finish_run(store: GraphStore, run_id: str, props: Mapping[str, Any]) -> None:
    store.write("MATCH (x:ResolutionRun {id: $id}) SET x += $props", {"id": run_id, "props": dict(props)})


def roll_back_run(store: GraphStore, run_id: str) -> None:
    """Undo what a killed run created: its new enterprises go, and every record linked to them is
    pending again. (Changes to older enterprises need no undo: the rerun offers the same records.)"""
    store.write(
        "MATCH (r:SourceRecord)-[:ABOUT]->(e:Enterprise {created_run: $id}) SET r.to_resolve = 1",
        {"id": run_id},
    )
    store.write("MATCH (e:Enterprise {created_run: $id}) DETACH DELETE e", {"id": run_id})
    store.write("MATCH (x:ResolutionRun {id: $id}) SET x.status = 'rolled_back'", {"id": run_id})


def reset_resolution(store: GraphStore) -> None:
    """Forget every result of resolution (not the judgements): for a rerun from scratch."""
    store.write("MATCH ()-[a:ABOUT]->() DELETE a")
    for label in ("Enterprise", "Identifier", "StewardTask", "Person"):
        store.write(f"MATCH (n:{label}) DETACH DELETE n")
    store.write(
        "MATCH (r:SourceRecord) WHERE r.resolved_hash IS NOT NULL SET r.to_resolve = 1 REMOVE r.resolved_hash"
    )
