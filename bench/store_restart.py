"""Restart time of the embedded store: the old persistence configuration against the current one.

    python -m bench.store_restart [--rows 36000] [--batch-size 2000] [--configs new old] [--json out.json]

Both configurations get the same loader-like workload in a fresh data home each: the platform's kind of
schema (unique keys, so indexes), then ``--rows`` source records of about 1 KB each written as batched
``MERGE`` (a record, its enterprise and the edge between them), then a tenth of them updated again. Then
each server is stopped with ``entgraph store stop``'s code path and started again (the clean restart),
and, after a few more writes, killed with SIGKILL and started again (the crash restart). A restart is
timed from the start command until the server answers, i.e. has loaded all its data; the data is then
counted to check nothing was lost.

- old: ``auto-aof-rewrite-percentage 100``, ``auto-aof-rewrite-min-size 64mb``, no rewrite at a stop
  or after a schema change (the configuration before issue 15);
- new: the current one (``EmbeddedServer`` as shipped): rewrite at a clean stop and after a schema
  change, automatic rewrites past 50% growth and 1 MB.

Both run in the same process on the same machine one after the other, so the ratio holds on a noisy
machine even when the absolute figures move. ``--configs new`` (or ``old``) runs one configuration
alone, to see how it scales.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import time
from pathlib import Path

import psutil

from entgraph.graph import GraphSchema, PropertyIndex, UniqueKey
from entgraph.graph.embedded_server import EmbeddedServer
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.search_text import search_tokens

SCHEMA = GraphSchema(
    unique=(UniqueKey("BenchRecord", "id"), UniqueKey("BenchEnterprise", "id")),
    indexes=(PropertyIndex("BenchRecord", "town"),),
)
MERGE = (
    "UNWIND $rows AS row MERGE (r:BenchRecord {id: row.id}) SET r += row.props "
    "MERGE (e:BenchEnterprise {id: row.eid}) ON CREATE SET e.name = row.props.name "
    "MERGE (r)-[:ABOUT]->(e)"
)
TOWNS = ["青阳街道", "梅岭街道", "西园街道", "罗山街道", "灵源街道", "新塘街道", "陈埭镇", "池店镇"]
TRADES = ["鞋服制造", "纸业", "食品", "陶瓷建材", "纺织", "机械", "电子", "物流"]


class OldServer(EmbeddedServer):
    """The persistence configuration before issue 15."""

    aof_rewrite_percentage = 100
    aof_rewrite_min_size = "64mb"


def rows(lo: int, hi: int, edition: int = 0) -> list[dict]:
    out = []
    for i in range(lo, hi):
        town = TOWNS[i % len(TOWNS)]
        name = f"晋江市{town[:2]}第{i}号{TRADES[i % len(TRADES)]}有限公司"
        address = f"福建省泉州市晋江市{town}工业区{i % 500}号{i % 7 + 1}栋"
        props = {
            "name": name,
            "name_tokens": search_tokens(name),
            "address": address,
            "address_tokens": search_tokens(address),
            "town": town,
            "legal_rep": f"陈{'明华建国丽娟志强'[i % 8]}{'伟芳娜秀英敏静'[i % 7]}",
            "phone": f"0595-{85000000 + i}",
            "credit_code": f"91350582MA{i:08d}",
            "capital": 100.0 + i % 997,
            "dataset": "bench-registry",
            "file_name": "市场主体登记2026.xlsx",
            "sheet": "企业",
            "row": i + 2,
            "content_hash": f"{(i * 2654435761 + edition) % 2**64:016x}",
            "edition": edition,
        }
        out.append({"id": f"rec-{i:09d}", "eid": f"ent-{i // 2:09d}", "props": props})
    return out


def counts(store: FalkorDBStore) -> dict[str, int]:
    return {
        "records": store.read("MATCH (r:BenchRecord) RETURN count(r) AS c")[0]["c"],
        "enterprises": store.read("MATCH (e:BenchEnterprise) RETURN count(e) AS c")[0]["c"],
        "edges": store.read("MATCH (:BenchRecord)-[a:ABOUT]->() RETURN count(a) AS c")[0]["c"],
        "edition_1": store.read("MATCH (r:BenchRecord) WHERE r.edition = 1 RETURN count(r) AS c")[0]["c"],
    }


def files(server: EmbeddedServer) -> dict[str, int]:
    aof = server.dir / "appendonlydir"
    total = sum(p.stat().st_size for p in aof.iterdir() if p.is_file())
    return {"aof_dir_bytes": total, "tail_bytes": server.tail_bytes()}


def timed_start(server: EmbeddedServer) -> float:
    started = time.perf_counter()
    server.ensure_running()
    return time.perf_counter() - started


def run(kind: str, home: Path, n: int, batch_size: int) -> dict:
    cls = OldServer if kind == "old" else EmbeddedServer
    server = cls(home, start_timeout=3600, compaction=kind == "new")
    result: dict = {"config": kind}
    try:
        store = FalkorDBStore("bench_restart", server=server, batch_size=batch_size)
        store.ensure_schema(SCHEMA)
        started = time.perf_counter()
        store.write_batches(MERGE, rows(0, n), batch_size=batch_size)
        store.write_batches(MERGE, rows(0, n // 10, edition=1), batch_size=batch_size)  # a reload
        result["write_s"] = time.perf_counter() - started
        expected = counts(store)
        result["before_stop"] = files(server)
        store.close()

        started = time.perf_counter()
        server.stop()
        result["stop_s"] = time.perf_counter() - started
        result["after_stop"] = files(server)
        result["clean_restart_s"] = timed_start(server)
        store = FalkorDBStore("bench_restart", server=server, batch_size=batch_size)
        assert counts(store) == expected, (kind, "clean", counts(store), expected)

        # A crash: a few more acknowledged writes, then SIGKILL; the restart replays base + tail.
        store.write_batches(MERGE, rows(n, n + n // 20), batch_size=batch_size)
        expected = counts(store)
        result["before_crash"] = files(server)
        pid = server.running().pid
        os.kill(pid, signal.SIGKILL)
        psutil.Process(pid).wait(timeout=30)
        store.close()
        result["crash_restart_s"] = timed_start(server)
        store = FalkorDBStore("bench_restart", server=server, batch_size=batch_size)
        assert counts(store) == expected, (kind, "crash", counts(store), expected)
        result["counts"] = expected
        store.close()
    finally:
        server.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=36_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--configs", nargs="+", choices=["new", "old"], default=["new", "old"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory(prefix="entgraph-restart-") as tmp:
        for kind in args.configs:
            r = results[kind] = run(kind, Path(tmp) / kind, args.rows, args.batch_size)
            print(
                f"{kind}: wrote {args.rows:,} records (+{args.rows // 10:,} updated) in {r['write_s']:.1f}s; "
                f"AOF {r['before_stop']['aof_dir_bytes'] / 1e6:.1f} MB "
                f"(tail {r['before_stop']['tail_bytes'] / 1e6:.1f} MB) before the stop, "
                f"{r['after_stop']['aof_dir_bytes'] / 1e6:.1f} MB "
                f"(tail {r['after_stop']['tail_bytes'] / 1e6:.1f} MB) after it ({r['stop_s']:.1f}s); "
                f"clean restart {r['clean_restart_s']:.2f}s; "
                f"crash restart {r['crash_restart_s']:.2f}s "
                f"(tail {r['before_crash']['tail_bytes'] / 1e6:.1f} MB)",
                flush=True,
            )
    summary: dict = {"rows": args.rows, "runs": results}
    if {"new", "old"} <= results.keys():
        new, old = results["new"], results["old"]
        summary["clean_restart_old_over_new"] = old["clean_restart_s"] / new["clean_restart_s"]
        summary["crash_restart_old_over_new"] = old["crash_restart_s"] / new["crash_restart_s"]
        print(
            f"restart, old config / new config: clean {summary['clean_restart_old_over_new']:.0f}x, "
            f"after SIGKILL {summary['crash_restart_old_over_new']:.0f}x"
        )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
