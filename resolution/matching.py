"""Probabilistic matching of department records ("mentions") to canonical enterprises, with Splink.

Mentions that carry no valid credit code are scored against the rows of the enterprise index: one
row per name an enterprise is known by (current name, former names, variants), with
``unique_id = "<enterprise_id>#<k>"``. Everything Splink-specific lives in this module; callers pass
pyarrow Tables and get plain :class:`Candidate` rows back.

Feature columns (all strings, nullable unless said; missing columns are read as NULL):

==============  ==========================================================================
unique_id       required. Mention id (left) or ``<enterprise_id>#<k>`` (right)
enterprise_id   right: the canonical enterprise (required); left: NULL, or the label when training
name            normalised full name, e.g. 晋江市恒安鞋业有限公司
name_core       trade name + industry words, e.g. 恒安鞋业
trade_name      字号, e.g. 恒安
trade_pinyin    toneless pinyin of the trade name, e.g. hengan
legal_form      有限公司 / 股份有限公司 / ...
branch          branch marker (泉州分公司); a branch and its parent are different enterprises
region          canonical region short name (晋江)
legal_rep       legal representative
phone           normalised phone digits
address         normalised address
town            镇 / 街道
industry        GB/T 4754 code, e.g. 1952
code_hint       a credit code / org code / taxpayer id that failed validation
==============  ==========================================================================

How a model is made (:meth:`MatchModel.train`), all deterministic for a given input:

* u probabilities: ``estimate_u_using_random_sampling`` with a fixed seed. Splink 5 samples by
  hashing the unique id with the seed (no ``random()``), so the same rows give the same sample.
* m probabilities: ``estimate_m_from_label_column("enterprise_id")`` on the labelled mentions (in
  production the records that carried a valid credit code: free labels).
* prior: a mention names exactly one of the N enterprises, so P(match) for a random
  (mention, enterprise row) pair is about 1/N; N is the number of labelled enterprises unless the
  settings fix the prior.
* then policy is applied to the Splink settings dict (see ``MatchSettings``): levels never
  observed get a pseudo-count instead of Splink's 1e-6 (which is not saved to json, so a reloaded
  model would differ); ``code_hint`` is capped so a mistyped code is strong evidence but never
  decisive alone; "branch marker differs" becomes a veto that outweighs everything else.

Scoring (:meth:`MatchModel.score`) uses ``linker.inference.predict_between(left, right)``:
incremental linking of new mentions against the existing enterprise rows, nothing within either
side, no re-clustering. Term frequencies (common 字号 such as 恒安 / 鸿星, agency phones, common
names such as 王伟) are computed from the right side per distinct enterprise, so an enterprise with
three name rows counts once.
"""

from __future__ import annotations

import gc
import itertools
import json
import logging
import math
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from splink import ColumnExpression, DuckDBAPI, Linker, SettingsCreator, block_on
from splink import comparison_level_library as cll
from splink import comparison_library as cl
from splink.blocking_analysis import count_comparisons_from_blocking_rules
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.comparison_creator import ComparisonCreator
from splink.internals.comparison_level_creator import ComparisonLevelCreator
from splink.internals.misc import prob_to_match_weight
from splink.internals.settings import Settings

__all__ = [
    "FEATURE_COLUMNS",
    "BlockingCount",
    "Candidate",
    "MatchModel",
    "MatchSettings",
    "ScoreStats",
    "baseline",
    "baseline_settings",
    "default_blocking_rules",
    "default_comparisons",
    "default_settings",
    "prior_to_weight",
]

FEATURE_COLUMNS: tuple[str, ...] = (
    "unique_id",
    "enterprise_id",
    "name",
    "name_core",
    "trade_name",
    "trade_pinyin",
    "legal_form",
    "branch",
    "region",
    "legal_rep",
    "phone",
    "address",
    "town",
    "industry",
    "code_hint",
)

_FORMAT = "entgraph.resolution.matching/1"
BRANCH_DIFFERS = "Branch marker differs"
# Splink logs INFO/WARNING lines for every training step and predict; a library should not.
_SPLINK_LOGGER = logging.getLogger("splink")
Explanation = list[tuple[str, str, float]]


# --------------------------------------------------------------------------------------------------
# Settings as data
# --------------------------------------------------------------------------------------------------


