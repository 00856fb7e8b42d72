"""Scoring a saved match model on Apache Spark (Splink's ``SparkAPI``), for cities past one machine.

The model is trained on DuckDB and saved as DuckDB SQL (``matching.MatchModel``); here the same
model, with the same parameters, scores pairs on Spark, in local mode (``local[2]``) or on a cluster
(``spark://host:7077``, ``yarn``, ``k8s://...``). ``MatchModel`` prepares the inputs in DuckDB (the
trimming, derived blocking keys, cooled hot keys and term frequencies are linear and cheap) and hands
them over as Parquet; Spark does the quadratic part, the blocked join and the comparisons, and writes
the scored pairs back as Parquet. On a cluster ``work_dir`` must therefore be storage the driver and
every executor see (NFS, HDFS or S3 through a mount).

Why the saved model is translated rather than re-created: a steward-tuned, retrained model exists
only as its JSON. DuckDB's double-quoted identifiers are string literals to Spark, and Spark has no
``jaro_winkler_similarity``; sqlglot rewrites each condition and blocking rule, and the function
names are mapped to those Splink's jar registers.
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlglot
from sqlglot import exp

__all__ = ["SparkOptions", "SparkScorer", "SparkUnavailable", "model_for_spark"]

log = logging.getLogger(__name__)

# DuckDB's similarity functions as sqlglot spells them -> the names Splink's jar registers in Spark
_FUNCTIONS = {
    "JAROWINKLER_SIMILARITY": "jaro_winkler",
    "JARO_WINKLER_SIMILARITY": "jaro_winkler",
    "JARO_SIMILARITY": "jaro_sim",
}
# Spark writes a lot to log4j at INFO/WARN; a CLI run should show our progress lines, not that.
_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark: %p %c{1}: %m%n
"""


class SparkUnavailable(RuntimeError):
    """Spark could not start (no pyspark, no Java, or a Java it cannot run on)."""


@dataclass(frozen=True)
class SparkOptions:
    """Where and how Spark scores. ``jaro_winkler``: "duckdb" scores exactly as DuckDB does (a
    rapidfuzz UDF: executors need this Python with pandas and rapidfuzz); "jar" uses Splink's JVM
    function, faster and Python-free, but a pair with an odd number of transposed characters can land
    on the other side of a Jaro-Winkler threshold (see ``spark_jaro_winkler``)."""

    work_dir: Path
    master: str = "local[2]"
    driver_memory: str = "2g"
    # shuffle partitions: 2-3x the executor cores (the default 200 is far too many for 2 cores)
    partitions: int = 4
    jaro_winkler: Literal["duckdb", "jar"] = "duckdb"


def _translate(sql: str) -> str:
    tree = sqlglot.parse_one(sql, read="duckdb")
    for fn in list(tree.find_all(exp.Func)):
        name = fn.name.upper() if isinstance(fn, exp.Anonymous) else fn.sql_name().upper()
        if name in _FUNCTIONS:
            args = [fn.this, fn.expression] if not isinstance(fn, exp.Anonymous) else fn.expressions
            fn.replace(exp.Anonymous(this=_FUNCTIONS[name], expressions=list(args)))
    return tree.sql(dialect="spark")


