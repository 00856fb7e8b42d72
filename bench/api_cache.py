"""The response cache at city scale: cached panoramas per second, and stale answers under a writer.

    python -m bench.api_cache [--enterprises 50000] [--hot 1000] [--clients 50] [--seconds 20] [--workers 1]

Uses ``bench.api``'s city (generated, loaded, resolved, meters and warnings, once per ``--home``) and
runs ``entgraph serve`` as deployed. Two parts (issue 22):

1. **Throughput.** ``--clients`` closed-loop clients ask for full panoramas (sent by hash, as the
   console sends them) of a hot set of ``--hot`` enterprises, as dashboards repeat; the set is asked for
   once first (misses that fill the cache), then the clients run for ``--seconds``. Goal: at least 1,000
   panoramas/s with p95 under 50 ms at 50 clients on these 2 cores. The baseline in the same run is the
   same load with the cache off (``ENTGRAPH_API_CACHE_MB=0``), for a shorter time.
2. **Correctness under load.** While the clients read (analysts, and the public), a writer in this
   process changes enterprises of the hot set through the platform's own write paths: a warning raised
   on one (a per-enterprise write) and, every tenth write, an unannotated one (global). After each write
   has committed, every answer to a request *sent after it* must show it (an analyst's answer lists the
   warning), and every public answer must equal the uncached public answer (never an analyst's
   fields). Stale and over-exposed answers are counted; the goal is zero of each.

The clients speak HTTP/1.1 over keep-alive sockets directly (asyncio streams): a general HTTP client
costs more CPU per request than the cached server does, and on 2 cores that would measure the client.
The API key's rate limit is off for the run (``ENTGRAPH_API_RATE_AUTHENTICATED=0``): one key stands for
a whole front-end here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.api import (
    GRAPH_NAME,
    PANORAMA,
    add_telemetry,
    build_city,
    entgraph,
    environment,
    free_port,
    percentiles,
    serve,
)
from entgraph.api.persisted_queries import sha256
from entgraph.graph import open_store
from entgraph.graph import warning_queries as wq
from entgraph.settings import Settings

HASHED = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": sha256(PANORAMA)}})


class Connection:
    """One keep-alive HTTP/1.1 connection, POSTing JSON."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port = port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            + self.head
            + b"Content-Length: %d\r\n\r\n" % len(body)
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        answer = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, answer


def panorama_body(enterprise: str, by_hash: bool = True) -> bytes:
    if by_hash:
        return b'{"extensions":%s,"variables":{"id":%s}}' % (HASHED.encode(), json.dumps(enterprise).encode())
    return json.dumps({"query": PANORAMA, "variables": {"id": enterprise}}).encode()


async def closed_loop(
    port: int, headers: dict[str, str], hot: list[str], clients: int, seconds: float
) -> dict[str, Any]:
    """``clients`` closed-loop clients over ``hot`` for ``seconds``: rate, p50/p95, hits."""
    samples: list[float] = []
    failures = hits = 0
    deadline = time.perf_counter() + seconds

    async def one(worker: int) -> None:
        nonlocal failures, hits
        rng, connection = random.Random(worker), Connection(port, headers)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status, answer_headers, answer = await connection.post(panorama_body(rng.choice(hot)))
            if status == 200 and b'"errors"' not in answer:
                samples.append(time.perf_counter() - started)
                hits += answer_headers.get("x-cache") == "hit"
            else:
                failures += 1

    await asyncio.gather(*(one(w) for w in range(clients)))
    return {**percentiles(samples), "per_s": len(samples) / seconds, "failures": failures, "hits": hits}


async def fill(port: int, headers: dict[str, str], hot: list[str]) -> None:
    """Ask for each hot enterprise once, by text first so the server learns the document's hash."""
    connection = Connection(port, headers)
    await connection.post(panorama_body(hot[0], by_hash=False))
    for enterprise in hot:
        await connection.post(panorama_body(enterprise))


