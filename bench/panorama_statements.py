"""How far one statement per panorama gets: the panorama's reads one by one, pipelined, and as one Cypher.

    python -m bench.panorama_statements [--enterprises 50000] [--store embedded|neo4j-embedded] [-n 300]

On ``bench.api``'s city (built once per home), for ``-n`` random enterprises, the panorama's graph reads
(``graph/enterprise_queries.py`` and its neighbours, as the floor of ``bench.api`` issues them) are run
three ways, each timed per panorama (wall time, this process's CPU, the store server's CPU):

1. **one by one**: ten ``read`` calls, ten round trips, as the API's DataLoaders issue them today;
2. **pipelined**: ``GraphStore.read_many``, the same statements in one round trip (FalkorDB: one Redis
   pipeline; Neo4j: one read transaction);
3. **one statement**: the ten composed into one Cypher with ``CALL {}`` subqueries, each collected into
   one list (``CALL { CALL { <statement> } RETURN collect({...}) AS part_k }``), parameters renamed
   apart.

Each way also runs on 8 threads for the same number of panoramas, for the rate. Issue 22 asks how far
one-statement-per-panorama Cypher gets on both stores; docs/benchmarks.md keeps the answer.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import bench.api as bench_api
from entgraph.catalog.registry import Catalog
from entgraph.graph import enterprise_queries, meter_queries, metric_queries, open_store, warning_queries
from entgraph.graph.port import GraphStore, Params, Row
from entgraph.settings import Settings
from entgraph.telemetry.rollup import metric_sources

Statement = tuple[str, Params | None]


class Recorder:
    """Stands in for a store to learn the statements a query function sends (answering nothing)."""

    read_timeout_ms = None

    def __init__(self) -> None:
        self.statements: list[Statement] = []

    def read(self, cypher: str, params: Params | None = None, **_: Any) -> list[Row]:
        self.statements.append((cypher, dict(params or {})))
        return []


def panorama_statements(enterprise: str, sources: Sequence[Any]) -> list[Statement]:
    """The panorama's graph reads for one enterprise, as the API's loaders send them."""
    recorder: Any = Recorder()
    ids = [enterprise]
    enterprise_queries.lookup_ids(recorder, ids)
    enterprise_queries.enterprises(recorder, ids)
    enterprise_queries.source_records(recorder, ids, 100)
    enterprise_queries.family(recorder, ids)
    enterprise_queries.facts(recorder, ids)
    enterprise_queries.related(recorder, ids, 20)
    metric_queries.series(recorder, ids, sources)
    meter_queries.meters_of(recorder, ids)
    warning_queries.for_enterprises(recorder, ids, ["open", "acknowledged"])
    return recorder.statements


_PARAM = re.compile(r"\$(\w+)")
_RETURN = re.compile(r"\bRETURN\b(?![\s\S]*\bRETURN\b)", re.I)


def one_statement(statements: Sequence[Statement], columns: Sequence[Sequence[str]]) -> Statement:
    """The statements as one Cypher: each in a ``CALL {}`` whose rows are collected into ``part_k``.
    ``columns``: each statement's returned column names (from running it once)."""
    parts, params = [], {}
    for k, ((cypher, values), names) in enumerate(zip(statements, columns, strict=True)):
        renamed = _PARAM.sub(lambda m, k=k: f"$s{k}_{m.group(1)}", cypher)
        params.update({f"s{k}_{name}": value for name, value in (values or {}).items()})
        row = ", ".join(f"`{c}`: `{c}`" for c in names)
        carried = "".join(f"part_{j}, " for j in range(k))
        parts.append(
            f"CALL {{ CALL {{ {renamed} }} RETURN collect({{{row}}}) AS part_{k} }} WITH {carried}part_{k}"
        )
    text = " ".join(parts) + " RETURN " + ", ".join(f"part_{k}" for k in range(len(statements)))
    return text, params


