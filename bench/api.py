"""API latency on a generated city against direct Cypher in the same run (the floor).

A full panorama and a chain query over HTTP, at 1 and 50 clients; or, open-loop, the highest arrival
rate of panoramas served with p95 under 50 ms, against the floor measured the same way.

    python -m bench.api [--enterprises 50000] [--home DIR] [--seconds 15] [--clients 1 50] [--workers N]
    python -m bench.api --open-loop [--enterprises 50000] [--seconds 15] [--threads 8]

The city is generated, loaded (``entgraph load``) and resolved (``entgraph resolve``) once into
``--home`` (default: a directory under the system temp dir named for the size), and reused by later
runs. Its meters are then attached (``entgraph telemetry meters sync``), given a week of hourly
readings (a tenth of them falling silent two days ago) and judged (``entgraph telemetry warnings
evaluate``), so a panorama's meters, their daily series and its warnings are real work, once too.
The API runs as ``entgraph serve`` in its own process, exactly as deployed on one machine; the clients
are asyncio tasks in this process, each sending its next request as soon as the last answers, for
``--seconds``. The floor runs the panorama's statements (``graph/enterprise_queries.py``) straight on the
store, and its meters' series query on the series store, with the same number of threads. Goals
(issue 5): panorama p95 under 50 ms at 50 clients, and API time at most 3x the floor.

**Open loop** (``--open-loop``, issue 22): a city's front-ends do not wait for each other's answers;
requests arrive at a rate, as a Poisson process (exponential gaps, seeded). Each request's latency runs
from its *scheduled* arrival to its answer, so a server falling behind pays for the queue it builds
(no coordinated omission). The rate climbs by half each step from ``--start-rate`` until p95 passes
50 ms; the highest rate under it is reported, for the API and for the floor (the panorama's statements
on a pool of ``--threads`` threads fed by the same arrivals), and their ratio (goal: at least 0.5).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from entgraph.api.graphql_client import FULL_PANORAMA
from entgraph.catalog.registry import Catalog
from entgraph.graph import (
    chain_queries,
    enterprise_queries,
    meter_queries,
    metric_queries,
    open_store,
    warning_queries,
)
from entgraph.graph.metric_queries import MetricSource
from entgraph.graph.port import GraphStore
from entgraph.settings import Settings
from entgraph.synthetic import generate_city
from entgraph.telemetry.payloads import Reading
from entgraph.telemetry.rollup import metric_sources
from entgraph.telemetry.series_store import SeriesReader, SeriesWriter

ENTGRAPH = str(Path(sys.executable).with_name("entgraph"))
GRAPH_NAME = "bench_api"

PANORAMA = FULL_PANORAMA
CHAIN = """
query ($name: String!) { industryChain(name: $name) {
  name years enterpriseCount
  segments { position enterpriseCount enterprises(first: 20) { edges { node { id name town } } } }
  links { from to fromEnterprises toEnterprises }
} }
"""


STORE = "embedded"  # --store: the embedded FalkorDB, or neo4j-embedded


def environment(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ENTGRAPH_HOME": str(home),
        "ENTGRAPH_GRAPH": STORE,
        "ENTGRAPH_GRAPH_NAME": GRAPH_NAME,
        "ENTGRAPH_API_MAX_COST": "100000",
    }


def entgraph(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([ENTGRAPH, *args], check=False, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"entgraph {' '.join(args[:2])} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def build_city(home: Path, enterprises: int, seed: int) -> dict[str, Any]:
    """Generate, load and resolve the city once; later runs read the marker and reuse the store."""
    marker = home / "bench-api-city.json"
    if marker.exists():
        return json.loads(marker.read_text(encoding="utf-8"))
    env = environment(home)
    city = home / "city"
    started = time.perf_counter()
    generate_city(enterprises, seed=seed, out_dir=city)
    generated = time.perf_counter()
    entgraph(["load", *sorted(str(p) for p in city.iterdir() if p.is_file())], env)
    loaded = time.perf_counter()
    entgraph(["resolve"], env)
    resolved = time.perf_counter()
    with open_store(Settings(home=home, graph=STORE, graph_name=GRAPH_NAME)) as store:
        rows = store.read("MATCH (r:SourceRecord) RETURN count(r) AS n")[0]["n"]
    facts = {
        "enterprises": enterprises,
        "store": STORE,
        "records": rows,
        "generate_s": generated - started,
        "load_s": loaded - generated,
        "load_rows_per_s": rows / (loaded - generated),
        "resolve_s": resolved - loaded,
    }
    marker.write_text(json.dumps(facts), encoding="utf-8")
    return facts


HOUR_MS = 3_600_000


def add_telemetry(home: Path, settings: Settings) -> dict[str, Any]:
    """Attach the city's meters, write a week of hourly readings for each (every tenth stops two days
    early) and run the warning rules; once per home."""
    marker = home / "bench-api-telemetry.json"
    if marker.exists():
        return json.loads(marker.read_text(encoding="utf-8"))
    env = environment(home)
    started = time.perf_counter()
    entgraph(["telemetry", "meters", "sync"], env)
    with open_store(settings) as store:
        meters = [r["meter"] for r in meter_queries.known_meters(store) if r["meter"]]
    now = int(time.time() * 1000) // HOUR_MS * HOUR_MS
    start = now - 7 * 24 * HOUR_MS
    with SeriesWriter(settings.series_dir) as writer:
        for first in range(0, len(meters), 500):  # one transaction per 500 meters' week
            batch = [
                Reading(meter, start + h * HOUR_MS, 100.0 + 2.5 * h, "cumulative", "kWh")
                for n, meter in enumerate(meters[first : first + 500], first)
                for h in range(7 * 24 - (48 if n % 10 == 0 else 0))
            ]
            writer.write(batch)
        writer.publish()
    entgraph(["telemetry", "warnings", "evaluate"], env)
    facts = {"meters": len(meters), "telemetry_s": time.perf_counter() - started}
    marker.write_text(json.dumps(facts), encoding="utf-8")
    return facts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(samples: list[float]) -> dict[str, float]:
    if len(samples) < 2:
        return {"n": len(samples), "p50_ms": float("nan"), "p95_ms": float("nan")}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"n": len(samples), "p50_ms": cuts[49] * 1000, "p95_ms": cuts[94] * 1000}


async def hammer(
    url: str,
    headers: dict[str, str],
    body: Callable[[random.Random], dict[str, Any]],
    clients: int,
    seconds: float,
) -> dict[str, float]:
    """``clients`` closed-loop clients for ``seconds``; latencies of answers without errors."""
    samples: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:
        deadline = time.perf_counter() + seconds

        async def one(worker: int) -> None:
            nonlocal failures
            rng = random.Random(worker)
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(url, json=body(rng))
                elapsed = time.perf_counter() - started
                if response.status_code == 200 and "errors" not in response.json():
                    samples.append(elapsed)
                else:
                    failures += 1

        await asyncio.gather(*(one(w) for w in range(clients)))
    return {**percentiles(samples), "failures": failures, "per_s": len(samples) / seconds}


async def open_loop(
    url: str,
    headers: dict[str, str],
    body: Callable[[random.Random], dict[str, Any]],
    rate: float,
    seconds: float,
    seed: int = 7,
) -> dict[str, float]:
    """Requests arriving at ``rate`` per second (Poisson) for ``seconds``; latency from each request's
    scheduled arrival to its answer."""
    rng = random.Random(seed)
    samples: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=500)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:

        async def one(due: float, payload: dict[str, Any]) -> None:
            nonlocal failures
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            response = await client.post(url, json=payload)
            if response.status_code == 200 and "errors" not in response.json():
                samples.append(time.perf_counter() - due)
            else:
                failures += 1

        start, at, tasks = time.perf_counter(), 0.0, []
        while True:
            at += rng.expovariate(rate)
            if at >= seconds:
                break
            tasks.append(asyncio.create_task(one(start + at, body(rng))))
        await asyncio.gather(*tasks)
    return {**percentiles(samples), "failures": failures, "per_s": len(samples) / seconds, "rate": rate}


def floor_open_loop(
    store: GraphStore, reader: SeriesReader, ids: list[str], rate: float, seconds: float, threads: int
) -> dict[str, float]:
    """The floor fed the same way: panoramas' statements on ``threads`` threads, arriving at ``rate``."""
    sources = metric_sources(Catalog.load(entry_points=False))
    rng = random.Random(7)
    samples: list[float] = []

    def run(due: float, enterprise_id: str) -> None:
        panorama_floor(store, reader, enterprise_id, sources)
        samples.append(time.perf_counter() - due)

    with ThreadPoolExecutor(threads) as pool:
        start, at = time.perf_counter(), 0.0
        while True:
            at += rng.expovariate(rate)
            if at >= seconds:
                break
            time.sleep(max(0.0, start + at - time.perf_counter()))
            pool.submit(run, start + at, rng.choice(ids))
    return {**percentiles(samples), "failures": 0, "per_s": len(samples) / seconds, "rate": rate}