# -- correctness under a writer ---------------------------------------------------------------------


@dataclass
class Ledger:
    """Writes that committed (enterprise -> [(time committed, warning id)]) and answers checked."""

    committed: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    checked: int = 0
    stale: list[dict[str, Any]] = field(default_factory=list)
    over_exposed: list[dict[str, Any]] = field(default_factory=list)

    def expected(self, enterprise: str, sent: float) -> list[str]:
        """Warnings an answer to a request sent at ``sent`` must show: those committed before."""
        with self.lock:
            return [w for at, w in self.committed.get(enterprise, []) if at < sent]


def writer(settings: Settings, hot: list[str], ledger: Ledger, stop: threading.Event, pause: float) -> int:
    """Raise a warning on a random hot enterprise, again and again; every tenth write an unannotated
    one. Returns the number of writes."""
    rng, n = random.Random(3), 0
    with open_store(settings) as store:
        while not stop.is_set():
            n += 1
            enterprise = rng.choice(hot)
            warning = f"W-bench-cache-{n}"
            row = {
                "id": warning, "rule": "bench_cache", "period": "2026-12", "enterprise": enterprise,
                "meter": None, "severity": "low", "message_zh": f"测试 {n}", "message_en": f"probe {n}",
                "evidence": "{}", "town": None, "figure_sources": [], "figures": "{}",
                "masked_zh": "", "masked_en": "",
            }  # fmt: skip
            wq.upsert_warnings(store, [row], int(time.time() * 1000), "bench")
            if n % 10 == 0:  # a write that names nothing: global
                store.write("MERGE (p:BenchProbe {id: 1}) SET p.n = $n", {"n": n})
            committed = time.perf_counter()
            with ledger.lock:
                ledger.committed.setdefault(enterprise, []).append((committed, warning))
            stop.wait(pause)
    return n


async def checked_readers(
    port: int,
    analyst: dict[str, str],
    hot: list[str],
    public_truth: dict[str, Any],
    clients: int,
    seconds: float,
    ledger: Ledger,
) -> dict[str, Any]:
    """``clients`` readers, a fifth of them public; every answer checked against the ledger."""
    samples: list[float] = []
    deadline = time.perf_counter() + seconds

    async def one(worker: int) -> None:
        public = worker % 5 == 0
        rng, connection = random.Random(100 + worker), Connection(port, {} if public else analyst)
        while time.perf_counter() < deadline:
            enterprise = rng.choice(hot)
            sent = time.perf_counter()
            _, _, answer = await connection.post(panorama_body(enterprise))
            samples.append(time.perf_counter() - sent)
            body = json.loads(answer)
            ledger.checked += 1
            if public:
                if body != public_truth[enterprise]:
                    ledger.over_exposed.append({"enterprise": enterprise, "answer": body})
                continue
            shown = {w["id"] for w in body["data"]["enterprise"]["warnings"]}
            missing = [w for w in ledger.expected(enterprise, sent) if w not in shown]
            if missing:
                ledger.stale.append({"enterprise": enterprise, "missing": missing})

    await asyncio.gather(*(one(w) for w in range(clients)))
    return {**percentiles(samples), "per_s": len(samples) / seconds}


async def public_answers(port: int, hot: list[str]) -> dict[str, Any]:
    connection = Connection(port, {})
    return {e: json.loads((await connection.post(panorama_body(e, by_hash=False)))[2]) for e in hot}


