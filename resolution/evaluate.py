"""``entgraph evaluate --truth truth.csv``: how right is resolution, against known truth?

The truth file maps every generated row (file, sheet, row, party) to its true enterprise. Predicted
clusters are the canonical enterprises; a mention awaiting a steward is its own singleton (it is not
linked yet, so it counts against recall, never against precision).

Figures are for mentions **without a valid credit code** (those need matching; coded ones link by
rule), as the issue asks:

* pairwise precision / recall / F1 over pairs of mentions with at least one code-less member, so a
  code-less record linked to a big coded enterprise is credited for every pair it completes;
* B-cubed precision / recall averaged over code-less mentions;
* the share of code-less mentions sent to stewards;
* when an ``ambiguous.csv`` lies beside the truth file (the generator writes one: rows naming an
  enterprise by a core other enterprises share, with nothing that singles it out), how many code-less
  mentions are genuinely ambiguous, pairwise and B-cubed recall over the rest (precision is unchanged),
  and the share of each group sent to stewards: nobody can resolve an ambiguous mention, so recall is
  measured against what can be;
* the worst false merges (linked to the wrong enterprise) and misses (not linked to the right one),
  each with the match explanation where the matcher made the call.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from math import comb
from pathlib import Path
from typing import Any

from entgraph.errors import EntgraphError
from entgraph.resolution.export import LinkRow

CODED_METHODS = frozenset({"credit_code"})
AMBIGUOUS_FILE = "ambiguous.csv"  # beside truth.csv: (file, sheet, row, party) nobody can resolve
Key = tuple[str, str, int, str]


@dataclass(frozen=True, slots=True)
class EvalMention:
    key: tuple[str, str, int, str]  # file, sheet, row, party
    true_id: str
    predicted: str  # enterprise id, or "pending:<key>" for a singleton
    method: str
    probability: float | None
    coded: bool


@dataclass
class Evaluation:
    mentions: int
    codeless: int
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float
    steward_share: float
    methods: Counter = field(default_factory=Counter)
    false_merges: list[dict[str, Any]] = field(default_factory=list)
    misses: list[dict[str, Any]] = field(default_factory=list)
    unmatched_truth: int = 0
    not_enterprise_rows: int = 0
    calibration: list[dict[str, Any]] = field(default_factory=list)
    # with an ambiguous.csv (None without): code-less mentions that are genuinely ambiguous, recall over
    # the rest, and the share of each group sent to stewards
    ambiguous: int | None = None
    resolvable_pairwise_recall: float | None = None
    resolvable_bcubed_recall: float | None = None
    ambiguous_steward_share: float | None = None
    resolvable_steward_share: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, Counter) else v) for k, v in self.__dict__.items()}

    def lines(self) -> list[str]:
        out = [
            f"mentions evaluated: {self.mentions} ({self.codeless} without a valid credit code); "
            f"truth rows not found: {self.unmatched_truth}; "
            f"region/meter rows skipped: {self.not_enterprise_rows}",
            f"pairwise   precision {self.pairwise_precision:.4f}  recall {self.pairwise_recall:.4f}  "
            f"F1 {self.pairwise_f1:.4f}",
            f"B-cubed    precision {self.bcubed_precision:.4f}  recall {self.bcubed_recall:.4f}",
            f"sent to stewards: {self.steward_share:.2%} of code-less mentions",
            *self._ambiguity_lines(),
            "methods (code-less): " + ", ".join(f"{k} {v}" for k, v in self.methods.most_common()),
            "calibration (splink links): "
            + (
                ", ".join(
                    f"p {b['band']}: {b['links']} links, precision {b['precision']:.4f}"
                    for b in self.calibration
                )
                or "none"
            ),
        ]
        for title, rows in (("worst false merges", self.false_merges), ("worst misses", self.misses)):
            out.append(f"{title}:")
            for row in rows:
                out.append(
                    f"  {row['file']} row {row['row']} [{row['party']}] {row['name'] or ''!s} "
                    f"-> {row['predicted']} "
                    f"({row['method']}, p={row['probability']}) truth {row['true_id']}"
                )
                for step in row.get("explanation") or []:
                    out.append(f"      {step[0]:<14} {step[1]:<36} {float(step[2]):+.2f}")
        return out

    def _ambiguity_lines(self) -> list[str]:
        if self.ambiguous is None:
            return []
        share = self.ambiguous / self.codeless if self.codeless else 0.0
        return [
            f"genuinely ambiguous: {self.ambiguous} of {self.codeless} code-less mentions ({share:.2%}): a "
            "shared core written with nothing that singles the enterprise out",
            f"without them: pairwise recall {self.resolvable_pairwise_recall:.4f}  "
            f"B-cubed recall {self.resolvable_bcubed_recall:.4f}",
            f"sent to stewards: {self.ambiguous_steward_share:.2%} of the ambiguous, "
            f"{self.resolvable_steward_share:.2%} of the rest",
        ]


def read_truth(path: Path) -> dict[tuple[str, str, int, str], str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            needed = {"file", "sheet", "row", "enterprise_id"}
            if not reader.fieldnames or not needed <= set(reader.fieldnames):
                raise EntgraphError(f"{path} is not a truth file: it needs the columns {sorted(needed)}")
            return {
                (r["file"], r["sheet"], int(r["row"]), r.get("party") or "subject"): r["enterprise_id"]
                for r in reader
                if r["enterprise_id"]
            }
    except OSError as exc:
        raise EntgraphError(f"cannot read truth file {path}: {exc.strerror}") from None


def read_ambiguous(path: Path) -> set[Key]:
    """The (file, sheet, row, party) keys an ``ambiguous.csv`` lists."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            needed = {"file", "sheet", "row"}
            if not reader.fieldnames or not needed <= set(reader.fieldnames):
                raise EntgraphError(
                    f"{path} is not an ambiguous-rows file: it needs the columns {sorted(needed)}"
                )
            return {(r["file"], r["sheet"], int(r["row"]), r.get("party") or "subject") for r in reader}
    except OSError as exc:
        raise EntgraphError(f"cannot read ambiguous-rows file {path}: {exc.strerror}") from None