def cpu_of(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(
    run: Callable[[str], Any], ids: Sequence[str], store_pid: int | None, threads: int
) -> dict[str, float]:
    """Per panorama: wall ms (one at a time, or the rate on ``threads``), this process's and the store's
    CPU ms."""
    for enterprise in ids[:20]:
        run(enterprise)  # warm: plans cached, pages in memory
    started, mine, theirs = time.perf_counter(), time.process_time(), cpu_of(store_pid)
    if threads == 1:
        for enterprise in ids:
            run(enterprise)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, ids))
    wall = time.perf_counter() - started
    n = len(ids)
    return {
        "wall_ms": 1000 * wall / n,
        "per_s": n / wall,
        "client_cpu_ms": 1000 * (time.process_time() - mine) / n,
        "store_cpu_ms": 1000 * (cpu_of(store_pid) - theirs) / n,
    }


def store_pid(home: Path, store: str) -> int | None:
    state = home / "falkordb" / "server.json" if store == "embedded" else home / "neo4j" / "neo4j.json"
    return json.loads(state.read_text())["pid"] if state.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enterprises", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--store", choices=("embedded", "neo4j-embedded"), default="embedded")
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    bench_api.STORE = args.store
    suffix = "" if args.store == "embedded" else "-neo4j"
    home = Path("/tmp") / f"entgraph-bench-api-{args.enterprises}{suffix}"
    city = bench_api.build_city(home, args.enterprises, args.seed)
    sources = metric_sources(Catalog.load(entry_points=False))
    settings = Settings(home=home, graph=args.store, graph_name=bench_api.GRAPH_NAME)
    results: dict[str, Any] = {"city": city, "store": args.store, "n": args.n}
    with open_store(settings) as store:
        live = store.read("MATCH (e:Enterprise) WHERE e.merged_into IS NULL RETURN e.id AS id")
        ids = random.Random(11).sample(sorted(r["id"] for r in live), min(args.n, len(live)))
        pid = store_pid(home, args.store)
        statements = {e: panorama_statements(e, sources) for e in ids}
        composed = {}
        for enterprise, stmts in statements.items():
            answers = store.read_many(stmts)
            columns = [
                _columns(store, cypher, params, answer)
                for (cypher, params), answer in zip(stmts, answers, strict=True)
            ]
            composed[enterprise] = one_statement(stmts, columns)
        # the composed statement answers what the ten do
        sample = ids[0]
        parts = store.read(*composed[sample])[0]
        assert [parts[f"part_{k}"] for k in range(len(statements[sample]))] == [
            store.read(c, p) for c, p in statements[sample]
        ], "the one statement must answer as the ten"
        ways: dict[str, Callable[[str], Any]] = {
            "one by one": lambda e: [store.read(c, p) for c, p in statements[e]],
            "pipelined": lambda e: store.read_many(statements[e]),
            "one statement": lambda e: store.read(*composed[e]),
        }
        for threads in (1, 8):
            for name, run in ways.items():
                figures = timed(run, ids, pid, threads)
                results.setdefault(name, {})[threads] = figures
                print(
                    f"{args.store} {threads} thread(s) {name:<14} {figures['wall_ms']:6.2f} ms/panorama "
                    f"{figures['per_s']:7.1f}/s  client CPU {figures['client_cpu_ms']:5.2f} ms  "
                    f"store CPU {figures['store_cpu_ms']:5.2f} ms",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


def _columns(store: GraphStore, cypher: str, params: Params | None, answer: list[Row]) -> list[str]:
    """A statement's column names: from its rows, or, when it found none, from its RETURN clause."""
    if answer:
        return list(answer[0])
    returned = _RETURN.split(cypher)[-1].split(" ORDER BY ")[0]
    return [part.rsplit(" AS ", 1)[-1].strip() for part in _split_top(returned)]


def _split_top(text: str) -> list[str]:
    """``text`` split at its top-level commas (not those inside brackets or braces)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


if __name__ == "__main__":
    main()
