"""The matcher's scoring on DuckDB and on Spark (local mode), same model, same inputs, same run.

    python -m bench.spark [--enterprises 50000] [--mentions 100000] [--master local[2]]
                          [--jaro-winkler duckdb|jar] [--json out.json]

The city is bench/matching's (Zipf 字号, homophones, former names, 8% absent enterprises). The model is
trained once on DuckDB and saved; then ``MatchModel.score`` runs on DuckDB and on a ``SparkScorer``,
each with the same threshold (-10 bits) as the resolver's bench. Reported: wall and CPU seconds
(Python and the JVM together: steadier on a shared machine), Spark's start-up apart, and whether the
two engines agree: the same (mention, enterprise) pairs, weights within 1e-9, the same best enterprise
per mention. Peak RSS includes the JVM. Spark is not expected to be faster on 2 cores: the figure is
what a province pays per core before it adds executors.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from bench.matching import make_city
from entgraph.resolution.matching import Candidate, MatchModel
from entgraph.resolution.spark_scoring import SparkOptions, SparkScorer


class _Usage:
    """CPU seconds and peak RSS of this process and its children (the Spark JVM and its Python workers)."""

    def __init__(self) -> None:
        self._me = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _processes(self) -> list[psutil.Process]:
        return [self._me, *self._me.children(recursive=True)]

    def rss(self) -> int:
        total = 0
        for p in self._processes():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def cpu(self) -> float:
        total = 0.0
        for p in self._processes():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.2)

    def reset(self) -> None:
        self.peak = self.rss()

    def stop(self) -> None:
        self._stop.set()


def _agreement(duck: list[Candidate], spark: list[Candidate]) -> dict[str, Any]:
    a = {(c.mention_id, c.enterprise_id): c.match_weight for c in duck}
    b = {(c.mention_id, c.enterprise_id): c.match_weight for c in spark}
    common = a.keys() & b.keys()

    def best(cands: list[Candidate]) -> dict[str, str]:
        top: dict[str, Candidate] = {}
        for c in cands:
            if c.mention_id not in top or c.match_weight > top[c.mention_id].match_weight:
                top[c.mention_id] = c
        return {m: c.enterprise_id for m, c in top.items()}

    best_a, best_b = best(duck), best(spark)
    return {
        "pairs_only_duckdb": len(a.keys() - b.keys()),
        "pairs_only_spark": len(b.keys() - a.keys()),
        "weights_differ": sum(1 for k in common if abs(a[k] - b[k]) > 1e-9),
        "best_differs": sum(1 for m in best_a.keys() | best_b.keys() if best_a.get(m) != best_b.get(m)),
    }


def run(enterprises: int, mentions: int, master: str, jaro_winkler: str) -> dict[str, Any]:
    city = make_city(enterprises, mentions)
    usage = _Usage()
    out: dict[str, Any] = {
        "enterprises": enterprises,
        "index_rows": city.index.num_rows,
        "mentions": city.mentions.num_rows,
        "master": master,
        "jaro_winkler": jaro_winkler,
    }
    with MatchModel() as model:
        model.train(city.labelled, enterprises=city.index)
        saved = model.to_json()
    with MatchModel.from_json(saved) as model:
        usage.reset()
        started, cpu = time.perf_counter(), usage.cpu()
        duck = model.score(city.mentions, city.index, threshold_match_weight=-10.0)
        out["duckdb"] = {
            "score_s": time.perf_counter() - started,
            "cpu_s": usage.cpu() - cpu,
            "pairs": model.last_score_stats.pairs_scored if model.last_score_stats else 0,
            "candidates": len(duck),
            "peak_rss_mb": usage.peak / 2**20,
        }
    with tempfile.TemporaryDirectory(prefix="entgraph-bench-spark-") as work:
        options = SparkOptions(work_dir=Path(work), master=master, jaro_winkler=jaro_winkler)  # type: ignore[arg-type]
        with SparkScorer(options) as scorer, MatchModel.from_json(saved, scorer=scorer) as model:
            usage.reset()
            started, cpu = time.perf_counter(), usage.cpu()
            assert scorer.spark is not None  # start-up, timed apart: paid once per resolve run
            startup = time.perf_counter() - started
            started = time.perf_counter()
            spark = model.score(city.mentions, city.index, threshold_match_weight=-10.0)
            out["spark"] = {
                "startup_s": startup,
                "score_s": time.perf_counter() - started,
                "cpu_s": usage.cpu() - cpu,
                "pairs": model.last_score_stats.pairs_scored if model.last_score_stats else 0,
                "candidates": len(spark),
                "peak_rss_mb": usage.peak / 2**20,
            }
    usage.stop()
    out["agreement"] = _agreement(duck, spark)
    spark_s = out["spark"]["startup_s"] + out["spark"]["score_s"]
    out["spark_over_duckdb"] = spark_s / out["duckdb"]["score_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enterprises", type=int, default=50_000)
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--jaro-winkler", choices=["duckdb", "jar"], default="duckdb")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.enterprises, args.mentions, args.master, args.jaro_winkler)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