def highest_rate(
    run: Callable[[float], dict[str, float]], start: float, goal_ms: float = 50.0
) -> tuple[float, list[dict[str, float]]]:
    """Raise the arrival rate by half each step until p95 passes ``goal_ms``: the highest rate under it
    (0 when even ``start`` is over) and every step's figures."""
    best, steps, rate = 0.0, [], start
    run(start)  # warm-up, not counted: parse caches, connections, the store's page cache
    while rate < 10_000:
        result = run(rate)
        steps.append(result)
        print(
            f"    {rate:8.1f}/s  p50 {result['p50_ms']:7.1f} ms  p95 {result['p95_ms']:7.1f} ms  "
            f"served {result['per_s']:7.1f}/s  failures {result['failures']}",
            flush=True,
        )
        if not result["p95_ms"] < goal_ms or result["failures"]:
            break
        best, rate = rate, rate * 1.5
    return best, steps


def panorama_floor(
    store: GraphStore, reader: SeriesReader, enterprise_id: str, sources: Sequence[MetricSource]
) -> None:
    """The panorama's store reads, in the API's order, each for one enterprise, and its meters' daily
    series (the API's default 90-day window) from the series store."""
    survivor = enterprise_queries.lookup_ids(store, [enterprise_id])[0]["survivor"]
    ids = [survivor]
    enterprise_queries.enterprises(store, ids)
    enterprise_queries.source_records(store, ids, 100)
    family = enterprise_queries.family(store, ids)
    enterprise_queries.facts(store, ids)
    related = enterprise_queries.related(store, ids, 20)
    metric_queries.series(store, ids, sources)
    meters = [r["meter"] for r in meter_queries.meters_of(store, ids)]
    if meters:
        now = int(time.time() * 1000)
        reader.last_seen(meters)
        reader.consumption(
            "aggregate", interval="day", meter_ids=meters, start_ms=now - 90 * 86_400_000, end_ms=now
        )
    warning_queries.for_enterprises(store, ids, ["open", "acknowledged"])
    others = sorted({r["other"] for r in related} | set(family[0]["branches"] if family else []))
    if others:
        enterprise_queries.enterprises(store, others)


