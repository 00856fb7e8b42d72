"""The matcher on Spark (local[2], a real JVM): the saved DuckDB model translated, pairs scored exactly
as DuckDB scores them, jobs cleaned up, the JVM ended on close, and a clear error when Spark cannot start."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psutil
import pyarrow as pa
import pytest

from entgraph.resolution.matching import Candidate, MatchModel
from entgraph.resolution.spark_scoring import SparkOptions, SparkScorer, model_for_spark

pytestmark = [pytest.mark.slow, pytest.mark.spark]

# An odd number of out-of-order characters: Splink's jar rounds the transpositions differently from
# DuckDB and lands this address pair below the 0.9 level DuckDB puts it above.
ADDRESSES = ("晋江市金井镇和平路1465号", "晋江市金井镇青华路614号")


def _bench_matching():
    """bench/matching.py, whose city (Zipf 字号, homophones, absent enterprises) the benchmark scores;
    bench/ is not an installed package, so it is loaded from its file."""
    path = Path(__file__).parents[2] / "bench" / "matching.py"
    spec = importlib.util.spec_from_file_location("entgraph_bench_matching", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def city():
    return _bench_matching().make_city(800, 800, seed=5)


@pytest.fixture(scope="module")
def saved(city) -> str:
    with MatchModel() as model:
        model.train(city.labelled, enterprises=city.index)
        return model.to_json()


@pytest.fixture(scope="module")
def scorer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkScorer]:
    with SparkScorer(SparkOptions(work_dir=tmp_path_factory.mktemp("spark"))) as spark_scorer:
        yield spark_scorer


def _pairs(candidates: list[Candidate]) -> dict[tuple[str, str], tuple[float, list]]:
    return {(c.mention_id, c.enterprise_id): (c.match_weight, c.explanation) for c in candidates}


def test_the_saved_model_is_translated_to_spark_sql_with_its_parameters_untouched(saved: str) -> None:
    model = json.loads(saved)["splink"]
    before = json.dumps(model, sort_keys=True)
    spark = model_for_spark(model)
    assert json.dumps(model, sort_keys=True) == before, "the saved model itself is not changed"
    conditions = [lvl["sql_condition"] for c in spark["comparisons"] for lvl in c["comparison_levels"]]
    rules = [r["blocking_rule"] for r in spark["blocking_rules_to_generate_predictions"]]
    # a double-quoted identifier is a string literal in Spark: none may remain
    assert not [sql for sql in conditions + rules if '"' in sql]
    assert any("jaro_winkler(" in sql.lower() for sql in conditions)
    assert not [sql for sql in conditions if "jaro_winkler_similarity" in sql.lower()]
    assert spark["sql_dialect"] == "spark"
    assert {r["sql_dialect"] for r in spark["blocking_rules_to_generate_predictions"]} == {"spark"}

    def parameters(m: dict) -> list:
        return [
            (lvl.get("m_probability"), lvl.get("u_probability"), lvl.get("tf_adjustment_column"))
            for c in m["comparisons"]
            for lvl in c["comparison_levels"]
        ]

    assert parameters(spark) == parameters(model)
    assert spark["probability_two_random_records_match"] == model["probability_two_random_records_match"]


def test_spark_scores_every_pair_exactly_as_duckdb(city, saved: str, scorer: SparkScorer) -> None:
    with MatchModel.from_json(saved) as here:
        expected = here.score(city.mentions, city.index)
        duckdb_stats = here.last_score_stats
    with MatchModel.from_json(saved, scorer=scorer) as there:
        got = there.score(city.mentions, city.index)
        spark_stats = there.last_score_stats
    assert duckdb_stats and spark_stats
    assert spark_stats.pairs_scored == duckdb_stats.pairs_scored > len(city.mentions)
    assert len(got) == len(expected) > 0
    want, have = _pairs(expected), _pairs(got)
    assert have.keys() == want.keys()
    for pair, (weight, explanation) in want.items():
        assert have[pair][0] == pytest.approx(weight, abs=1e-9), pair
        assert [(c, lvl) for c, lvl, _ in have[pair][1]] == [(c, lvl) for c, lvl, _ in explanation], pair
    # the same order: by mention, best first
    order = [(c.mention_id, c.enterprise_id) for c in expected]
    assert [(c.mention_id, c.enterprise_id) for c in got] == order


def test_jaro_winkler_on_spark_is_duckdbs(scorer: SparkScorer) -> None:
    pairs = [ADDRESSES, ("恒安鞋业", "恒按鞋业"), ("𠀾安鞋业", "𠀾按鞋业"), ("华达", "化达"), ("a", "a")]
    con = duckdb.connect()
    want = [con.execute("select jaro_winkler_similarity(?, ?)", list(p)).fetchone()[0] for p in pairs]
    frame = scorer.spark.createDataFrame([(a, b) for a, b in pairs] + [(None, "x")], "a string, b string")
    got = [row[0] for row in frame.selectExpr("jaro_winkler(a, b)").collect()]
    assert got[:-1] == pytest.approx(want, abs=1e-12)
    assert want[0] > 0.9, "the documented pair sits above the address level in DuckDB"
    assert got[-1] is None, "NULL in, NULL out (NaN would pass every >= threshold in Spark)"


def test_a_threshold_above_every_pair_scores_nothing_and_jobs_leave_no_files(
    city, saved: str, scorer: SparkScorer
) -> None:
    with MatchModel.from_json(saved, scorer=scorer) as model:
        assert model.score(city.mentions.slice(0, 50), city.index, threshold_match_weight=500.0) == []
        assert model.last_score_stats and model.last_score_stats.pairs_scored == 0
        nowhere = {"unique_id": ["only"], "name_core": ["不存在的名字"], "name": ["不存在的名字有限公司"]}
        left = pa.table(nowhere)
        assert model.score(left, city.index) == []
    jobs = list(scorer._run_dir.glob("job-*"))
    assert jobs == [], "every job's Parquet is removed when it is read back"


_SCRIPT = """
import json, sys
from pathlib import Path
import psutil
from entgraph.resolution.spark_scoring import SparkOptions, SparkScorer, SparkUnavailable
work = Path(sys.argv[1])
try:
    with SparkScorer(SparkOptions(work_dir=work)) as scorer:
        rows = scorer.spark.sql("select jaro_winkler('华达', '化达') as jw").collect()
        jvms = [p.pid for p in psutil.Process().children(recursive=True) if p.name() == "java"]
    left = [p.pid for p in psutil.Process().children(recursive=True) if p.name() == "java"]
    files = sorted(map(str, work.iterdir()))
    print(json.dumps({"jw": rows[0][0], "jvms": jvms, "left": left, "files": files}))
except SparkUnavailable as exc:
    print(json.dumps({"error": str(exc)}))
"""


def _run(work: Path, **env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(work)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_closing_the_scorer_ends_its_jvm_and_removes_its_run(tmp_path: Path) -> None:
    out = _run(tmp_path)
    assert out["jvms"], "a JVM ran while the scorer was open"
    assert out["left"] == [] and not [p for p in out["jvms"] if psutil.pid_exists(p)]
    assert out["files"] == [], "the run's folder (checkpoints, Parquet, temp) is gone"
    assert 0 < out["jw"] < 1


def test_spark_that_cannot_start_says_which_java_it_needs(tmp_path: Path) -> None:
    out = _run(tmp_path, JAVA_HOME=str(tmp_path / "no-such-jdk"))
    assert "Spark did not start" in out["error"] and "Java 17 or 21" in out["error"], out