def _exact(col: str, label: str, *, tf: bool = False) -> cl.CustomComparison:
    """equal / null / differ; ``tf``: weight equality by how rare the value is."""
    return cl.CustomComparison(
        output_column_name=col,
        comparison_levels=[
            cll.NullLevel(col),
            cll.ExactMatchLevel(col, term_frequency_adjustments=tf).configure(label_for_charts=label),
            cll.ElseLevel().configure(label_for_charts=f"Different {col}"),
        ],
    )


def name_comparison() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="name",
        comparison_description="Full name, then core name (trade name + industry words)",
        comparison_levels=[
            # name_core is derived from name, so it is NULL exactly when there is no usable name
            cll.NullLevel("name_core"),
            cll.ExactMatchLevel("name").configure(label_for_charts="Same full name"),
            cll.ExactMatchLevel("name_core").configure(label_for_charts="Same core name"),
            cll.JaroWinklerLevel("name_core", 0.92).configure(label_for_charts="Core name JW >= 0.92"),
            cll.JaroWinklerLevel("name_core", 0.85).configure(label_for_charts="Core name JW >= 0.85"),
            cll.ElseLevel().configure(label_for_charts="Different names"),
        ],
    )


def trade_name_comparison() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="trade_name",
        comparison_description="字号: exact (term-frequency adjusted), homophone, similar",
        comparison_levels=[
            cll.NullLevel("trade_name"),
            # common 字号 (恒安, 鸿星 ...) are shared by many unrelated enterprises: weight by rarity
            cll.ExactMatchLevel("trade_name", term_frequency_adjustments=True).configure(
                label_for_charts="Same trade name"
            ),
            cll.ExactMatchLevel("trade_pinyin").configure(label_for_charts="Same pinyin (homophone)"),
            cll.JaroWinklerLevel("trade_name", 0.88).configure(label_for_charts="Trade name JW >= 0.88"),
            cll.ElseLevel().configure(label_for_charts="Different trade names"),
        ],
    )


def branch_comparison() -> ComparisonCreator:
    """A branch (分公司) and its parent are different enterprises.

    Branch and parent share name, 字号, often phone and address, so ordinary evidence would merge
    them. The "differ" level is therefore a veto (see ``MatchSettings.vetoes``): its weight is set
    after training to outweigh every other comparison together. Its m is fixed so that training
    never learns it from the odd mislabelled pair. Both-NULL is not a NULL level: "both are head
    offices" is information.
    """
    return cl.CustomComparison(
        output_column_name="branch",
        comparison_description="Branch marker: equal (or both none) / differ",
        comparison_levels=[
            cll.CustomLevel(
                '"branch_l" IS NOT DISTINCT FROM "branch_r"',
                label_for_charts="Same branch marker (or both none)",
            ),
            # placeholder m, replaced by the veto once the other weights are known
            cll.ElseLevel().configure(
                label_for_charts=BRANCH_DIFFERS, m_probability=1e-9, fix_m_probability=True
            ),
        ],
    )


def address_comparison() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.NullLevel("address"),
            cll.ExactMatchLevel("address").configure(label_for_charts="Same address"),
            cll.JaroWinklerLevel("address", 0.9).configure(label_for_charts="Address JW >= 0.9"),
            cll.ElseLevel().configure(label_for_charts="Different addresses"),
        ],
    )


def industry_comparison() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="industry",
        comparison_levels=[
            cll.NullLevel("industry"),
            cll.ExactMatchLevel("industry").configure(label_for_charts="Same industry class (4 digits)"),
            cll.ExactMatchLevel(ColumnExpression("industry").substr(1, 2)).configure(
                label_for_charts="Same industry division (2 digits)"
            ),
            cll.ElseLevel().configure(label_for_charts="Different industries"),
        ],
    )


def _within_one_edit(col: str) -> ComparisonLevelCreator:
    """Damerau-Levenshtein <= 1, with a cheap necessary condition in front.

    DuckDB's damerau_levenshtein costs ~4 us a call, 100x a string compare. One edit (a
    substitution, an adjacent transposition, an insertion or deletion) leaves either the first or
    the last (n - 2) // 2 characters of both strings intact (n = the shorter length), so pairs that
    share neither a 3-character prefix nor suffix cannot be within one edit once n >= 8; codes are
    9, 15, 18 or 20 characters. Shorter strings go straight to the full distance.
    """
    lhs, rhs = _q(f"{col}_l"), _q(f"{col}_r")
    return cll.CustomLevel(
        f"(least(length({lhs}), length({rhs})) < 8 OR left({lhs}, 3) = left({rhs}, 3) "
        f"OR right({lhs}, 3) = right({rhs}, 3)) AND damerau_levenshtein({lhs}, {rhs}) <= 1"
    )