def ambiguous_beside(truth_path: Path) -> set[Key] | None:
    """The keys of the ``ambiguous.csv`` beside a truth file, None when there is none."""
    path = truth_path.parent / AMBIGUOUS_FILE
    return read_ambiguous(path) if path.is_file() else None


def evaluate(
    truth: Mapping[Key, str],
    links: Iterable[LinkRow],
    describe: Callable[[list[str]], Mapping[str, Mapping[str, Any]]] | None = None,
    worst: int = 5,
    ambiguous: Collection[Key] | None = None,
) -> Evaluation:
    """Score predicted links against truth. ``describe`` maps record ids to {name, explanation};
    ``ambiguous``, the keys nobody can resolve, adds recall over the rest (see ``ambiguous.csv``)."""
    mentions: list[EvalMention] = []
    record_of: dict[tuple, str] = {}
    seen = set()
    skipped = 0
    for link in links:
        key = (link.file, link.sheet, link.row, link.party or "subject")
        true_id = truth.get(key)
        if true_id is None:
            continue
        seen.add(key)
        if link.method == "not_an_enterprise":
            skipped += 1  # region and meter feeds: not enterprise mentions (meters attach via telemetry)
            continue
        predicted = link.enterprise_id or f"pending:{key}"
        mentions.append(
            EvalMention(key, true_id, predicted, link.method, link.probability, link.method in CODED_METHODS)
        )
        record_of[key] = link.record_id
    codeless = [m for m in mentions if not m.coded]
    pp, pr, pf = _pairwise(mentions)
    bp, br = _bcubed(mentions)
    evaluation = Evaluation(
        mentions=len(mentions),
        codeless=len(codeless),
        pairwise_precision=pp,
        pairwise_recall=pr,
        pairwise_f1=pf,
        bcubed_precision=bp,
        bcubed_recall=br,
        steward_share=_steward_share(codeless),
        methods=Counter(m.method for m in codeless),
        unmatched_truth=len(set(truth) - seen),
        not_enterprise_rows=skipped,
    )
    if ambiguous is not None:
        _score_resolvable(evaluation, mentions, ambiguous)
    evaluation.calibration = calibration(mentions)
    false_merges, misses = _worst(mentions, worst)
    ids = [record_of[m.key] for m in (*false_merges, *misses)]
    details = describe(ids) if describe and ids else {}
    evaluation.false_merges = [_report(m, record_of, details) for m in false_merges]
    evaluation.misses = [_report(m, record_of, details) for m in misses]
    return evaluation


def _score_resolvable(
    evaluation: Evaluation, mentions: list[EvalMention], ambiguous: Collection[Key]
) -> None:
    """Recall over the mentions that are not genuinely ambiguous, and stewards' share of each group."""
    rest = [m for m in mentions if m.key not in ambiguous]
    unresolvable = [m for m in mentions if not m.coded and m.key in ambiguous]
    resolvable = [m for m in rest if not m.coded]
    evaluation.ambiguous = len(unresolvable)
    evaluation.resolvable_pairwise_recall = _pairwise(rest)[1]
    evaluation.resolvable_bcubed_recall = _bcubed(rest)[1]
    evaluation.ambiguous_steward_share = _steward_share(unresolvable)
    evaluation.resolvable_steward_share = _steward_share(resolvable)


