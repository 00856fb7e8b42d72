"""Batched MERGE throughput of the graph store, as ratios against a one-row-per-statement baseline.

    python -m bench.store [--nodes 100000] [--batch-sizes 1000 10000] [--graph embedded]

The baseline (one MERGE statement per row) runs in the same process against the same server, so the
ratios hold on a noisy machine even when the absolute figures move. An embedded store gets a fresh
data home in a temporary directory; a configured store (ENTGRAPH_GRAPH) gets a scratch graph.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from entgraph.graph import GraphSchema, GraphStore, PropertyIndex, UniqueKey, open_store
from entgraph.graph.embedded_server import EmbeddedServer
from entgraph.settings import Settings

SCHEMA = GraphSchema(unique=(UniqueKey("BenchNode", "id"),), indexes=(PropertyIndex("BenchNode", "town"),))
MERGE = (
    "UNWIND $rows AS row MERGE (n:BenchNode {id: row.id}) "
    "SET n.name = row.name, n.town = row.town, n.capital = row.capital"
)
TOWNS = ["青阳街道", "梅岭街道", "西园街道", "罗山街道", "灵源街道", "新塘街道", "陈埭镇", "池店镇"]


def rows(n: int, offset: int = 0) -> list[dict]:
    return [
        {
            "id": f"91350582{i:010d}",
            "name": f"晋江市第{i}号鞋服制造有限公司",
            "town": TOWNS[i % len(TOWNS)],
            "capital": 100.0 + i % 997,
        }
        for i in range(offset, offset + n)
    ]


def timed(store: GraphStore, data: list[dict], batch_size: int) -> float:
    started = time.perf_counter()
    store.write_batches(MERGE, data, batch_size=batch_size)
    return time.perf_counter() - started


def run(store: GraphStore, nodes: int, batch_sizes: list[int], baseline_rows: int) -> dict:
    results: dict = {"backend": store.backend, "nodes": nodes, "runs": []}
    store.clear()
    store.ensure_schema(SCHEMA)
    # Warm-up so the first measured run does not pay for graph creation and plan caching.
    store.write_batches(MERGE, rows(1000, offset=10**9), batch_size=500)

    base = timed(store, rows(baseline_rows, offset=5 * 10**8), batch_size=1)
    baseline_rate = baseline_rows / base
    results["baseline_rows_per_s"] = baseline_rate
    for size in batch_sizes:
        store.clear()
        store.ensure_schema(SCHEMA)
        data = rows(nodes)
        first = timed(store, data, size)
        again = timed(store, data, size)  # every row already present: the "unchanged reload" path
        count = store.read("MATCH (n:BenchNode) RETURN count(n) AS c")[0]["c"]
        assert count == nodes, f"expected {nodes} nodes, found {count}"
        results["runs"].append(
            {
                "batch_size": size,
                "create_nodes_per_s": nodes / first,
                "remerge_nodes_per_s": nodes / again,
                "create_vs_baseline": (nodes / first) / baseline_rate,
            }
        )
    store.clear()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--baseline-rows", type=int, default=3000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="entgraph-bench-") as tmp:
        embedded = settings.graph.strip() == "embedded"
        if embedded:
            settings = settings.model_copy(update={"home": Path(tmp)})
        settings = settings.model_copy(update={"graph_name": "bench_store"})
        store = open_store(settings)
        try:
            results = run(store, args.nodes, args.batch_sizes, args.baseline_rows)
        finally:
            store.close()
            if embedded:
                EmbeddedServer(Path(tmp)).stop()

    print(
        f"store: {results['backend']}; baseline (1 row per statement): "
        f"{results['baseline_rows_per_s']:,.0f} rows/s"
    )
    print(f"{'batch':>7} {'MERGE new nodes/s':>18} {'re-MERGE nodes/s':>17} {'x baseline':>11}")
    for r in results["runs"]:
        print(
            f"{r['batch_size']:>7} {r['create_nodes_per_s']:>18,.0f} {r['remerge_nodes_per_s']:>17,.0f} "
            f"{r['create_vs_baseline']:>10.1f}x"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