def code_hint_comparison() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="code_hint",
        comparison_description="A credit/org/taxpayer code that failed validation",
        comparison_levels=[
            cll.NullLevel("code_hint"),
            cll.ExactMatchLevel("code_hint").configure(label_for_charts="Same invalid code"),
            _within_one_edit("code_hint").configure(label_for_charts="Code within 1 edit"),
            cll.ElseLevel().configure(label_for_charts="Different codes"),
        ],
    )


def default_comparisons() -> tuple[ComparisonCreator, ...]:
    return (
        name_comparison(),
        trade_name_comparison(),
        branch_comparison(),
        _exact("legal_form", "Same legal form"),
        # an agency (代账) phone serves dozens of enterprises, and 王伟 represents dozens more
        _exact("phone", "Same phone", tf=True),
        _exact("legal_rep", "Same legal representative", tf=True),
        address_comparison(),
        _exact("town", "Same town"),
        industry_comparison(),
        code_hint_comparison(),
        _exact("region", "Same region"),
    )


def default_blocking_rules() -> tuple[BlockingRuleCreator, ...]:
    """Equi-joins (DuckDB hash-joins them): the cost is the sum of block products, not N x M.

    Keys stay bounded as the city grows: the registration rules forbid two enterprises of one
    region sharing 字号 + industry words, so an exact 字号 recurs at most about once per industry.
    Pinyin alone is not bounded that way (鸿兴 / 宏兴 / 红星 / 洪兴 all read hongxing): on the
    bench city it doubled the pairs, so it is paired with the first character of the industry
    words, which survives 鞋业 / 鞋服 / 鞋材 style rewording. Legal representatives repeat
    (王伟), so they are paired with the town.
    """
    industry_char = "substr(name_core, length(trade_name) + 1, 1)"
    return (
        block_on("trade_name"),
        block_on("trade_pinyin", industry_char),  # homophone 字号: 恒安 / 恒按
        block_on("substr(name_core, 1, 2)", "town"),  # 字号 parsed differently, same start
        block_on("phone"),
        block_on("legal_rep", "town"),
        block_on("code_hint"),
        block_on("address"),
    )


@dataclass(frozen=True)
class MatchSettings:
    """Everything that defines a matcher, in one place and as data.

    ``comparisons`` / ``blocking_rules`` are Splink creators or their dict form (what a saved model
    holds), so settings survive :meth:`MatchModel.to_json`.
    """

    name: str
    columns: tuple[str, ...]
    comparisons: tuple[ComparisonCreator | dict[str, Any], ...]
    blocking_rules: tuple[BlockingRuleCreator | dict[str, Any], ...]
    label_column: str = "enterprise_id"
    # Pairs sampled to estimate u. Splink's advice is 1e7..1e9; 5e6 keeps training in seconds and
    # the levels used here are not rare among random pairs.
    u_max_pairs: float = 5e6
    # None: 1 / number of labelled enterprises (see module docstring).
    prior: float | None = None
    # (comparison, p): on its own (every other comparison neutral) the comparison may lift a pair
    # to at most match probability p. ("code_hint", 0.5): a mistyped code is never decisive alone.
    weight_caps: tuple[tuple[str, float], ...] = (("code_hint", 0.5),)
    # (comparison, level label): this level outweighs all other comparisons together (by
    # ``veto_margin`` bits), so no amount of agreement elsewhere makes the pair a match.
    vetoes: tuple[tuple[str, str], ...] = (("branch", BRANCH_DIFFERS),)
    veto_margin: float = 10.0
    # Default for score(); None keeps every blocked pair.
    threshold_match_weight: float | None = None

    def __post_init__(self) -> None:
        if "unique_id" not in self.columns or self.label_column not in self.columns:
            raise ValueError("columns must include unique_id and the label column")

    def to_splink(self, prior: float | None = None) -> dict[str, Any]:
        """The Splink settings dict (untrained) for the DuckDB dialect."""
        creator = SettingsCreator(
            link_type="dedupe_only",
            comparisons=list(self.comparisons),
            blocking_rules_to_generate_predictions=list(self.blocking_rules),
            probability_two_random_records_match=prior or self.prior or 1e-4,
            # scoring needs gamma_ and mw_ columns for the explanation
            retain_matching_columns=True,
            retain_intermediate_calculation_columns=True,
            additional_columns_to_retain=[self.label_column],
            unique_id_column_name="unique_id",
            # fixed, so that training twice yields byte-identical json (Splink draws a random one)
            linker_uid=self.name,
        )
        return creator.create_settings_dict("duckdb")

    def scalars(self) -> dict[str, Any]:
        """The non-Splink part of the settings, for json."""
        splink_part = {"comparisons", "blocking_rules"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in splink_part}