def _steward_share(mentions: list[EvalMention]) -> float:
    return sum(m.method == "awaiting_steward" for m in mentions) / len(mentions) if mentions else 0.0


CALIBRATION_BANDS = ((0.0, 0.95), (0.95, 0.99), (0.99, 0.999), (0.999, 1.01))


def calibration(mentions: list[EvalMention]) -> list[dict[str, Any]]:
    """Predicted probability against observed precision, per band, for probabilistic links.

    A link is right when its enterprise is the true enterprise's: the one most of the enterprise's
    mentions truly name (its coded mentions decide, the rest when it has none)."""
    votes: dict[str, Counter] = defaultdict(Counter)
    for m in mentions:
        votes[m.predicted][m.true_id] += 10 if m.coded else 1
    owner = {eid: counts.most_common(1)[0][0] for eid, counts in votes.items()}
    out = []
    for low, high in CALIBRATION_BANDS:
        linked = [m for m in mentions if m.method == "splink" and low <= (m.probability or 0) < high]
        if linked:
            right = sum(owner[m.predicted] == m.true_id for m in linked)
            label = f"{low:g}-{min(high, 1):g}"
            out.append({"band": label, "links": len(linked), "precision": right / len(linked)})
    return out


def _pairs(counts_all: Mapping[Any, int], counts_coded: Mapping[Any, int]) -> int:
    """Pairs inside each group that have at least one code-less member."""
    return sum(comb(n, 2) - comb(counts_coded.get(g, 0), 2) for g, n in counts_all.items())


def _pairwise(mentions: list[EvalMention]) -> tuple[float, float, float]:
    def counts(key) -> tuple[Counter, Counter]:
        return Counter(key(m) for m in mentions), Counter(key(m) for m in mentions if m.coded)

    tp = _pairs(*counts(lambda m: (m.predicted, m.true_id)))
    predicted = _pairs(*counts(lambda m: m.predicted))
    actual = _pairs(*counts(lambda m: m.true_id))
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _bcubed(mentions: list[EvalMention]) -> tuple[float, float]:
    both = Counter((m.predicted, m.true_id) for m in mentions)
    pred = Counter(m.predicted for m in mentions)
    true = Counter(m.true_id for m in mentions)
    codeless = [m for m in mentions if not m.coded]
    if not codeless:
        return 1.0, 1.0
    precision = sum(both[(m.predicted, m.true_id)] / pred[m.predicted] for m in codeless) / len(codeless)
    recall = sum(both[(m.predicted, m.true_id)] / true[m.true_id] for m in codeless) / len(codeless)
    return precision, recall


def _worst(mentions: list[EvalMention], worst: int) -> tuple[list[EvalMention], list[EvalMention]]:
    """False merges: code-less mentions linked where most of the cluster is another enterprise.
    Misses: code-less mentions not in the cluster holding most of their enterprise's mentions."""
    by_pred: dict[str, Counter] = defaultdict(Counter)
    by_true: dict[str, Counter] = defaultdict(Counter)
    for m in mentions:
        by_pred[m.predicted][m.true_id] += 1
        by_true[m.true_id][m.predicted] += 1
    majority_true = {pred: counter.most_common(1)[0][0] for pred, counter in by_pred.items()}
    home = {true: counter.most_common(1)[0][0] for true, counter in by_true.items()}
    false_merges, misses = [], []
    for m in mentions:
        if m.coded:
            continue
        if not m.predicted.startswith("pending:") and majority_true[m.predicted] != m.true_id:
            false_merges.append(m)
        elif m.predicted != home[m.true_id]:
            misses.append(m)
    false_merges.sort(key=lambda m: -(m.probability or 0))
    misses.sort(key=lambda m: m.method)
    return false_merges[:worst], misses[:worst]


def _report(m: EvalMention, record_of: Mapping[tuple, str], details: Mapping[str, Mapping[str, Any]]):
    info = details.get(record_of.get(m.key, ""), {})
    party = m.key[3]
    explanation = (info.get("explanations") or {}).get(party)
    if isinstance(explanation, str):
        explanation = json.loads(explanation)
    return {
        "file": m.key[0],
        "row": m.key[2],
        "party": m.key[3],
        "name": (info.get("names") or {}).get(party),
        "predicted": m.predicted if not m.predicted.startswith("pending:") else "(awaiting steward)",
        "method": m.method,
        "probability": None if m.probability is None else round(m.probability, 4),
        "true_id": m.true_id,
        "explanation": explanation,
    }
