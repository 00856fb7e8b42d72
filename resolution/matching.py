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
core_pinyin     toneless pinyin of the core, e.g. henganxieye (a clerk's input method picks 衡 for 恒)
legal_form      有限公司 / 股份有限公司 / ...
branch          branch marker (泉州分公司); a branch and its parent are different enterprises
region          canonical region short name (晋江)
legal_rep       legal representative
contact         contact person or person in charge (联系人, 负责人): evidence when it is the other
                side's legal representative, never against a match when it is not
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

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

from entgraph.resolution import features

__all__ = [
    "MATCH_COLUMNS",
    "BlockingCount",
    "Candidate",
    "MatchModel",
    "MatchSettings",
    "PairScorer",
    "ScoreStats",
    "baseline",
    "baseline_settings",
    "default_blocking_rules",
    "default_comparisons",
    "default_settings",
    "prior_to_weight",
]

# The platform's feature rows (resolution/features.py) less the raw name, which only the baseline
# compares: input tables are copied with exactly the model's columns.
MATCH_COLUMNS: tuple[str, ...] = tuple(c for c in features.FEATURE_COLUMNS if c != "raw_name")

_FORMAT = "entgraph.resolution.matching/1"
log = logging.getLogger(__name__)
# Rules that find true matches almost only (for the prior): an equal full name, or an equal core
# with an equal phone, legal representative or town. Their recall is a setting.
DETERMINISTIC_RULES: tuple[tuple[str, ...], ...] = (
    ("name",),
    ("name_core", "phone"),
    ("name_core", "legal_rep"),
    ("name_core", "town"),
    ("phone", "legal_rep"),
)
_INDUSTRY_CHAR = "substr(name_core, length(trade_name) + 1, 1)"
BLOCK_KEYS: tuple[tuple[str, str], ...] = (
    ("block_trade", f"trade_name || '|' || {_INDUSTRY_CHAR}"),
    ("block_pinyin", f"trade_pinyin || '|' || {_INDUSTRY_CHAR}"),
)
# MatchSettings fields added after models were first saved: read when present, defaults otherwise.
_LATER_SCALARS = (
    "neutral_levels",
    "em_blocks",
    "em_max_pairs",
    "prior_pairs",
    "em_pairs",
    "deterministic_recall",
    "max_training_rows",
    "block_keys",
    "max_block_rows",
)
BRANCH_DIFFERS = "Branch marker differs"
CONTACT_OTHERWISE = "No contact agreement (neutral)"
# Splink logs INFO/WARNING lines for every training step and predict; a library should not.
_SPLINK_LOGGER = logging.getLogger("splink")
Explanation = list[tuple[str, str, float]]


# --------------------------------------------------------------------------------------------------
# Settings as data
# --------------------------------------------------------------------------------------------------


def _exact(col: str, label: str, m_same: float, *, tf: bool = False) -> cl.CustomComparison:
    """equal / null / differ; ``tf``: weight equality by how rare the value is. ``m_same``: the prior
    share of true matches that agree (the rest differ), before training refines it."""
    return cl.CustomComparison(
        output_column_name=col,
        comparison_levels=[
            cll.NullLevel(col),
            cll.ExactMatchLevel(col, term_frequency_adjustments=tf).configure(
                label_for_charts=label, m_probability=m_same
            ),
            cll.ElseLevel().configure(label_for_charts=f"Different {col}", m_probability=1 - m_same),
        ],
    )


def name_comparison() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="name",
        comparison_description="Full name, then core name (trade name + industry words)",
        comparison_levels=[
            # name_core is derived from name, so it is NULL exactly when there is no usable name
            cll.NullLevel("name_core"),
            cll.ExactMatchLevel("name").configure(label_for_charts="Same full name", m_probability=0.5),
            cll.ExactMatchLevel("name_core").configure(label_for_charts="Same core name", m_probability=0.3),
            # a pinyin input method's slip (华达 typed 化达): the whole core sounds the same. Two real
            # cores that sound alike (华达 / 华大) each match themselves at the level above first.
            cll.ExactMatchLevel("core_pinyin").configure(
                label_for_charts="Same core pinyin (homophone)", m_probability=0.04
            ),
            cll.JaroWinklerLevel("name_core", 0.92).configure(
                label_for_charts="Core name JW >= 0.92", m_probability=0.08
            ),
            cll.JaroWinklerLevel("name_core", 0.85).configure(
                label_for_charts="Core name JW >= 0.85", m_probability=0.05
            ),
            cll.ElseLevel().configure(label_for_charts="Different names", m_probability=0.07),
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
                label_for_charts="Same trade name", m_probability=0.85
            ),
            cll.ExactMatchLevel("trade_pinyin").configure(
                label_for_charts="Same pinyin (homophone)", m_probability=0.06
            ),
            cll.JaroWinklerLevel("trade_name", 0.88).configure(
                label_for_charts="Trade name JW >= 0.88", m_probability=0.04
            ),
            cll.ElseLevel().configure(label_for_charts="Different trade names", m_probability=0.05),
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
            cll.ExactMatchLevel("address").configure(label_for_charts="Same address", m_probability=0.45),
            cll.JaroWinklerLevel("address", 0.9).configure(
                label_for_charts="Address JW >= 0.9", m_probability=0.25
            ),
            cll.ElseLevel().configure(label_for_charts="Different addresses", m_probability=0.3),
        ],
    )