def default_settings() -> MatchSettings:
    return MatchSettings(
        name="entgraph",
        columns=FEATURE_COLUMNS,
        comparisons=default_comparisons(),
        blocking_rules=default_blocking_rules(),
    )


def baseline_settings() -> MatchSettings:
    """A plain Splink model, the way one would write it first: raw names, library comparisons."""
    return MatchSettings(
        name="baseline",
        columns=("unique_id", "enterprise_id", "raw_name", "phone", "legal_rep", "address"),
        comparisons=(
            cl.JaroWinklerAtThresholds("raw_name"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("legal_rep"),
            cl.ExactMatch("address"),
        ),
        blocking_rules=(block_on("substr(raw_name, 1, 2)"), block_on("phone")),
        weight_caps=(),
        vetoes=(),
    )


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """The best-scoring enterprise row for one (mention, enterprise) pair.

    ``explanation`` lists ``(comparison, level, match weight)`` like Splink's waterfall chart: the
    prior first, then each comparison, each followed by its term-frequency adjustment
    (``"<comparison> (tf)"``) where one applies. The weights sum to ``match_weight``.
    """

    mention_id: str
    enterprise_id: str
    match_weight: float
    match_probability: float
    explanation: Explanation = field(hash=False)


@dataclass(frozen=True, slots=True)
class ScoreStats:
    """What the last :meth:`MatchModel.score` did. ``pairs_scored`` counts the pairs Splink returned,
    i.e. every blocked pair when no threshold is set."""

    left_rows: int
    right_rows: int
    pairs_scored: int
    candidates: int
    seconds: float


@dataclass(frozen=True, slots=True)
class BlockingCount:
    """Pairs a blocking rule adds beyond the rules before it (``marginal``) and the running total."""

    rule: str
    marginal: int
    cumulative: int


# --------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------


@contextmanager
def _quiet_splink() -> Iterator[None]:
    previous = _SPLINK_LOGGER.level
    _SPLINK_LOGGER.setLevel(logging.ERROR)
    try:
        yield
    finally:
        _SPLINK_LOGGER.setLevel(previous)


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """The single row of an aggregate query (a relation, so no result is left open on the connection)."""
    return con.sql(sql).fetchall()[0]


def _as_arrow(table: Any) -> pa.Table:
    """pyarrow Tables pass through; anything ``pa.table`` understands (a pandas DataFrame, a dict of
    columns, an Arrow stream) is converted."""
    return table if isinstance(table, pa.Table) else pa.table(table)


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class MatchModel:
    """A Splink model over one private DuckDB connection (not thread-safe: one call at a time).

    ``duckdb_path=None`` keeps the database in memory; ``temp_directory`` is where DuckDB spills
    when ``memory_limit`` is reached (a fresh temporary directory when not given). Inputs are
    copied into DuckDB per call and dropped afterwards, so the connection holds no data between
    calls.
    """

    def __init__(
        self,
        settings: MatchSettings | None = None,
        *,
        threads: int = 2,
        memory_limit: str = "2GB",
        duckdb_path: str | Path | None = None,
        temp_directory: str | Path | None = None,
    ) -> None:
        self.settings = settings or default_settings()
        self._model: dict[str, Any] | None = None
        self.last_score_stats: ScoreStats | None = None
        self._counter = itertools.count()
        self._own_tmp: tempfile.TemporaryDirectory[str] | None = None
        if temp_directory is None:
            self._own_tmp = tempfile.TemporaryDirectory(prefix="entgraph-match-")
            temp_directory = self._own_tmp.name
        self._con = duckdb.connect(str(duckdb_path) if duckdb_path else ":memory:")
        self._con.execute(f"SET threads = {int(threads)}")
        self._con.execute(f"SET memory_limit = '{memory_limit}'")
        self._con.execute(f"SET temp_directory = '{Path(temp_directory).as_posix()}'")
        # insertion order is meaningless here and keeping it costs memory on large joins
        self._con.execute("SET preserve_insertion_order = false")
        # DuckDB draws a progress bar on stderr for long queries; a CLI's output must stay clean
        self._con.execute("SET enable_progress_bar = false")

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        self._con.close()
        if self._own_tmp is not None:
            self._own_tmp.cleanup()
            self._own_tmp = None

    def __enter__(self) -> MatchModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_trained(self) -> bool:
        return self._model is not None

    @property
    def splink_settings(self) -> dict[str, Any]:
        """The trained Splink settings dict (a copy)."""
        return json.loads(json.dumps(self._require_model()))

    # -- persistence ---------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(
            {"format": _FORMAT, "settings": self.settings.scalars(), "splink": self._require_model()},
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, s: str, **engine: Any) -> MatchModel:
        """Restore a trained model; ``engine`` takes the constructor's keyword arguments."""
        doc = json.loads(s)
        if doc.get("format") != _FORMAT:
            raise ValueError(f"not a saved match model (format {doc.get('format')!r})")
        scalars = doc["settings"]
        splink = doc["splink"]
        settings = MatchSettings(
            name=scalars["name"],
            columns=tuple(scalars["columns"]),
            comparisons=tuple(splink["comparisons"]),
            blocking_rules=tuple(splink["blocking_rules_to_generate_predictions"]),
            label_column=scalars["label_column"],
            u_max_pairs=scalars["u_max_pairs"],
            prior=scalars["prior"],
            weight_caps=tuple((c, w) for c, w in scalars["weight_caps"]),
            vetoes=tuple((c, lvl) for c, lvl in scalars["vetoes"]),
            veto_margin=scalars["veto_margin"],
            threshold_match_weight=scalars["threshold_match_weight"],
        )
        model = cls(settings, **engine)
        model._model = splink
        return model

    # -- training ------------------------------------------------------------------------------

    def train(self, labelled: pa.Table, seed: int = 42) -> None:
        """Estimate u (random sampling, seeded), m (label column) and the prior.

        ``labelled``: mention rows whose ``enterprise_id`` is known. Rows without a label are
        ignored. At least one enterprise must have two labelled mentions.
        """
        label = self.settings.label_column
        with self._session() as (db, tables):
            name = tables.load(_as_arrow(labelled), where=f"{_q(label)} IS NOT NULL")
            n_rows, n_entities, n_pairs = _one(
                self._con,
                f"""select coalesce(sum(k), 0), count(*), coalesce(sum(k * (k - 1) // 2), 0)
                    from (select count(*) as k from {name} group by {_q(label)})""",
            )
            if not n_pairs:
                raise ValueError(
                    "training needs at least two labelled mentions of one enterprise "
                    f"({n_rows or 0} labelled rows, {n_entities or 0} enterprises)"
                )
            prior = self.settings.prior or 1.0 / n_entities
            linker = Linker(
                db.register(name, table_name=f"{name}_sdf"),
                self.settings.to_splink(prior),
                log_level=None,
            )
            # All sampled pairs are counted (no early exit), in chunks of <= 10M pairs; each chunk
            # is one DuckDB aggregate, so fewer chunks is faster and memory stays flat.
            linker.training.estimate_u_using_random_sampling(
                max_pairs=self.settings.u_max_pairs,
                seed=seed,
                min_count_per_level=None,
                num_chunks=max(1, math.ceil(self.settings.u_max_pairs / 1e7)),
            )
            linker.training.estimate_m_from_label_column(label)
            model = linker.misc.save_model_to_json()
        n_u_pairs = min(self.settings.u_max_pairs, n_rows * (n_rows - 1) / 2)
        model["probability_two_random_records_match"] = prior
        _fill_unobserved(model, n_m_pairs=n_pairs, n_u_pairs=n_u_pairs)
        _cap_weights(model, dict(self.settings.weight_caps), prior)
        _apply_vetoes(model, self.settings.vetoes, self.settings.veto_margin)
        self._model = model

    # -- scoring -------------------------------------------------------------------------------

    def score(
        self,
        left: pa.Table,
        right: pa.Table,
        threshold_match_weight: float | None = None,
    ) -> list[Candidate]:
        """Score mentions (left) against enterprise rows (right); one Candidate per (mention,
        enterprise) that blocking proposed, from the enterprise's best-scoring row.

        ``threshold_match_weight`` (default: the settings') drops weaker pairs. Sorted by mention
        id, then match weight descending.
        """
        started = time.perf_counter()
        model = self._require_model()
        left, right = _as_arrow(left), _as_arrow(right)
        if threshold_match_weight is None:
            threshold_match_weight = self.settings.threshold_match_weight
        if left.num_rows == 0 or right.num_rows == 0:
            self.last_score_stats = ScoreStats(left.num_rows, right.num_rows, 0, 0, 0.0)
            return []
        label = self.settings.label_column
        with self._session() as (db, tables):
            left_name = tables.load(left)
            right_name = tables.load(right)
            if _one(self._con, f"select count(*) from {right_name} where {_q(label)} is null")[0]:
                raise ValueError(f"every right-hand row needs an {label}")
            left_sdf = db.register(left_name, table_name=f"{left_name}_sdf")
            right_sdf = db.register(right_name, table_name=f"{right_name}_sdf")
            linker = Linker(right_sdf, model, log_level=None, validate_settings=False)
            for col in _tf_columns(model):
                tf_name = tables.create(_tf_sql(right_name, col, label))
                linker.table_management.register_term_frequency_lookup(
                    db.register(tf_name, table_name=f"{tf_name}_sdf"), col
                )
            predictions = linker.inference.predict_between(
                left_sdf,
                right_sdf,
                threshold_match_weight=threshold_match_weight,
                warning_mode="never",
            )
            pairs = _one(self._con, f"select count(*) from {predictions.physical_name}")[0]
            wanted = ", ".join(_q(c) for c in _output_columns(model, label))
            best = self._con.sql(
                f"""select {wanted} from {predictions.physical_name}
                    qualify row_number() over (
                        partition by unique_id_l, {_q(label + "_r")}
                        order by match_weight desc, unique_id_r) = 1
                    order by unique_id_l, match_weight desc, {_q(label + "_r")}"""
            ).to_arrow_table()
        candidates = _candidates(best, model, label)
        self.last_score_stats = ScoreStats(
            left_rows=left.num_rows,
            right_rows=right.num_rows,
            pairs_scored=pairs,
            candidates=len(candidates),
            seconds=time.perf_counter() - started,
        )
        return candidates

    def count_pairs(self, left: pa.Table, right: pa.Table) -> list[BlockingCount]:
        """Exact number of left x right pairs each blocking rule generates (no scoring, no training
        needed): the cost of :meth:`score` before it is paid."""
        left, right = _as_arrow(left), _as_arrow(right)
        if left.num_rows == 0 or right.num_rows == 0:
            return []
        with self._session() as (db, tables):
            left_sdf = db.register(tables.load(left), table_name="left")
            right_sdf = db.register(tables.load(right), table_name="right")
            records = count_comparisons_from_blocking_rules(
                [left_sdf, right_sdf],
                blocking_rules=self._blocking_rules(),
                link_type="link_only",
                record_sample_proportion=1.0,
            )
        return [
            BlockingCount(
                r["blocking_rule"], r["marginal_comparison_count"], r["cumulative_comparison_count"]
            )
            for r in records
        ]

    # -- internals -----------------------------------------------------------------------------

    def _blocking_rules(self) -> list[BlockingRuleCreator | dict[str, Any]]:
        if self._model is not None:
            return list(self._model["blocking_rules_to_generate_predictions"])
        return list(self.settings.blocking_rules)

    def _require_model(self) -> dict[str, Any]:
        if self._model is None:
            raise RuntimeError("the model is not trained: call train() or MatchModel.from_json()")
        return self._model

    @contextmanager
    def _session(self) -> Iterator[tuple[DuckDBAPI, _Tables]]:
        """A fresh Splink DuckDBAPI on the model's connection, and our input tables; all dropped after.

        A fresh API per call matters: Splink caches tables (e.g. term frequencies) by templated
        name in the API, and training's term frequencies must not leak into scoring.
        """
        db = DuckDBAPI(self._con)
        tables = _Tables(self._con, self.settings.columns, self._counter)
        with _quiet_splink():
            try:
                yield db, tables
            finally:
                db.delete_tables_created_by_splink_from_db()
                tables.drop_all()


