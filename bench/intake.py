"""The collection channels against the shell, in one run.

A 200,000-row xlsx through HTTP and the worker against ``entgraph load`` of the same file, the
panorama's latency while an upload runs, and docking batches of 1,000 JSON records against loading the
same records as one file.

    python -m bench.intake [--rows 200000] [--enterprises 2000] [--dock 20000] [--json out.json]

The city (bench/api.py's, reused across runs) is served by ``entgraph serve`` with ``entgraph worker``
beside it, as deployed. ``entgraph load`` writes into its own empty graph of the same embedded store, so
both loads are first loads. The panorama is asked by one client, one request after another, for 15 s
idle and then for as long as the upload takes. Goals (issue 20): upload / load <= 1.2, panorama p95
during the upload within 2x of idle, docking records/s >= 0.8x the file's.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.api import ENTGRAPH, PANORAMA, build_city, entgraph, environment, free_port, percentiles, serve
from bench.load import DATASET, headers, make_rows, write_file
from entgraph.api.auth import ApiKeyFile, Role
from entgraph.catalog.registry import Catalog
from entgraph.graph import open_store
from entgraph.identity.codes import make_credit_code
from entgraph.settings import Settings

TAX = "晋江:市税务局"
REGISTRATION = "jj_tax_registration"
TOWNS = ["青阳街道", "梅岭街道", "西园街道", "罗山街道", "陈埭镇", "池店镇", "安海镇", "磁灶镇"]


def registrations(n: int, run: int) -> list[dict[str, str]]:
    """Tax registrations of enterprises the city does not have, new in each run (``run`` picks a block
    of codes), so that every record is a new one for both paths."""
    base = 10_000_000 + (run % 800) * 100_000
    return [
        {
            "社会信用代码（纳税人识别号）": make_credit_code("350582", f"{base + i:08d}"),
            "纳税人名称": f"晋江市第{i}号对接测试有限公司",
            "纳税人状态": "正常",
            "课征主体登记类型": "单位纳税人",
            "登记注册类型": "有限责任公司",
            "开业设立日期": "2015-06-01",
            "从业人数": str(10 + i % 300),
            "主管税务机关": "国家税务总局晋江市税务局",
            "行业门类": "制造业",
            "街道乡镇": TOWNS[i % len(TOWNS)],
        }
        for i in range(n)
    ]


def job_done(http: httpx.Client, job_id: str) -> dict[str, Any]:
    while True:
        job = http.get(f"/uploads/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.02)


def panoramas(
    http: httpx.Client, ids: list[str], stop: threading.Event, seconds: float | None
) -> list[float]:
    """One client asking for full panoramas back to back, until ``stop`` (or for ``seconds``)."""
    rng, samples = random.Random(3), []
    deadline = time.perf_counter() + seconds if seconds else None
    while not stop.is_set() and (deadline is None or time.perf_counter() < deadline):
        started = time.perf_counter()
        response = http.post("/graphql", json={"query": PANORAMA, "variables": {"id": rng.choice(ids)}})
        if response.status_code == 200 and "errors" not in response.json():
            samples.append(time.perf_counter() - started)
    return samples


def upload(clerk: httpx.Client, path: Path) -> tuple[float, dict[str, Any]]:
    """POST the file, wait for its job: seconds from the first byte sent to the load done."""
    started = time.perf_counter()
    with path.open("rb") as f:
        sent = clerk.post("/uploads", files={"file": (path.name, f)}, data={"dataset": DATASET})
    assert sent.status_code == 202, sent.text
    job = job_done(clerk, sent.json()["jobs"][0]["id"])
    assert job["status"] == "done", job
    return time.perf_counter() - started, {k: job[k] for k in ("rowsRead", "new", "rejected")}


def docking(clerk: httpx.Client, env: dict[str, str], work: Path, n: int, stamp: str) -> dict[str, Any]:
    """The same records as one file through `entgraph load` (an empty graph), and as batches of 1,000."""
    records = registrations(n, int(stamp))
    as_file = work / f"税务登记信息_bench_{stamp}.csv"
    with as_file.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    started = time.perf_counter()
    entgraph(
        ["load", str(as_file), "--dataset", REGISTRATION],
        {**env, "ENTGRAPH_GRAPH_NAME": f"bench_intake_dock_{stamp}"},
    )
    file_s = time.perf_counter() - started
    started = time.perf_counter()
    jobs = []
    for first in range(0, len(records), 1000):
        response = clerk.post(
            f"/docking/{REGISTRATION}",
            json={"records": records[first : first + 1000]},
            headers={"Idempotency-Key": f"bench-{stamp}-{first}"},
            params={"channel": "bench"},
        )
        assert response.status_code == 202, response.text
        jobs.append(response.json()["id"])
    job_done(clerk, jobs[-1])  # one dataset loads one job at a time, in order: the last is the last done
    dock_s = time.perf_counter() - started
    finished = [job_done(clerk, job_id) for job_id in jobs]
    assert all(j["status"] == "done" for j in finished), finished
    return {
        "records": len(records),
        "file_records_per_s": len(records) / file_s,
        "docking_records_per_s": len(records) / dock_s,
        "docking_over_file": file_s / dock_s,
        "new": sum(j["new"] or 0 for j in finished),
    }


def two_files(work: Path, rows: int, stamp: str) -> tuple[Path, Path]:
    """Two xlsx files of ``rows`` rows each, none shared: each upload writes all its rows anew."""
    cols = headers(Catalog.load(entry_points=False))
    made = make_rows(2 * rows, cols)
    first = write_file(work / f"税务净入库信息_bench_{stamp}_a.xlsx", cols, made[:rows])
    second = write_file(work / f"税务净入库信息_bench_{stamp}_b.xlsx", cols, made[rows:])
    print(f"{first.name}: {rows:,} rows, {first.stat().st_size / 2**20:.1f} MB", flush=True)
    return first, second


def while_uploading(reader: httpx.Client, clerk: httpx.Client, ids: list[str], path: Path) -> dict[str, Any]:
    """Panorama latency idle (15 s), then while ``path`` is uploaded and loaded."""
    panoramas(reader, ids, threading.Event(), 3)  # warm up
    idle = percentiles(panoramas(reader, ids, threading.Event(), 15))
    stop, during = threading.Event(), []
    asking = threading.Thread(target=lambda: during.extend(panoramas(reader, ids, stop, None)))
    asking.start()
    seconds, _ = upload(clerk, path)
    stop.set()
    asking.join()
    busy = percentiles(during)
    return {
        "upload_with_readers_s": seconds,
        "panorama_idle": idle,
        "panorama_during_upload": busy,
        "panorama_p95_during_over_idle": busy["p95_ms"] / idle["p95_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--enterprises", type=int, default=2000)
    parser.add_argument("--dock", type=int, default=20_000, help="records sent by docking")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    home = Path(tempfile.gettempdir()) / f"entgraph-bench-api-{args.enterprises}"
    env = environment(home)
    city = build_city(home, args.enterprises, seed=5)
    print(f"city: {json.dumps(city)}", flush=True)
    settings = Settings(home=home, graph="embedded", graph_name=env["ENTGRAPH_GRAPH_NAME"])
    with open_store(settings) as store:
        ids = [r["id"] for r in store.read("MATCH (e:Enterprise) RETURN e.id AS id LIMIT 500")]
    keys = ApiKeyFile(settings.api_keys_path)
    stamp = str(int(time.time()))
    tax_key = keys.create(Role.DEPARTMENT, f"bench-tax-{stamp}", TAX)
    analyst_key = keys.create(Role.ANALYST, f"bench-analyst-{stamp}")

    work = Path(tempfile.mkdtemp(prefix="entgraph-bench-intake-"))
    first, second = two_files(work, args.rows, stamp)
    out: dict[str, Any] = {"rows": args.rows, "enterprises": args.enterprises, "city": city}

    started = time.perf_counter()  # the shell: entgraph load into an empty graph of the same store
    entgraph(
        ["load", str(first), "--dataset", DATASET], {**env, "ENTGRAPH_GRAPH_NAME": f"bench_intake_{stamp}"}
    )
    out["load_s"] = time.perf_counter() - started

    port = free_port()
    server = serve(env, port, home / "bench-intake-server.log")
    with (home / "bench-intake-worker.log").open("w") as log:
        worker = subprocess.Popen(
            [ENTGRAPH, "worker", "--poll", "0.1"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        reader = httpx.Client(base_url=base, headers={"X-API-Key": analyst_key}, timeout=60)
        clerk = httpx.Client(base_url=base, headers={"X-API-Key": tax_key}, timeout=600)
        out["upload_s"], out["upload_job"] = upload(clerk, first)  # the channel's own cost, alone
        out["upload_over_load"] = out["upload_s"] / out["load_s"]

        out |= while_uploading(reader, clerk, ids, second)
        out["docking"] = docking(clerk, env, work, args.dock, stamp)
    finally:
        worker.terminate()
        server.terminate()
        worker.wait(30)
        server.wait(30)
    print(json.dumps(out, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