def industry_comparison() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="industry",
        comparison_levels=[
            cll.NullLevel("industry"),
            cll.ExactMatchLevel("industry").configure(
                label_for_charts="Same industry class (4 digits)", m_probability=0.7
            ),
            cll.ExactMatchLevel(ColumnExpression("industry").substr(1, 2)).configure(
                label_for_charts="Same industry division (2 digits)", m_probability=0.15
            ),
            cll.ElseLevel().configure(label_for_charts="Different industries", m_probability=0.15),
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
            cll.ExactMatchLevel("code_hint").configure(
                label_for_charts="Same invalid code", m_probability=0.6
            ),
            _within_one_edit("code_hint").configure(label_for_charts="Code within 1 edit", m_probability=0.3),
            cll.ElseLevel().configure(label_for_charts="Different codes", m_probability=0.1),
        ],
    )


def contact_comparison() -> ComparisonCreator:
    """A contact person (联系人, 负责人) agreeing with the other side's legal representative or contact.

    A contact is often not the legal representative (an accountant, a manager), so disagreement is
    no evidence at all: the else level is neutral (``MatchSettings.neutral_levels`` sets its weight
    to 0 after training). Agreement is evidence, as for the legal representative.
    """
    contact_l, contact_r = _q("contact_l"), _q("contact_r")
    rep_l, rep_r = _q("legal_rep_l"), _q("legal_rep_r")
    return cl.CustomComparison(
        output_column_name="contact",
        comparison_description="Contact person: is the other's legal representative / same contact",
        comparison_levels=[
            cll.CustomLevel(
                f"{contact_l} = {rep_r} OR {contact_r} = {rep_l}",
                label_for_charts="Contact is the legal representative",
            ).configure(m_probability=0.3),
            cll.CustomLevel(f"{contact_l} = {contact_r}", label_for_charts="Same contact person").configure(
                m_probability=0.2
            ),
            cll.ElseLevel().configure(label_for_charts=CONTACT_OTHERWISE, m_probability=0.5),
        ],
    )


def default_comparisons() -> tuple[ComparisonCreator, ...]:
    return (
        name_comparison(),
        trade_name_comparison(),
        branch_comparison(),
        # departments rewrite legal forms and regions often: agreement is the usual, not a proof
        _exact("legal_form", "Same legal form", 0.75),
        # an agency (代账) phone serves dozens of enterprises, and 王伟 represents dozens more
        _exact("phone", "Same phone", 0.6, tf=True),
        _exact("legal_rep", "Same legal representative", 0.9, tf=True),
        contact_comparison(),
        address_comparison(),
        _exact("town", "Same town", 0.95),
        industry_comparison(),
        code_hint_comparison(),
        _exact("region", "Same region", 0.85),
    )