class _Tables:
    """Input tables copied into DuckDB with exactly the model's columns, as trimmed VARCHARs."""

    def __init__(self, con: duckdb.DuckDBPyConnection, columns: Sequence[str], counter: Iterator[int]):
        self._con = con
        self._columns = columns
        self._counter = counter
        self._names: list[str] = []

    def _new_name(self) -> str:
        name = f"eg_match_{next(self._counter)}"
        self._names.append(name)
        return name

    def load(self, table: pa.Table, where: str = "true") -> str:
        if "unique_id" not in table.column_names:
            raise ValueError("input table needs a unique_id column")
        src = f"eg_src_{next(self._counter)}"
        present = set(table.column_names)
        select = ", ".join(
            f"nullif(trim(cast({_q(c)} as varchar)), '') as {_q(c)}"
            if c in present
            else f"cast(null as varchar) as {_q(c)}"
            for c in self._columns
        )
        name = self._new_name()
        self._con.register(src, table)
        try:
            self._con.execute(f"create table {name} as select {select} from {src} where {where}")
        finally:
            self._con.unregister(src)
        nulls, dups = _one(
            self._con,
            f"select count(*) - count(unique_id), count(unique_id) - count(distinct unique_id) from {name}",
        )
        if nulls or dups:
            raise ValueError(f"unique_id must be present and unique ({nulls} missing, {dups} duplicated)")
        return name

    def create(self, sql: str) -> str:
        name = self._new_name()
        self._con.execute(f"create table {name} as {sql}")
        return name

    def drop_all(self) -> None:
        for name in self._names:
            self._con.execute(f"drop table if exists {name}")
        self._names.clear()