def model_for_spark(model: Mapping[str, Any]) -> dict[str, Any]:
    """The saved (DuckDB) Splink settings with every SQL condition and blocking rule in Spark SQL;
    parameters (m, u, prior, term-frequency columns) are untouched."""
    out = copy.deepcopy(dict(model))
    out["sql_dialect"] = "spark"
    for comparison in out["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level["sql_condition"].strip().upper() != "ELSE":
                level["sql_condition"] = _translate(level["sql_condition"])
    for rule in out["blocking_rules_to_generate_predictions"]:
        rule["blocking_rule"] = _translate(rule["blocking_rule"])
        rule["sql_dialect"] = "spark"
    return out


class SparkScorer:
    """One SparkSession, started on first use and stopped by :meth:`close` (always call it: a
    SparkSession's JVM outlives a driver that forgets). Not thread-safe: one job at a time."""

    def __init__(self, options: SparkOptions) -> None:
        self.options = options
        self._run_dir = Path(options.work_dir) / f"run-{uuid.uuid4().hex[:12]}"
        self._jobs = itertools.count()
        self._spark: Any = None
        self._api: Any = None
        self._own_gateway = False  # True: the JVM was launched for us, and close() ends it

    def __enter__(self) -> SparkScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def job_dir(self) -> Path:
        """A fresh folder for one job's Parquet inputs and output, removed by :meth:`finish_job`."""
        path = self._run_dir / f"job-{next(self._jobs)}"
        path.mkdir(parents=True)
        return path

    def finish_job(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def predict_between(
        self,
        model: Mapping[str, Any],
        left: Path,
        right: Path,
        term_frequencies: Mapping[str, Path],
        threshold_match_weight: float | None,
        columns: Sequence[str],
        out: Path,
    ) -> None:
        """Score left x right with the (DuckDB-dialect) ``model``; write ``columns`` of every pair
        at or above the threshold to the Parquet folder ``out``."""
        from splink import Linker

        api = self._session()
        spark = self._spark
        job = out.parent.name.replace("-", "_")
        try:
            left_sdf = api.register(spark.read.parquet(str(left)), table_name=f"eg_{job}_left")
            right_sdf = api.register(spark.read.parquet(str(right)), table_name=f"eg_{job}_right")
            linker = Linker(right_sdf, model_for_spark(model), log_level=None, validate_settings=False)
            for col, path in term_frequencies.items():
                tf = api.register(spark.read.parquet(str(path)), table_name=f"eg_{job}_tf_{col}")
                linker.table_management.register_term_frequency_lookup(tf, col)
            predictions = linker.inference.predict_between(
                left_sdf, right_sdf, threshold_match_weight=threshold_match_weight, warning_mode="never"
            )
            frame = predictions.as_spark_dataframe().select(*(f"`{c}`" for c in columns))
            frame.write.mode("overwrite").parquet(str(out))
        finally:
            api.delete_tables_created_by_splink_from_db()

    @property
    def spark(self) -> Any:
        """The SparkSession (started on first use)."""
        self._session()
        return self._spark

    def close(self) -> None:
        """Stop the session and, when it launched the JVM, end the JVM too: PySpark keeps its JVM
        until Python exits, which in a long-lived process (the API server's scheduled runs) would
        hold the driver's memory for good."""
        if self._spark is not None:
            try:
                self._spark.stop()
            finally:
                self._spark = self._api = None
                if self._own_gateway:
                    self._own_gateway = False
                    _end_gateway()
        shutil.rmtree(self._run_dir, ignore_errors=True)

    def _session(self) -> Any:
        if self._api is not None:
            return self._api
        try:
            from pyspark.sql import SparkSession
            from splink.backends.spark import SparkAPI, similarity_jar_location
        except ImportError as exc:
            raise SparkUnavailable(
                f"Spark scoring needs pyspark ({exc}); install it with: pip install 'entgraph[spark]'"
            ) from None
        opts = self.options
        tmp = self._run_dir
        for sub in ("local", "java", "checkpoints"):
            (tmp / sub).mkdir(parents=True, exist_ok=True)
        (tmp / "log4j2.properties").write_text(_LOG4J, encoding="utf-8")
        if opts.master.startswith("local"):
            # else Spark binds the first non-loopback interface and warns that the hostname is loopback
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Python UDF workers run `python3` from PATH unless told: this interpreter has rapidfuzz
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        java_options = (
            f"-Djava.io.tmpdir={tmp / 'java'} -Dlog4j.configurationFile={tmp / 'log4j2.properties'}"
        )
        builder = (
            SparkSession.builder.master(opts.master)
            .appName("entgraph-splink")
            .config("spark.jars", similarity_jar_location())  # shipped to the executors too
            .config("spark.driver.memory", opts.driver_memory)
            .config("spark.sql.shuffle.partitions", str(opts.partitions))
            .config("spark.default.parallelism", str(opts.partitions))
            .config("spark.local.dir", str(tmp / "local"))
            .config("spark.sql.warehouse.dir", str(tmp / "warehouse"))
            .config("spark.driver.extraJavaOptions", java_options)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
        )
        if opts.master.startswith("local"):
            builder = builder.config("spark.driver.host", "127.0.0.1").config(
                "spark.driver.bindAddress", "127.0.0.1"
            )
        from pyspark import SparkContext

        self._own_gateway = SparkContext._gateway is None
        try:
            self._spark = builder.getOrCreate()
        except Exception as exc:  # py4j / JAVA_GATEWAY_EXITED: the JVM would not start
            raise SparkUnavailable(
                f"Spark did not start on {opts.master!r}: {exc}. Spark 4.1 runs on Java 17 or 21 "
                "(set JAVA_HOME to one; Java 25 fails at startup)"
            ) from None
        self._spark.sparkContext.setLogLevel("ERROR")
        # "parquet" lineage breaking writes each intermediate table here (shared storage on a cluster)
        self._spark.sparkContext.setCheckpointDir(str(tmp / "checkpoints"))
        self._api = SparkAPI(
            spark_session=self._spark,
            break_lineage_method="parquet",
            num_partitions_on_repartition=opts.partitions,
            repartition_after_blocking=False,
        )
        if opts.jaro_winkler == "duckdb":
            from entgraph.resolution import spark_jaro_winkler

            spark_jaro_winkler.register(self._spark)
        log.info("Spark %s on %s for matching", self._spark.version, opts.master)
        return self._api


def _end_gateway() -> None:
    """Close PySpark's gateway and let its JVM go: the JVM exits when its stdin (a pipe from this
    process) closes. PySpark has no public call for this; a later session launches a new JVM."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    SparkContext._gateway = None
    SparkContext._jvm = None
    if gateway is None:
        return
    proc = getattr(gateway, "proc", None)
    try:
        gateway.shutdown()
    except Exception as exc:  # the JVM may already be gone
        log.debug("closing the Spark gateway: %s", exc)
    if proc is None:
        return
    try:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=30)
    except Exception:  # not gone in time: it holds gigabytes, so make sure
        proc.kill()
        proc.wait(timeout=10)
