"""Spark's ``jaro_winkler`` as DuckDB computes it, so a model scores the same pairs the same on both engines.

Splink's jar counts Jaro transpositions as half the out-of-order characters without rounding down (3
out of order: 1.5, where DuckDB, rapidfuzz and Winkler's own C code take 1), so a pair near a
threshold (an address at JW 0.9082 in DuckDB, 0.8991 in the jar) falls on the other side of it. This
pandas UDF uses rapidfuzz, which agrees with DuckDB on every pair we compared, Ext-B characters too.

This module must not use ``from __future__ import annotations``: ``pandas_udf`` reads the type hints
at run time, and strings there fail with ``UNSUPPORTED_SIGNATURE``.
"""

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql.functions import pandas_udf


@pandas_udf("double")  # type: ignore[call-overload]
def jaro_winkler(a: pd.Series, b: pd.Series) -> pd.Series:
    from rapidfuzz.distance import JaroWinkler

    # NULL in, NULL out, never NaN: Spark evaluates a UDF on every row before the CASE WHEN that
    # guards it, and in Spark NaN >= 0.92 is true
    # (pandas 3 hands missing strings over as NaN, earlier pandas as None: pd.isna covers both)
    scores = [
        None if pd.isna(x) or pd.isna(y) else JaroWinkler.similarity(x, y) for x, y in zip(a, b, strict=True)
    ]
    return pd.Series(scores, dtype="Float64")


def register(spark: SparkSession) -> None:
    """Replace the jar's ``jaro_winkler`` (call after ``SparkAPI(...)``, which registers the jar's)."""
    spark.udf.register("jaro_winkler", jaro_winkler)
