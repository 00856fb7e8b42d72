"""Resolution accuracy and cost on a generated city, against a plain Splink baseline in the same run.

    python -m bench.resolution [--enterprises 10000] [--seed 3] [--profiles jinjiang,independent]
                               [--no-baseline] [--json out.json]

For each generator profile (docs/synthetic-profiles.md: cities shaped unlike ours), generates the city,
loads every file into a private embedded store, then resolves twice from scratch: with the platform's
matcher and with the plain baseline (raw names, library comparisons; same pipeline, same bands). Each
resolve runs in a child process, so its wall time and peak RSS are its own; each is followed by
``entgraph evaluate`` against the generator's truth, and the open steward tasks (distinct-name groups)
are counted.
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

from entgraph.synthetic import generate_city

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
from entgraph.catalog.registry import Catalog
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
                       match_settings=match_settings).run(from_scratch=True, retrain=True)
    groups = store.read("MATCH (t:StewardTask {{status: 'open'}}) RETURN count(t) AS n")[0]["n"]
print(summary.line())
print(summary.training or "")
print(f"groups={{groups}}")
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


def bench_profile(profile: str, args: argparse.Namespace, root: Path) -> dict[str, dict]:
    city = root / profile / "city"
    started = time.perf_counter()
    generated = generate_city(args.enterprises, seed=args.seed, out_dir=city, profile=profile)
    print(
        f"[{profile}] generated {args.enterprises} enterprises in {time.perf_counter() - started:.0f}s",
        flush=True,
    )
    env = {
        **os.environ,
        "ENTGRAPH_HOME": str(root / profile / "home"),
        "ENTGRAPH_GRAPH": "embedded",
        "ENTGRAPH_GRAPH_NAME": "bench_resolution",
    }
    manifest = json.loads((city / "truth" / "manifest.json").read_text(encoding="utf-8"))
    held = {str(city / f["file"]) for f in manifest["files"] if f["dataset"] in args.hold_out.split(",")}
    files = sorted(str(p) for p in city.iterdir() if p.is_file() and str(p) not in held)
    load_s, _, _ = run_measured(["load", *files], env)
    print(f"[{profile}] loaded {len(files)} files in {load_s:.0f}s ({len(held)} held out)", flush=True)
    results = {}
    for matcher in ("entgraph", "baseline") if args.baseline else ("entgraph",):
        seconds, peak, out = run_python(RESOLVE.format(matcher=matcher), env)
        incremental = None
        if held and matcher == "entgraph":  # a monthly upload: it should cost what it holds, not the city
            run_measured(["load", *sorted(held)], env)
            script = RESOLVE.format(matcher="entgraph").replace("from_scratch=True, retrain=True", "")
            inc_s, inc_peak, inc_out = run_python(script, env)
            incremental = {"seconds": inc_s, "peak_rss_mb": inc_peak, "summary": inc_out.splitlines()[0]}
            print(f"[{profile}] incremental: {incremental['summary']} in {inc_s:.0f}s", flush=True)
        # both matchers are scored on every record (the baseline resolves the held-out ones from scratch)
        report = root / profile / f"{matcher}.json"
        run_measured(["evaluate", "--truth", str(city / "truth" / "truth.csv"), "--json", str(report)], env)
        figures = json.loads(report.read_text(encoding="utf-8"))
        lines = out.strip().splitlines()
        groups = int(lines[-1].removeprefix("groups="))
        results[matcher] = {
            "profile": profile,
            "matcher": matcher,
            "shared_core_share": getattr(generated, "shared_core_share", None),
            "seconds": seconds,
            "peak_rss_mb": peak,
            "summary": lines[0],
            "training": lines[1] if len(lines) > 2 else "",
            "task_groups": groups,
            "group_share": groups / max(figures["codeless"], 1),
            "incremental": incremental,
            **figures,
        }
        print(f"[{profile}] {matcher}: {lines[0]}\n    {results[matcher]['training']}", flush=True)
        print(f"    calibration: {figures.get('calibration')}", flush=True)
        print(
            f"    precision {figures['pairwise_precision']:.4f} recall {figures['pairwise_recall']:.4f}"
            f" (rest {figures.get('resolvable_pairwise_recall')}), ambiguous {figures.get('ambiguous')}",
            flush=True,
        )
    run_measured(["store", "stop"], env)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--profiles", default="jinjiang,register-only,dense-names,most-coded,independent")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--hold-out",
        default="jj_key_enterprise_electricity,jj_government_subsidies",
        help="datasets loaded and resolved after the rest, as a monthly upload ('' for none)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="entgraph-bench-res-") as tmp:
        for profile in args.profiles.split(","):
            rows += bench_profile(profile, args, Path(tmp)).values()
    print()
    print(
        "| profile | matcher | pairwise P | pairwise R | B³ P | B³ R | ambiguous | R (rest) "
        "| to stewards (rows) | task groups / code-less rows | resolve s | peak RSS MiB |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['profile']} | {r['matcher']} "
            f"| {r['pairwise_precision']:.4f} | {r['pairwise_recall']:.4f} "
            f"| {r['bcubed_precision']:.4f} | {r['bcubed_recall']:.4f} "
            f"| {r['ambiguous'] / max(r['codeless'], 1):.1%} | {r['resolvable_pairwise_recall']:.4f} "
            f"| {r['steward_share']:.2%} "
            f"| {r['group_share']:.2%} | {r['seconds']:.0f} | {r['peak_rss_mb']:.0f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
