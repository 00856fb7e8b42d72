"""Resolution accuracy and cost on a generated city, against a plain Splink baseline in the same run.

    python -m bench.resolution [--enterprises 10000] [--seed 3] [--json out.json]

Generates the city, loads every file into a private embedded store, then resolves twice from scratch:
with the platform's matcher and with the plain baseline (raw names, library comparisons; same
pipeline, same bands). Each resolve runs in a child process, so its wall time and peak RSS are its
own; each is followed by ``entgraph evaluate`` against the generator's truth.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from entgraph.loaders.synthetic import generate_city

ENTGRAPH = str(Path(sys.executable).with_name("entgraph"))


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Like ``run`` but reaps the child with wait4 to read its own peak RSS."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [ENTGRAPH, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out = child.stdout.read() if child.stdout else ""
    err = child.stderr.read() if child.stderr else ""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"entgraph {' '.join(args)} failed:\n{err}")
    return seconds, usage.ru_maxrss / 1024, out


# The baseline is plain Splink: raw names, library comparisons (Jaro-Winkler on the raw name, exact
# phone / representative / address), blocking on those raw columns. (Blocking on the first characters
# of the raw name, the other obvious choice, is quadratic here: nearly every name starts 晋江 or 福建;
# see bench/matching.py.) Both run through the same resolver, bands and evaluation.
RESOLVE = """
import dataclasses, sys
from splink import block_on
from entgraph.graph import open_store
from entgraph.loaders.registry import Catalog
from entgraph.resolution.matching import baseline_settings
from entgraph.resolution.resolver import Resolver
from entgraph.settings import Settings
settings = Settings()
match_settings, model = None, settings.model_path
if "{matcher}" == "baseline":
    match_settings = dataclasses.replace(
        baseline_settings(),
        blocking_rules=tuple(block_on(c) for c in ("raw_name", "phone", "legal_rep", "address")),
    )
    model = settings.model_path.with_name("baseline-model.json")
with open_store(settings) as store:
    summary = Resolver(store, Catalog.load(), model, threads=settings.threads,
                       match_settings=match_settings).run(from_scratch=True)
print(summary.line())
"""


def run_python(script: str, env: dict[str, str]) -> tuple[float, float, str]:
    """Run a Python snippet in a child; returns (seconds, its own peak RSS MiB, stdout)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out = child.stdout.read() if child.stdout else ""
    err = child.stderr.read() if child.stderr else ""
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"resolve failed:\n{err}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="entgraph-bench-res-") as tmp:
        root = Path(tmp)
        city = root / "city"
        started = time.perf_counter()
        generate_city(args.enterprises, seed=args.seed, out_dir=city)
        print(f"generated {args.enterprises} enterprises in {time.perf_counter() - started:.0f}s", flush=True)
        env = {
            **os.environ,
            "ENTGRAPH_HOME": str(root / "home"),
            "ENTGRAPH_GRAPH": "embedded",
            "ENTGRAPH_GRAPH_NAME": "bench_resolution",
        }
        files = sorted(str(p) for p in city.iterdir() if p.is_file())
        load_s, _, _ = run_measured(["load", *files], env)
        print(f"loaded {len(files)} files in {load_s:.0f}s", flush=True)
        results = {}
        for matcher in ("entgraph", "baseline"):
            seconds, peak, out = run_python(RESOLVE.format(matcher=matcher), env)
            report = root / f"{matcher}.json"
            run_measured(
                ["evaluate", "--truth", str(city / "truth" / "truth.csv"), "--json", str(report)], env
            )
            figures = json.loads(report.read_text(encoding="utf-8"))
            results[matcher] = {"seconds": seconds, "peak_rss_mb": peak, "summary": out.strip(), **figures}
            print(f"{matcher}: {out.strip()}", flush=True)
        run_measured(["store", "stop"], env)
    print()
    print("| matcher | pairwise P | pairwise R | F1 | B³ P | B³ R | to stewards | resolve s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for matcher, r in results.items():
        print(
            f"| {matcher} | {r['pairwise_precision']:.4f} | {r['pairwise_recall']:.4f} "
            f"| {r['pairwise_f1']:.4f} "
            f"| {r['bcubed_precision']:.4f} | {r['bcubed_recall']:.4f} | {r['steward_share']:.2%} "
            f"| {r['seconds']:.0f} | {r['peak_rss_mb']:.0f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