# --------------------------------------------------------------------------------------------------
# Model post-processing and explanations (pure functions over the Splink settings dict)
# --------------------------------------------------------------------------------------------------


def _levels(model: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level"):
                yield comparison["output_column_name"], level


def _fill_unobserved(model: dict[str, Any], *, n_m_pairs: float, n_u_pairs: float) -> None:
    """Give levels never seen in training half a pseudo-observation; a level seen neither among
    matches nor among random pairs gets weight 0 (there is nothing to learn from).

    Splink marks such levels "not observed" and uses 1e-6 in memory, but does not save that value,
    so a reloaded model would silently fall back to Splink's defaults and score differently.
    """
    for _, level in _levels(model):
        m, u = level.get("m_probability"), level.get("u_probability")
        if m is None and u is None:
            level["m_probability"] = level["u_probability"] = 0.5 / max(n_u_pairs, 1)
        elif m is None:
            level["m_probability"] = 0.5 / max(n_m_pairs, 1)
        elif u is None:
            level["u_probability"] = 0.5 / max(n_u_pairs, 1)


def _cap_weights(model: dict[str, Any], caps: Mapping[str, float], prior: float) -> None:
    """Raise u where a level alone would lift the prior above the comparison's probability cap.

    The cap is in probability, not bits, because "decisive" depends on the prior: with 150k
    enterprises an exact match needs ~17 bits to reach even odds, with 300 only ~8.
    """
    for comparison_name, level in _levels(model):
        max_probability = caps.get(comparison_name)
        if max_probability is None:
            continue
        cap = prior_to_weight(max_probability) - prior_to_weight(prior)
        m, u = level["m_probability"], level["u_probability"]
        if math.log2(m / u) > cap:
            level["u_probability"] = m / 2.0**cap
            level["fix_u_probability"] = True


def _apply_vetoes(model: dict[str, Any], vetoes: Sequence[tuple[str, str]], margin: float) -> None:
    """Set a veto level's m so its weight is -(largest total evidence of all other comparisons
    + margin). The margin also covers the prior and term-frequency bonuses for rare values."""
    for comparison_name, label in vetoes:
        evidence = sum(
            max(0.0, *(math.log2(lvl["m_probability"] / lvl["u_probability"]) for _, lvl in levels))
            for name, levels in itertools.groupby(_levels(model), key=lambda x: x[0])
            if name != comparison_name
        )
        matches = [
            lvl
            for name, lvl in _levels(model)
            if name == comparison_name and lvl.get("label_for_charts") == label
        ]
        if len(matches) != 1:
            raise ValueError(f"veto level {comparison_name!r} / {label!r} not found in the model")
        level = matches[0]
        level["m_probability"] = level["u_probability"] * 2.0 ** -(evidence + margin)
        level["fix_m_probability"] = True


def _tf_columns(model: Mapping[str, Any]) -> list[str]:
    cols = {
        level["tf_adjustment_column"]
        for comparison in model["comparisons"]
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    return sorted(cols)


def _tf_sql(table: str, col: str, label: str) -> str:
    """Term frequency of each value among enterprises (not rows: former names repeat the 字号)."""
    c, e = _q(col), _q(label)
    return f"""
        select {c}, cast(count(distinct {e}) as double)
               / (select count(distinct {e}) from {table} where {c} is not null) as {_q("tf_" + col)}
        from {table} where {c} is not null group by {c}
    """


@dataclass(frozen=True)
class _ComparisonInfo:
    name: str
    gamma: str
    mw: str
    tf_mw: str | None
    labels: dict[int, str]
    tf_levels: frozenset[int]


def _comparison_infos(model: Mapping[str, Any]) -> list[_ComparisonInfo]:
    with _quiet_splink():  # Settings() warns about comparisons without a NULL level (branch)
        settings: Settings = SettingsCreator.from_path_or_dict(dict(model)).get_settings("duckdb")
    infos = []
    for cc in settings.comparisons:
        levels = cc.comparison_levels
        infos.append(
            _ComparisonInfo(
                name=cc.output_column_name,
                gamma=cc._gamma_column_name,
                mw=cc._mw_column_name,
                tf_mw=cc._mw_tf_adj_column_name if cc._has_tf_adjustments else None,
                labels={
                    lvl.comparison_vector_value: lvl._label_for_charts_no_duplicates(levels) for lvl in levels
                },
                tf_levels=frozenset(lvl.comparison_vector_value for lvl in levels if lvl._has_tf_adjustments),
            )
        )
    return infos


def _output_columns(model: Mapping[str, Any], label: str) -> list[str]:
    """The prediction columns a Candidate is built from (converting all ~60 to Python is slow)."""
    cols = ["unique_id_l", "unique_id_r", f"{label}_r", "match_weight", "match_probability"]
    for info in _comparison_infos(model):
        cols += [info.gamma, info.mw] + ([info.tf_mw] if info.tf_mw else [])
    return cols


def _candidates(best: pa.Table, model: Mapping[str, Any], label: str) -> list[Candidate]:
    """Rows to Candidates, column-wise: per comparison one list of explanation entries, then
    zipped into rows (a per-row, per-comparison Python loop was the slowest part of score())."""
    if best.num_rows == 0:
        return []
    # millions of small tuples: the cyclic GC would rescan them over and over while they are built
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_candidates(best, model, label)
    finally:
        if gc_was_enabled:
            gc.enable()


def _build_candidates(best: pa.Table, model: Mapping[str, Any], label: str) -> list[Candidate]:
    prior = model["probability_two_random_records_match"]
    prior_entry = ("prior", f"P(match) = {prior:.3g}", float(prior_to_weight(prior)))
    cols = {name: best.column(name).to_pylist() for name in best.column_names}
    parts: list[list[tuple[str, str, float] | None]] = []
    for info in _comparison_infos(model):
        gammas, labels = cols[info.gamma], info.labels
        parts.append([(info.name, labels[g], w) for g, w in zip(gammas, cols[info.mw], strict=True)])
        if info.tf_mw is not None:  # only where the level has a tf adjustment (an exact match)
            tf_name, tf_levels = f"{info.name} (tf)", info.tf_levels
            parts.append(
                [
                    (tf_name, labels[g], w) if g in tf_levels else None
                    for g, w in zip(gammas, cols[info.tf_mw], strict=True)
                ]
            )
    explanations = [[prior_entry, *(e for e in row if e is not None)] for row in zip(*parts, strict=True)]
    return [
        Candidate(m, e, w, p, x)
        for m, e, w, p, x in zip(
            cols["unique_id_l"],
            cols[f"{label}_r"],
            cols["match_weight"],
            cols["match_probability"],
            explanations,
            strict=True,
        )
    ]


def prior_to_weight(prior: float) -> float:
    """The prior as Splink adds it to the match weight: log2(p / (1 - p))."""
    return float(prob_to_match_weight(prior))


def baseline(**engine: Any) -> MatchModel:
    """An untrained plain-Splink model (see :func:`baseline_settings`); train it like any other."""
    return MatchModel(baseline_settings(), **engine)