def floor(
    store: GraphStore, reader: SeriesReader, ids: list[str], clients: int, seconds: float
) -> dict[str, float]:
    # every metric source (the API's analyst sees these feeds' figures too)
    sources = metric_sources(Catalog.load(entry_points=False))
    samples: list[float] = []
    deadline = time.perf_counter() + seconds

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            panorama_floor(store, reader, rng.choice(ids), sources)
            samples.append(time.perf_counter() - started)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    return {**percentiles(samples), "failures": 0, "per_s": len(samples) / seconds}


def serve(env: dict[str, str], port: int, log: Path, workers: int = 1) -> subprocess.Popen[str]:
    # The server's log goes to a file: a pipe nobody reads fills up and blocks the server mid-run.
    with log.open("w") as sink:
        server = subprocess.Popen(
            [ENTGRAPH, "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"entgraph serve exited; its log is {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.kill()
    raise SystemExit(f"entgraph serve did not become ready in 120 s; its log is {log}")


def open_loop_search(
    url: str,
    headers: dict[str, str],
    store: GraphStore,
    reader: SeriesReader,
    ids: list[str],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The highest Poisson arrival rate of panoramas with p95 under 50 ms: the API's and the floor's."""

    def panoramas(rng: random.Random) -> dict[str, Any]:
        return {"query": PANORAMA, "variables": {"id": rng.choice(ids)}}

    def seconds(rate: float) -> float:  # a p95 needs samples: at least 200 arrivals a step
        return max(args.seconds, 200 / rate)

    print("open loop: the API's panorama", flush=True)
    api_rate, api_steps = highest_rate(
        lambda r: asyncio.run(open_loop(url, headers, panoramas, r, seconds(r))), args.start_rate
    )
    print("open loop: the Cypher floor", flush=True)
    floor_rate, floor_steps = highest_rate(
        lambda r: floor_open_loop(store, reader, ids, r, seconds(r), args.threads), args.start_rate
    )
    ratio = api_rate / floor_rate if floor_rate else float("nan")
    print(
        f"open loop, p95 under 50 ms: API {api_rate:.1f}/s, floor {floor_rate:.1f}/s, "
        f"ratio {ratio:.2f} (goal: at least 0.5)",
        flush=True,
    )
    return {
        "api_rate": api_rate,
        "floor_rate": floor_rate,
        "ratio": ratio,
        "api": api_steps,
        "floor": floor_steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enterprises", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--home", type=Path)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--workers", type=int, default=1, help="entgraph serve --workers")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--open-loop", action="store_true", help="arrival-rate mode (Poisson)")
    parser.add_argument("--start-rate", type=float, default=5.0, help="open loop: the first rate (per s)")
    parser.add_argument("--threads", type=int, default=8, help="open loop: the floor's threads")
    parser.add_argument(
        "--store", choices=("embedded", "neo4j-embedded"), default="embedded",
        help="the graph store: the embedded FalkorDB (default) or the embedded Neo4j",
    )  # fmt: skip
    args = parser.parse_args()
    global STORE
    STORE = args.store
    suffix = "" if STORE == "embedded" else "-neo4j"
    home = args.home or Path(tempfile.gettempdir()) / f"entgraph-bench-api-{args.enterprises}{suffix}"
    env = environment(home)
    city = build_city(home, args.enterprises, args.seed)
    settings = Settings(home=home, graph=STORE, graph_name=GRAPH_NAME)
    city["telemetry"] = add_telemetry(home, settings)
    print(f"city: {json.dumps(city)}", flush=True)
    with open_store(settings) as store, SeriesReader(settings.series_dir) as reader:
        live = [
            r["id"]
            for r in store.read("MATCH (e:Enterprise) WHERE NOT (e)-[:REDIRECTS_TO]->() RETURN e.id AS id")
        ]
        ids = random.Random(11).sample(live, min(500, len(live)))
        chains = [r["key"] for r in chain_queries.chains(store)]
        results: dict[str, Any] = {"city": city, "runs": {}}
        key_name = f"bench-{os.getpid()}"
        key = entgraph(["api-key", "create", "--role", "analyst", "--name", key_name], env).strip()
        port = free_port()
        # uncached figures: with the response cache on, a repeated id would be answered from memory
        uncached = {**env, "ENTGRAPH_API_CACHE_MB": "0"}
        server = serve(uncached, port, home / "bench-api-server.log", args.workers)
        try:
            url = f"http://127.0.0.1:{port}/graphql"
            headers = {"X-API-Key": key}
            if args.open_loop:
                results["open_loop"] = open_loop_search(url, headers, store, reader, ids, args)
            for clients in [] if args.open_loop else args.clients:
                runs = {
                    "panorama": asyncio.run(
                        hammer(
                            url,
                            headers,
                            lambda rng: {"query": PANORAMA, "variables": {"id": rng.choice(ids)}},
                            clients,
                            args.seconds,
                        )
                    ),
                    "chain": asyncio.run(
                        hammer(
                            url,
                            headers,
                            lambda rng: {"query": CHAIN, "variables": {"name": rng.choice(chains)}},
                            clients,
                            args.seconds,
                        )
                    ),
                    "panorama_cypher_floor": floor(store, reader, ids, clients, args.seconds),
                }
                results["runs"][clients] = runs
                for name, r in runs.items():
                    print(
                        f"{clients:>3} clients  {name:<22} p50 {r['p50_ms']:7.1f} ms  "
                        f"p95 {r['p95_ms']:7.1f} ms  {r['per_s']:6.1f}/s  failures {r['failures']}",
                        flush=True,
                    )
                api, cypher = runs["panorama"], runs["panorama_cypher_floor"]
                print(
                    f"{clients:>3} clients  panorama API / Cypher floor: "
                    f"p50 {api['p50_ms'] / cypher['p50_ms']:.2f}x, "
                    f"p95 {api['p95_ms'] / cypher['p95_ms']:.2f}x",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
            entgraph(["api-key", "revoke", key_name], env)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