def default_blocking_rules() -> tuple[BlockingRuleCreator, ...]:
    """Equi-joins (DuckDB hash-joins them): the cost is the sum of block products, not N x M.

    An exact core (字号 + industry words) is bounded by law: registration forbids two enterprises of
    one region the same name, so a core recurs once per region and legal form. A 字号 alone is not:
    in a city whose 字号 vocabulary is small (Zipf: a few 字号 name thousands of enterprises) blocking
    on it made pairs grow with the square of the city (8M pairs at 10,000 enterprises). So 字号 and
    its pinyin (homophones: 鸿兴 / 宏兴 / 红星) are paired with the first character of the industry
    words, which survives 鞋业 / 鞋服 / 鞋材 rewording (``block_trade``, ``block_pinyin``), and a key
    that more than ``MatchSettings.max_block_rows`` enterprise names share blocks nothing: its
    mentions still meet their enterprise by the exact core, phone, address or the town rule. Legal
    representatives repeat (王伟), so they are paired with the town.
    """
    return (
        block_on("name_core"),
        block_on("block_trade"),
        block_on("block_pinyin"),  # homophone 字号: 恒安 / 恒按
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
    # (comparison, level label): weight 0 after training (m = u): the level is no evidence either way.
    neutral_levels: tuple[tuple[str, str], ...] = (("contact", CONTACT_OTHERWISE),)
    # Expectation maximisation over blocked pairs of the code-less mentions, one session per key
    # (columns of a block_on); the later session's estimates win for a comparison both estimate, so
    # the session blocking on something other than names comes last and estimates the name levels.
    em_blocks: tuple[tuple[str, ...], ...] = (("trade_name",), ("phone",))
    em_max_pairs: float = 2e6
    # How much each source of m counts, in pairs: the configured priors as this many pseudo-pairs,
    # EM's estimate as this many, labelled pairs (codes, steward links) as their number.
    prior_pairs: float = 10.0
    em_pairs: float = 200.0
    # Derived blocking keys (column, SQL over the feature columns) added to every input table; a
    # key more than max_block_rows enterprise rows share is set NULL before scoring (see
    # default_blocking_rules).
    block_keys: tuple[tuple[str, str], ...] = BLOCK_KEYS
    max_block_rows: int = 100
    # Rows (enterprise names + mentions) training reads at most; a larger city is sampled.
    max_training_rows: int = 60_000
    # Recall assumed for the deterministic rules that estimate the prior (same full name; same phone
    # and legal representative): the share of true matches they find.
    deterministic_recall: float = 0.7

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
        columns=MATCH_COLUMNS,
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
        block_keys=(),
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


@dataclass(frozen=True)
class TrainingReport:
    """How a model was learned, saved with it: what ``entgraph resolve`` says about training."""

    rows: int
    labelled_rows: int
    labelled_pairs: int
    em_sessions: list[str]
    prior: float
    prior_source: str
    m_sources: list[str]
    sample: float = 1.0  # share of the city's rows training read

    def line(self) -> str:
        sources = {"priors": "priors", "em": f"EM ({', '.join(self.em_sessions)})", "labels": "labels"}
        return (
            f"matcher trained on {self.rows} rows: m from {' + '.join(sources[s] for s in self.m_sources)}"
            f" ({self.labelled_pairs} labelled pairs), u by random sampling, prior {self.prior:.3g}"
            f" from {self.prior_source}"
            + (f"; a {self.sample:.0%} sample of the city" if self.sample < 1 else "")
        )


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


class PairScorer(Protocol):
    """Scores blocked pairs on another engine (``spark_scoring.SparkScorer``). Inputs and the
    output are Parquet folders in a job directory the scorer hands out, so that a cluster's
    executors can read them."""

    def job_dir(self) -> Path: ...

    def finish_job(self, path: Path) -> None: ...

    def predict_between(
        self,
        model: Mapping[str, Any],
        left: Path,
        right: Path,
        term_frequencies: Mapping[str, Path],
        threshold_match_weight: float | None,
        columns: Sequence[str],
        out: Path,
    ) -> None: ...


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

    ``scorer``: where :meth:`score` runs Splink's prediction (None: here, in DuckDB). Training always
    runs in DuckDB: it reads a bounded sample (``max_training_rows``), and Spark's hash differs from
    DuckDB's, so the same city would not give the same model there. The caller owns the scorer.
    """

    def __init__(
        self,
        settings: MatchSettings | None = None,
        *,
        threads: int = 2,
        memory_limit: str = "2GB",
        duckdb_path: str | Path | None = None,
        temp_directory: str | Path | None = None,
        scorer: PairScorer | None = None,
    ) -> None:
        self.settings = settings or default_settings()
        self._scorer = scorer
        self._model: dict[str, Any] | None = None
        self.training: TrainingReport | None = None
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
        doc = {"format": _FORMAT, "settings": self.settings.scalars(), "splink": self._require_model()}
        if self.training is not None:
            doc["training"] = asdict(self.training)
        return json.dumps(doc, ensure_ascii=False, sort_keys=True)

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
            **{
                key: _tuples(scalars[key]) if isinstance(scalars[key], list) else scalars[key]
                for key in _LATER_SCALARS
                if key in scalars
            },
        )
        model = cls(settings, **engine)
        model._model = splink
        model.training = TrainingReport(**doc["training"]) if doc.get("training") else None
        return model

    # -- training ------------------------------------------------------------------------------

    def train(
        self,
        labelled: pa.Table | None,
        seed: int = 42,
        *,
        enterprises: pa.Table | None = None,
        unlabelled: pa.Table | None = None,
    ) -> TrainingReport:
        """Learn the model from what a city has, labels or not, the way Splink trains without
        clerical labels, then refined by the labels there are:

        * **u** by random sampling of pairs (seeded: the same rows give the same sample);
        * **the prior** (λ) from deterministic rules: the share of mentions whose full name, or phone
          and legal representative, equal an enterprise's, over the rules' assumed recall, spread
          over the enterprises (a mention names one of them);
        * **m** from three sources weighed by how many pairs each rests on: the priors configured
          on each level (``prior_pairs``), expectation maximisation over blocked pairs of the
          code-less mentions (``em_pairs``), and pairs sharing a label (``enterprise_id``: mentions
          that carried a credit code, names a steward linked, an enterprise's own names).

        ``enterprises``: one row per name an enterprise is known by (labelled with its id);
        ``labelled``: mentions whose enterprise is known; ``unlabelled``: code-less mentions. Any
        may be missing or empty; together they need two rows.
        """
        label = self.settings.label_column
        with self._session() as (db, tables):
            ent = _load_or_none(tables, enterprises)
            lab = _load_or_none(tables, labelled, where=f"{_q(label)} IS NOT NULL")
            unl = _load_or_none(tables, unlabelled)
            mentions = [t for t in (lab, unl) if t]
            prior, prior_source = self._estimate_prior(ent, mentions, self._count(lab, distinct=label))
            ent, lab, unl, sample = self._sample(tables, ent, lab, unl)
            parts = [f"select * from {ent}" if ent else None, f"select * from {lab}" if lab else None]
            if unl:  # code-less mentions teach m by EM; they never carry a label
                parts.append(f"select * replace (cast(null as varchar) as {_q(label)}) from {unl}")
            union = " union all ".join(p for p in parts if p)
            if not union:
                raise ValueError("nothing to train on: no enterprises and no mentions")
            name = tables.create(union)
            n_rows, n_ids, n_pairs, n_labels = _one(
                self._con,
                f"""select (select count(*) from {name}), (select count(distinct unique_id) from {name}),
                    (select coalesce(sum(k * (k - 1) // 2), 0) from (select count(*) as k from {name}
                        where {_q(label)} is not null group by {_q(label)})),
                    (select count(distinct {_q(label)}) from {name})""",
            )
            if n_rows < 2:
                raise ValueError(f"nothing to train on: {n_rows} row")
            if n_ids != n_rows:
                raise ValueError("unique_id must be unique across enterprises and mentions")
            n_labelled_rows = self._count(lab)
            if prior is None:  # nothing for the rules to look at: one of the labelled enterprises
                prior, prior_source = 1.0 / max(n_labels or n_rows, 2), "1 / labelled enterprises"
            settings = self.settings.to_splink(prior)
            priors = _m_values(settings)
            sdf = db.register(name, table_name=f"{name}_sdf")
            linker = Linker(sdf, settings, log_level=None)
            # All sampled pairs are counted (no early exit), in chunks of <= 10M pairs; each chunk
            # is one DuckDB aggregate, so fewer chunks is faster and memory stays flat.
            linker.training.estimate_u_using_random_sampling(
                max_pairs=self.settings.u_max_pairs,
                seed=seed,
                min_count_per_level=None,
                num_chunks=max(1, math.ceil(self.settings.u_max_pairs / 1e7)),
            )
            em, em_sessions = ({}, [])
            if unl:
                em, em_sessions, linker = self._expectation_maximisation(
                    linker,
                    lambda saved: Linker(sdf, saved, log_level=None),
                )
            model = linker.misc.save_model_to_json()
            by_labels = {}
            if n_pairs:
                # A level the labels never show must read as unobserved, not keep its prior (Splink
                # leaves a configured m alone where it saw no pair): a linker without priors.
                labels_only = Linker(
                    db.register(name, table_name=f"{name}_labels_sdf"), _without_m(settings), log_level=None
                )
                labels_only.training.estimate_m_from_label_column(label)
                by_labels = _m_values(labels_only.misc.save_model_to_json())
        _blend_m(
            model,
            [(priors, self.settings.prior_pairs), (em, self.settings.em_pairs), (by_labels, float(n_pairs))],
        )
        n_u_pairs = min(self.settings.u_max_pairs, n_rows * (n_rows - 1) / 2)
        model["probability_two_random_records_match"] = prior
        _fill_unobserved(model, n_m_pairs=max(n_pairs, 1), n_u_pairs=n_u_pairs)
        _monotone(model)
        _cap_weights(model, dict(self.settings.weight_caps), prior)
        _neutralise(model, self.settings.neutral_levels)
        _apply_vetoes(model, self.settings.vetoes, self.settings.veto_margin)
        self._model = model
        self.training = TrainingReport(
            rows=n_rows,
            labelled_rows=n_labelled_rows,
            sample=round(sample, 4),
            labelled_pairs=int(n_pairs),
            em_sessions=em_sessions,
            prior=prior,
            prior_source=prior_source,
            m_sources=[
                source
                for source, used in (("priors", True), ("em", bool(em)), ("labels", bool(by_labels)))
                if used
            ],
        )
        return self.training

    def _sample(
        self, tables: _Tables, ent: str | None, lab: str | None, unl: str | None
    ) -> tuple[str | None, str | None, str | None, float]:
        """Training learns rates, not a city: past ``max_training_rows`` it reads a sample (whole
        enterprises with their names and labelled mentions; code-less mentions at the same rate), so
        its memory and time stop growing with the city. (λ is estimated on every row before.)"""
        total = sum(self._count(t) for t in (ent, lab, unl))
        sample = min(1.0, self.settings.max_training_rows / max(total, 1))
        if sample >= 1.0:
            return ent, lab, unl, 1.0
        keep = int(sample * 10_000)
        label = _q(self.settings.label_column)

        def part(table: str | None, key: str) -> str | None:
            return (
                tables.create(f"select * from {table} where hash({key}) % 10000 < {keep}") if table else None
            )

        return part(ent, label), part(lab, label), part(unl, "unique_id"), sample

    def _count(self, table: str | None, distinct: str | None = None) -> int:
        if not table:
            return 0
        what = f"distinct {_q(distinct)}" if distinct else "*"
        return int(_one(self._con, f"select count({what}) from {table}")[0])

    def _estimate_prior(
        self, enterprises: str | None, mentions: list[str], n_labels: int
    ) -> tuple[float | None, str]:
        """λ: P(a mention and an enterprise row are a match), from ``DETERMINISTIC_RULES``: the share of
        mentions they link, over their recall, spread over the enterprises (each mention names one)."""
        if self.settings.prior:
            return self.settings.prior, "settings"
        rules = [rule for rule in DETERMINISTIC_RULES if set(rule) <= set(self.settings.columns)]
        if not enterprises or not mentions or not rules:
            return (1.0 / n_labels, "1 / labelled enterprises") if n_labels else (None, "")
        found = 0
        n_mentions = 0
        for table in mentions:
            n, hits = _one(
                self._con,
                f"""select (select count(*) from {table}), count(distinct uid) from (
                        {
                    " union all ".join(
                        f"select m.unique_id as uid from {table} m join {enterprises} e on "
                        + " and ".join(f"m.{_q(c)} = e.{_q(c)}" for c in rule)
                        for rule in rules
                    )
                })""",
            )
            n_mentions += n
            found += hits
        n_enterprises = _one(self._con, f"select count(distinct enterprise_id) from {enterprises}")[0]
        share = min(0.99, max(found / max(n_mentions, 1) / self.settings.deterministic_recall, 0.05))
        return share / max(n_enterprises, 1), (
            f"deterministic rules: {found} of {n_mentions} mentions, "
            f"recall {self.settings.deterministic_recall}"
        )

    def _expectation_maximisation(
        self, linker: Linker, relink: Callable[[dict[str, Any]], Linker]
    ) -> tuple[dict[tuple[str, str], float], list[str], Linker]:
        """m by EM, one session per blocking key; a session that cannot run (no pairs) is skipped.

        A session takes the comparisons it blocks on out of the linker's settings while it runs, and
        one that raises leaves them out: the linker is then made anew (``relink``) from the model as
        it was before the session, or the saved model would lose its phone comparison."""
        sessions: list[str] = []
        for columns in self.settings.em_blocks:
            before = linker.misc.save_model_to_json()
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    block_on(*columns),
                    estimate_without_term_frequencies=True,
                    max_pairs=self.settings.em_max_pairs,
                )
            except Exception as exc:  # Splink raises plain exceptions for "no pairs" and "no levels"
                log.info("EM blocked on %s skipped: %s", columns, exc)
                linker = relink(before)
                continue
            sessions.append("+".join(columns))
        if not sessions:
            return {}, sessions, linker
        return _m_values(linker.misc.save_model_to_json()), sessions, linker

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
            self._cool_hot_keys(left_name, right_name)
            tf_names = {col: tables.create(_tf_sql(right_name, col, label)) for col in _tf_columns(model)}
            predict = self._predict_here if self._scorer is None else self._predict_elsewhere
            predictions = predict(db, tables, left_name, right_name, tf_names, threshold_match_weight)
            pairs = _one(self._con, f"select count(*) from {predictions}")[0]
            wanted = ", ".join(_q(c) for c in _output_columns(model, label))
            # streamed in batches: the whole result as one Arrow table beside the Candidates built
            # from it doubled the peak
            best = self._con.sql(
                f"""select {wanted} from {predictions}
                    qualify row_number() over (
                        partition by unique_id_l, {_q(label + "_r")}
                        order by match_weight desc, unique_id_r) = 1
                    order by unique_id_l, match_weight desc, {_q(label + "_r")}"""
            ).to_arrow_reader(_CANDIDATE_BATCH_ROWS)
            candidates = _candidates(best, model, label)
        self.last_score_stats = ScoreStats(
            left_rows=left.num_rows,
            right_rows=right.num_rows,
            pairs_scored=pairs,
            candidates=len(candidates),
            seconds=time.perf_counter() - started,
        )
        return candidates

    def _predict_here(
        self,
        db: DuckDBAPI,
        tables: _Tables,
        left: str,
        right: str,
        term_frequencies: Mapping[str, str],
        threshold: float | None,
    ) -> str:
        """Splink's predict_between in this DuckDB; the name of the scored pairs' table."""
        left_sdf = db.register(left, table_name=f"{left}_sdf")
        right_sdf = db.register(right, table_name=f"{right}_sdf")
        linker = Linker(right_sdf, self._require_model(), log_level=None, validate_settings=False)
        for col, tf_name in term_frequencies.items():
            linker.table_management.register_term_frequency_lookup(
                db.register(tf_name, table_name=f"{tf_name}_sdf"), col
            )
        predictions = linker.inference.predict_between(
            left_sdf, right_sdf, threshold_match_weight=threshold, warning_mode="never"
        )
        return predictions.physical_name

    def _predict_elsewhere(
        self,
        db: DuckDBAPI,
        tables: _Tables,
        left: str,
        right: str,
        term_frequencies: Mapping[str, str],
        threshold: float | None,
    ) -> str:
        """The same prediction on the scorer (Spark), from the same prepared tables: they go over as
        Parquet and the scored pairs come back as Parquet, into a table here."""
        assert self._scorer is not None
        job = self._scorer.job_dir()
        try:

            def export(table: str, name: str) -> Path:
                path = job / f"{name}.parquet"
                self._con.execute(f"copy {table} to '{path.as_posix()}' (format parquet)")
                return path

            out = job / "predictions"
            self._scorer.predict_between(
                self._require_model(),
                export(left, "left"),
                export(right, "right"),
                {col: export(tf, f"tf_{col}") for col, tf in term_frequencies.items()},
                threshold,
                _output_columns(self._require_model(), self.settings.label_column),
                out,
            )
            return tables.create(f"select * from read_parquet('{(out / '*.parquet').as_posix()}')")
        finally:
            self._scorer.finish_job(job)

    def _cool_hot_keys(self, left: str, right: str) -> None:
        """A derived blocking key shared by more than ``max_block_rows`` enterprise rows blocks
        nothing (on either side): a block that size is quadratic and says little."""
        for key, _ in self.settings.block_keys:
            k = _q(key)
            hot = (
                f"select {k} from {right} where {k} is not null group by {k} "
                f"having count(*) > {int(self.settings.max_block_rows)}"
            )
            for table in (left, right):
                self._con.execute(f"update {table} set {k} = null where {k} in ({hot})")

    def count_pairs(self, left: pa.Table, right: pa.Table) -> list[BlockingCount]:
        """Exact number of left x right pairs each blocking rule generates (no scoring, no training
        needed): the cost of :meth:`score` before it is paid."""
        left, right = _as_arrow(left), _as_arrow(right)
        if left.num_rows == 0 or right.num_rows == 0:
            return []
        with self._session() as (db, tables):
            left_name, right_name = tables.load(left), tables.load(right)
            self._cool_hot_keys(left_name, right_name)
            left_sdf = db.register(left_name, table_name="left")
            right_sdf = db.register(right_name, table_name="right")
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
        tables = _Tables(self._con, self.settings.columns, self._counter, self.settings.block_keys)
        with _quiet_splink():
            try:
                yield db, tables
            finally:
                db.delete_tables_created_by_splink_from_db()
                tables.drop_all()


class _Tables:
    """Input tables copied into DuckDB with exactly the model's columns, as trimmed VARCHARs."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        columns: Sequence[str],
        counter: Iterator[int],
        block_keys: Sequence[tuple[str, str]] = (),
    ):
        self._con = con
        self._columns = columns
        self._block_keys = [(k, sql) for k, sql in block_keys if k not in columns]
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
        for key, sql in self._block_keys:  # derived blocking keys, NULL when a part is NULL
            self._con.execute(f"alter table {name} add column {_q(key)} varchar")
            self._con.execute(f"update {name} set {_q(key)} = {sql}")
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


def _load_or_none(tables: _Tables, table: pa.Table | None, where: str = "true") -> str | None:
    if table is None:
        return None
    table = _as_arrow(table)
    return tables.load(table, where=where) if table.num_rows else None


def _tuples(value: list[Any]) -> tuple[Any, ...]:
    """json lists back to the tuples of tuples MatchSettings holds."""
    return tuple(tuple(v) if isinstance(v, list) else v for v in value)


LevelKey = tuple[str, str]


def _m_values(model: Mapping[str, Any]) -> dict[LevelKey, float]:
    """m of every non-null level with a value, keyed by (comparison, level label)."""
    return {
        (name, str(level.get("label_for_charts"))): float(level["m_probability"])
        for name, level in _levels(model)
        if level.get("m_probability") is not None
    }


def _blend_m(model: dict[str, Any], sources: Sequence[tuple[Mapping[LevelKey, float], float]]) -> None:
    """Each level's m as the average of its sources weighed by the pairs they rest on; a source
    that did not estimate a comparison (EM never estimates the one it blocks on) does not count for
    it. Fixed levels (vetoes, caps) are left alone; each comparison's m is renormalised to sum to 1.
    A level no source observed gets m 0 here and a pseudo-count later (``_fill_unobserved``)."""
    for name, group in itertools.groupby(list(_levels(model)), key=lambda x: x[0]):
        levels = [lvl for _, lvl in group]
        keys = [(name, str(lvl.get("label_for_charts"))) for lvl in levels]
        # a source that estimated some level of a comparison saw the others 0 times
        usable = [
            (values, weight)
            for values, weight in sources
            if weight > 0 and any(key in values for key in keys)
        ]
        if not usable:
            continue
        blended = [sum(v.get(key, 0.0) * w for v, w in usable) / sum(w for _, w in usable) for key in keys]
        free = [i for i, lvl in enumerate(levels) if not lvl.get("fix_m_probability")]
        total_free = sum(blended[i] for i in free)
        fixed = sum(float(lvl["m_probability"] or 0) for lvl in levels if lvl.get("fix_m_probability"))
        budget = 1.0 - fixed
        for i in free:
            share = blended[i] / total_free * budget if total_free > 0 else 0.0
            levels[i]["m_probability"] = share or None


def _without_m(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings with every configured m removed (fixed ones kept)."""
    out = json.loads(json.dumps(settings))
    for comparison in out["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("fix_m_probability"):
                level.pop("m_probability", None)
    return out


def _monotone(model: dict[str, Any]) -> None:
    """Agreement is never evidence against a match, disagreement never evidence for one.

    EM on a small or skewed city can learn otherwise: when nearly every enterprise is registered in
    one region, "different region" is rare among random pairs, and a few same-core pairs of different
    enterprises taken for matches make it look like a strong sign of one. Levels before the last
    (the ``else`` level) get weight >= 0, the last weight <= 0 (m clamped to u).
    """
    for _, group in itertools.groupby(list(_levels(model)), key=lambda x: x[0]):
        levels = [lvl for _, lvl in group]
        for k, level in enumerate(levels):
            m, u = level.get("m_probability"), level.get("u_probability")
            if m is None or u is None or level.get("fix_m_probability"):
                continue
            last = k == len(levels) - 1
            if (last and m > u) or (not last and m < u):
                level["m_probability"] = u


def _neutralise(model: dict[str, Any], neutral: Sequence[tuple[str, str]]) -> None:
    """A neutral level weighs 0: m = u."""
    wanted = set(neutral)
    for name, level in _levels(model):
        if (name, level.get("label_for_charts")) in wanted and level.get("u_probability") is not None:
            level["m_probability"] = level["u_probability"]
            level["fix_m_probability"] = True


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


def _candidates(
    best: pa.Table | pa.RecordBatchReader, model: Mapping[str, Any], label: str
) -> list[Candidate]:
    """Rows to Candidates, column-wise and a batch of rows at a time: per comparison one list of
    explanation entries, then zipped into rows (a per-row, per-comparison Python loop was the
    slowest part of score()). ``best`` may be a stream of batches, so that neither the whole result
    nor all its columns as Python lists are held at once."""
    # millions of small objects: the cyclic GC would rescan them over and over while they are built
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_candidates(best, model, label)
    finally:
        if gc_was_enabled:
            gc.enable()


_CANDIDATE_BATCH_ROWS = 16_384


def _build_candidates(
    best: pa.Table | pa.RecordBatchReader, model: Mapping[str, Any], label: str
) -> list[Candidate]:
    """Candidates share what repeats: one string per distinct mention or enterprise id, and one
    ``(comparison, level, weight)`` tuple per distinct entry (a level's weight is the same for every
    pair at that level; term-frequency weights repeat per value). A pair then costs its Candidate,
    two floats and its explanation list, not a dozen new tuples, floats and strings."""
    prior = model["probability_two_random_records_match"]
    prior_entry = ("prior", f"P(match) = {prior:.3g}", float(prior_to_weight(prior)))
    infos = _comparison_infos(model)
    ids: dict[str, str] = {}
    entries: dict[tuple[Any, ...], tuple[str, str, float]] = {}

    def entry(part: int, name: str, level: str, gamma: int, weight: float) -> tuple[str, str, float]:
        # -0.0 == 0.0 and nan != nan as dict keys: key those by their text, so an entry is shared
        # only with entries that print the same
        odd = weight is not None and (weight == 0.0 or math.isnan(weight))
        key = (part, gamma, repr(weight)) if odd else (part, gamma, weight)
        found = entries.get(key)
        if found is None:
            found = entries[key] = (name, level, weight)
        return found

    batches = best.to_batches(max_chunksize=_CANDIDATE_BATCH_ROWS) if isinstance(best, pa.Table) else best
    out: list[Candidate] = []
    for batch in batches:
        if batch.num_rows == 0:
            continue
        cols = {name: batch.column(name).to_pylist() for name in batch.schema.names}
        parts: list[list[tuple[str, str, float] | None]] = []
        for info in infos:
            gammas, labels, k = cols[info.gamma], info.labels, len(parts)
            parts.append(
                [entry(k, info.name, labels[g], g, w) for g, w in zip(gammas, cols[info.mw], strict=True)]
            )
            if info.tf_mw is not None:  # only where the level has a tf adjustment (an exact match)
                tf_name, tf_levels, k = f"{info.name} (tf)", info.tf_levels, len(parts)
                parts.append(
                    [
                        entry(k, tf_name, labels[g], g, w) if g in tf_levels else None
                        for g, w in zip(gammas, cols[info.tf_mw], strict=True)
                    ]
                )
        explanations = [[prior_entry, *(e for e in row if e is not None)] for row in zip(*parts, strict=True)]
        del parts
        out.extend(
            Candidate(ids.setdefault(m, m), ids.setdefault(e, e), w, p, x)
            for m, e, w, p, x in zip(
                cols["unique_id_l"],
                cols[f"{label}_r"],
                cols["match_weight"],
                cols["match_probability"],
                explanations,
                strict=True,
            )
        )
    return out


def prior_to_weight(prior: float) -> float:
    """The prior as Splink adds it to the match weight: log2(p / (1 - p))."""
    return float(prob_to_match_weight(prior))


def baseline(**engine: Any) -> MatchModel:
    """An untrained plain-Splink model (see :func:`baseline_settings`); train it like any other."""
    return MatchModel(baseline_settings(), **engine)
