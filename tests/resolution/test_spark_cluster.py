"""The matcher on a Spark standalone cluster (a master and a worker from the pyspark wheel, on loopback):
the ``spark://`` path production takes, with executors in their own JVMs and the jar and the Python
UDF shipped to them, scores exactly as DuckDB."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(log: Path, pattern: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if re.search(pattern, log.read_text(errors="replace")):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    raise AssertionError(f"{pattern!r} not in {log}:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``spark://127.0.0.1:<port>``: a master and one 2-core worker, stopped afterwards."""
    import pyspark

    home = Path(pyspark.__file__).parent
    root = tmp_path_factory.mktemp("spark-cluster")
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(root)}
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    spark_class = str(home / "bin" / "spark-class")
    started: list[subprocess.Popen] = []
    try:
        master_log = root / "master.log"
        master = subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(_free_port())],
            stdout=master_log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        started.append(master)
        _wait_for(master_log, r"New state: ALIVE", master)
        worker_log = root / "worker.log"
        worker = subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "2",
             "--memory", "2g", "--webui-port", str(_free_port()), "--work-dir", str(root / "work"), url],
            stdout=worker_log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        started.append(worker)
        _wait_for(worker_log, r"Successfully registered with master", worker)
        yield url
    finally:
        for proc in reversed(started):
            os.killpg(proc.pid, 15)
        for proc in started:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)


_SCRIPT = """
import importlib.util, json, sys
from pathlib import Path
from entgraph.resolution.matching import MatchModel
from entgraph.resolution.spark_scoring import SparkOptions, SparkScorer
spec = importlib.util.spec_from_file_location("bench_matching", sys.argv[3])
bench = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench
spec.loader.exec_module(bench)
city = bench.make_city(800, 800, seed=9)
with MatchModel() as model:
    model.train(city.labelled, enterprises=city.index)
    saved = model.to_json()
    here = model.score(city.mentions, city.index)
with SparkScorer(SparkOptions(work_dir=Path(sys.argv[2]), master=sys.argv[1])) as scorer:
    master = scorer.spark.sparkContext.master
    with MatchModel.from_json(saved, scorer=scorer) as model:
        there = model.score(city.mentions, city.index)
    # counted after the work: executors register asynchronously, and on a standalone master the driver
    # runs no tasks, so a finished job means an executor of the worker took part
    executors = scorer.spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size()
def pairs(cands):
    return {f"{c.mention_id}|{c.enterprise_id}":
            [c.match_weight, [list(e[:2]) for e in c.explanation]] for c in cands}
print(json.dumps({"master": master, "executors": executors, "duckdb": pairs(here), "spark": pairs(there)}))
"""


def test_a_standalone_cluster_scores_exactly_as_duckdb(standalone_cluster: str, tmp_path: Path) -> None:
    bench = Path(__file__).parents[2] / "bench" / "matching.py"
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, standalone_cluster, str(tmp_path / "work"), str(bench)],
        # a cluster on loopback: the driver must advertise 127.0.0.1 to the executors
        env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["master"] == standalone_cluster
    assert out["executors"] >= 2, "the driver and at least one executor of the worker"
    assert len(out["duckdb"]) > 500
    spark, duck = out["spark"], out["duckdb"]
    assert spark.keys() == duck.keys()
    for pair, (weight, levels) in duck.items():
        assert spark[pair][0] == pytest.approx(weight, abs=1e-9) and spark[pair][1] == levels, pair