def run_uncached(
    env: dict[str, str], home: Path, analyst: dict[str, str], hot: list[str], args: Any
) -> tuple:
    """The baseline (cache off) and the public's uncached answers, the truth public reads are held to."""
    port = free_port()
    server = serve({**env, "ENTGRAPH_API_CACHE_MB": "0"}, port, home / "bench-cache-off.log", args.workers)
    try:
        asyncio.run(fill(port, analyst, hot[:50]))
        baseline = asyncio.run(closed_loop(port, analyst, hot, args.clients, args.seconds / 2))
        return baseline, asyncio.run(public_answers(port, hot))
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_cached(
    env: dict[str, str], settings: Settings, analyst: dict[str, str], hot: list[str], truth: dict, args: Any
) -> dict[str, Any]:
    """Cached throughput, then the same clients checked while a writer changes the hot set."""
    port = free_port()
    server = serve(env, port, settings.home / "bench-cache-on.log", args.workers)
    try:
        asyncio.run(fill(port, analyst, hot))
        cached = asyncio.run(closed_loop(port, analyst, hot, args.clients, args.seconds))
        print(f"cached: {json.dumps(cached)}", flush=True)
        ledger, stop, writes = Ledger(), threading.Event(), []
        thread = threading.Thread(
            target=lambda: writes.append(writer(settings, hot, ledger, stop, args.pause))
        )
        thread.start()
        try:
            under = asyncio.run(
                checked_readers(port, analyst, hot, truth, args.clients, args.seconds, ledger)
            )
        finally:
            stop.set()
            thread.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    under_writer = {
        **under,
        "writes": writes[0] if writes else 0,
        "answers_checked": ledger.checked,
        "stale": len(ledger.stale),
        "over_exposed": len(ledger.over_exposed),
        "examples": (ledger.stale + ledger.over_exposed)[:3],
    }
    print(f"under a writer: {json.dumps(under_writer, ensure_ascii=False)}", flush=True)
    return {"cached": cached, "under_writer": under_writer}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enterprises", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--home", type=Path)
    parser.add_argument("--hot", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1, help="entgraph serve --workers")
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between the writer's writes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    home = args.home or Path("/tmp") / f"entgraph-bench-api-{args.enterprises}"
    city = build_city(home, args.enterprises, args.seed)
    settings = Settings(home=home, graph="embedded", graph_name=GRAPH_NAME)
    city["telemetry"] = add_telemetry(home, settings)
    env = {**environment(home), "ENTGRAPH_API_RATE_AUTHENTICATED": "0", "ENTGRAPH_API_RATE_ANONYMOUS": "0"}
    with open_store(settings) as store:
        live = store.read("MATCH (e:Enterprise) WHERE e.merged_into IS NULL RETURN e.id AS id")
    hot = random.Random(11).sample(sorted(r["id"] for r in live), min(args.hot, len(live)))
    key_name = f"bench-cache-{time.time_ns()}"
    analyst = {
        "X-API-Key": entgraph(["api-key", "create", "--role", "analyst", "--name", key_name], env).strip()
    }
    results: dict[str, Any] = {
        "city": city,
        "hot": len(hot),
        "clients": args.clients,
        "workers": args.workers,
    }
    try:
        results["uncached"], truth = run_uncached(env, home, analyst, hot, args)
        print(f"uncached: {json.dumps(results['uncached'])}", flush=True)
        results |= run_cached(env, settings, analyst, hot, truth, args)
    finally:
        entgraph(["api-key", "revoke", key_name], env)
        with open_store(settings) as store:  # the bench's probes go, so later runs start alike
            store.write("MATCH (w:Warning) WHERE w.rule = 'bench_cache' DETACH DELETE w")
            store.write("MATCH (a:WarningAction) WHERE a.id STARTS WITH 'W-bench-cache-' DELETE a")
            store.write("MATCH (p:BenchProbe) DELETE p")
    cached, uncached = results["cached"], results["uncached"]
    speedup = cached["per_s"] / uncached["per_s"]
    print(
        f"{args.clients} clients over {len(hot)} hot enterprises: cached {cached['per_s']:.0f}/s "
        f"(p95 {cached['p95_ms']:.1f} ms, {cached['hits']} hits of {cached['n']}), uncached "
        f"{uncached['per_s']:.1f}/s (p95 {uncached['p95_ms']:.1f} ms): {speedup:.0f}x",
        flush=True,
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
