"""The API under hostile input (issue 15): bombs, a panorama under floods, memory after them.

Each bomb's answer time and code, a normal panorama's p95 while 4 clients send each bomb without pause
(against the same panorama idle, in the same run), and the server's RSS after 1,000 hostile requests
(against its RSS before them).

    python -m bench.hostile [--enterprises 1000] [--home DIR] [--seconds 8]

The city is built as ``bench.api`` builds it (generated, loaded, resolved once per ``--home``) and served
by ``entgraph serve`` in production mode in its own process; the panoramas are a dashboard's (an
analyst key), the bombs anonymous. First with rate limits off (``ENTGRAPH_API_RATE_ANONYMOUS=0``):
with them on, a flood is answered 429 at once, which says nothing of the layers behind them; then
again with the deployed defaults (anonymous 20/s). Goals: every bomb answered within 1 s with a coded
error; panorama p95 under load within 2x idle; RSS growth under 100 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.api import PANORAMA, build_city, environment, free_port, percentiles, serve
from entgraph.api.auth import ApiKeyFile, Role
from entgraph.api.rate_limit import BURST_SECONDS

JSON = {"content-type": "application/json"}
# the enterprises a public caller sees (the panoramas are asked anonymously, as an attacker would)
LISTING = "{ enterprises(first: 50) { edges { node { id } } } }"
BY_ID = "query($id: String) { enterprise(id: $id) { name } }"


def _gql(query: str, **variables: Any) -> bytes:
    return json.dumps({"query": query, "variables": variables}).encode()


# name -> a function of a counter giving the request body (distinct documents where that matters)
BOMBS: dict[str, Callable[[int], bytes]] = {
    "search 200 KB (over the body limit)": lambda k: _gql(
        "query($q: String!) { enterprises(search: $q, first: 5) { totalCount } }", q="恒达" * 50_000
    ),
    "search 90 KB (under it)": lambda k: _gql(
        "query($q: String!) { enterprises(search: $q, first: 5) { totalCount } }", q=f"{k}鞋" * 30_000
    ),
    "500 x me { role }": lambda k: json.dumps(
        {"query": f"# {k}\n{{ " + " ".join(["me { role }"] * 500) + " }"}
    ).encode(),
    "distinct 200 KB documents": lambda k: json.dumps(
        {"query": f"# {k} " + "x" * 200_000 + "\n{ me { role } }"}
    ).encode(),
    "id of 100,000 characters": lambda k: _gql(BY_ID, id="E-" + "9" * 100_000),
    "NUL in an id": lambda k: _gql(BY_ID, id=f"E-{k}\x00"),
    "JSON nested 5,000 deep": lambda k: (
        b'{"query": "{ me { role } }", "variables": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    ),
    "5 MB body": lambda k: b'{"query": "{ me { role } }", "x": "' + b"a" * 5_000_000 + b'"}',
}  # fmt: skip


async def _panoramas(client: httpx.AsyncClient, ids: list[str], seconds: float, key: str) -> list[float]:
    """One client asking panoramas back to back for ``seconds``; latencies in seconds."""
    samples: list[float] = []
    deadline = time.monotonic() + seconds
    k = 0
    while time.monotonic() < deadline:
        started = time.perf_counter()
        body = {"query": PANORAMA, "variables": {"id": ids[k % len(ids)]}}
        response = await client.post("/graphql", json=body, headers={"X-API-Key": key})
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200 and "errors" not in response.json(), response.text[:300]
        k += 1
    return samples


def _flood(base: str, name: str, stop: Any, sent: Any, clients: int = 4) -> None:
    """``clients`` anonymous clients sending bomb ``name`` without pause until ``stop`` is set, in a
    process of their own: an attacker does not share the dashboard's process, and in one event loop
    with it, building 5 MB bodies would delay the dashboard's own requests, not the server's."""

    async def one(client: httpx.AsyncClient, first: int) -> int:
        count = 0
        while not stop.is_set():
            # a refused flood may be cut off (the connection closed on a body not read)
            with contextlib.suppress(httpx.HTTPError):
                await client.post("/graphql", content=BOMBS[name](first + count), headers=JSON)
            count += 1
        return count

    # In deployment the attackers' own CPU is another machine's; on these two cores it gets the lowest
    # priority, so that what the dashboard feels is the server's cost of the flood, not the flood's.
    os.nice(19)

    async def main() -> None:
        limits = httpx.Limits(max_connections=clients)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
            sent.value = sum(await asyncio.gather(*(one(client, 10_000 * (n + 1)) for n in range(clients))))

    asyncio.run(main())


async def run(base: str, ids: list[str], seconds: float, pid: int, key: str) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=16)
    spawn = multiprocessing.get_context("spawn")
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        await _panoramas(client, ids, 2, key)  # warm
        idle = percentiles(await _panoramas(client, ids, seconds, key))
        bombs: dict[str, Any] = {}
        for name, make in BOMBS.items():
            await asyncio.sleep(BURST_SECONDS + 1)  # the last flood's bucket refilled: a first answer
            started = time.perf_counter()
            response = await client.post("/graphql", content=make(0), headers=JSON)
            answered = (time.perf_counter() - started) * 1000
            code = (response.json().get("errors") or [{}])[0].get("extensions", {}).get("code")
            stop, sent = spawn.Event(), spawn.Value("q", 0)
            flood = spawn.Process(target=_flood, args=(base, name, stop, sent))
            flood.start()
            await asyncio.sleep(1.0)  # the attackers' process under way
            loaded = percentiles(await _panoramas(client, ids, seconds, key))
            stop.set()
            await asyncio.to_thread(flood.join, 120)
            bombs[name] = {
                "status": response.status_code, "code": code, "answer_ms": round(answered, 1),
                "panorama_p95_ms": round(loaded["p95_ms"], 1),
                "ratio_to_idle": round(loaded["p95_ms"] / idle["p95_ms"], 2),
                "bombs_sent": sent.value,
            }  # fmt: skip
            print(f"{name}: {bombs[name]}", flush=True)
        server = psutil.Process(pid)
        before = server.memory_info().rss
        makes = list(BOMBS.values())
        for k in range(1000):
            with contextlib.suppress(httpx.HTTPError):  # cut off as a flood
                await client.post("/graphql", content=makes[k % len(makes)](50_000 + k), headers=JSON)
        after = server.memory_info().rss
    return {
        "idle": idle, "bombs": bombs,
        "rss_before_mb": round(before / 2**20, 1), "rss_after_mb": round(after / 2**20, 1),
        "rss_growth_mb": round((after - before) / 2**20, 1),
    }  # fmt: skip


def rate_limited(base: str) -> dict[str, Any]:
    """With the default anonymous rate (20/s): how many of 200 quick requests get 429."""
    with httpx.Client(base_url=base, timeout=30) as client:
        codes = [client.post("/graphql", json={"query": "{ me { role } }"}).status_code for _ in range(200)]
    return {"requests": 200, "ok": codes.count(200), "too_many": codes.count(429)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enterprises", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--home", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    home = args.home or Path(tempfile.gettempdir()) / f"entgraph-bench-hostile-{args.enterprises}"
    home.mkdir(parents=True, exist_ok=True)
    build_city(home, args.enterprises, args.seed)
    env = environment(home) | {"ENTGRAPH_API_MODE": "production"}  # cost limit as bench.api
    # the panoramas come from a dashboard with its own key (its own rate bucket); the bombs anonymously
    key = ApiKeyFile(home / "api-keys.toml").create(Role.ANALYST, f"bench-hostile-{uuid.uuid4().hex[:8]}")
    results: dict[str, Any] = {}
    for label, extra in (("rate limits off", {"ENTGRAPH_API_RATE_ANONYMOUS": "0"}), ("as deployed", {})):
        port = free_port()
        server = serve(env | extra, port, home / f"serve-hostile-{len(results)}.log")
        try:
            base = f"http://127.0.0.1:{port}"
            listing = httpx.post(f"{base}/graphql", json={"query": LISTING}, timeout=60).json()
            ids = [edge["node"]["id"] for edge in listing["data"]["enterprises"]["edges"]]
            print(f"-- {label}", flush=True)
            results[label] = asyncio.run(run(base, ids, args.seconds, server.pid, key))
            if not extra:
                results[label]["rate_limit"] = rate_limited(base)
        finally:
            server.terminate()
            server.wait(30)
    print(json.dumps(results, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
