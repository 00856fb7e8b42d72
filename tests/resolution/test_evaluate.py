"""Evaluation metrics on hand-worked examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from entgraph.errors import EntgraphError
from entgraph.resolution.evaluate import ambiguous_beside, evaluate, read_ambiguous, read_truth
from entgraph.resolution.export import LinkRow


def _link(row: int, enterprise: str, method: str) -> LinkRow:
    return LinkRow("f.csv", "Sheet1", row, "ds", enterprise, method, 0.99, "subject", f"r{row}")


def test_perfect_resolution_scores_one() -> None:
    truth = {("f.csv", "Sheet1", r, "subject"): t for r, t in [(2, "A"), (3, "A"), (4, "B")]}
    links = [_link(2, "E-a", "credit_code"), _link(3, "E-a", "splink"), _link(4, "P-b", "provisional")]
    result = evaluate(truth, links)
    assert (result.pairwise_precision, result.pairwise_recall) == (1.0, 1.0)
    assert (result.bcubed_precision, result.bcubed_recall) == (1.0, 1.0)
    assert result.codeless == 2


def test_pairs_between_coded_records_do_not_count() -> None:
    # A: rows 2,3 coded + row 4 code-less but left pending; B: row 5 code-less, wrongly linked to A's id.
    truth = {("f.csv", "Sheet1", r, "subject"): t for r, t in [(2, "A"), (3, "A"), (4, "A"), (5, "B")]}
    links = [
        _link(2, "E-a", "credit_code"),
        _link(3, "E-a", "credit_code"),
        _link(4, "", "awaiting_steward"),
        _link(5, "E-a", "splink"),
    ]
    result = evaluate(truth, links)
    # predicted pairs with a code-less member: E-a has {2,3,5}: C(3,2)-C(2,2) = 2, both false
    assert result.pairwise_precision == 0.0
    # true pairs with a code-less member: A {2,3,4}: 3-1 = 2, none found; B: 0
    assert result.pairwise_recall == 0.0
    assert result.steward_share == 0.5
    assert [m["row"] for m in result.false_merges] == [5]
    assert [m["row"] for m in result.misses] == [4]


def test_partial_credit() -> None:
    truth = {("f.csv", "Sheet1", r, "subject"): t for r, t in [(2, "A"), (3, "A"), (4, "A"), (5, "B")]}
    links = [
        _link(2, "E-a", "credit_code"),
        _link(3, "E-a", "splink"),
        _link(4, "P-x", "provisional"),
        _link(5, "P-y", "provisional"),
    ]
    result = evaluate(truth, links)
    # predicted: E-a {2,3} -> 1 pair (true); P-x, P-y singletons. true A {2,3,4}: 3 pairs -> recall 1/3
    assert result.pairwise_precision == 1.0
    assert result.pairwise_recall == pytest.approx(1 / 3)
    assert result.bcubed_recall == pytest.approx((2 / 3 + 1 / 3 + 1) / 3)


def test_truth_file_needs_its_columns(tmp_path: Path) -> None:
    bad = tmp_path / "t.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(EntgraphError, match="not a truth file"):
        read_truth(bad)
    good = tmp_path / "truth.csv"
    good.write_text(
        "file,sheet,row,dataset,enterprise_id,party\nf.csv,Sheet1,2,ds,A,subject\n", encoding="utf-8"
    )
    assert read_truth(good) == {("f.csv", "Sheet1", 2, "subject"): "A"}


def test_recall_against_what_can_be_resolved(tmp_path: Path) -> None:
    """ambiguous.csv beside truth.csv: ambiguous mentions leave the recall figures, not precision."""
    (tmp_path / "truth.csv").write_text(
        "file,sheet,row,dataset,enterprise_id,party\n"
        + "".join(f"f.csv,Sheet1,{r},ds,{t},subject\n" for r, t in [(2, "A"), (3, "A"), (4, "A")])
        + "".join(f"f.csv,Sheet1,{r},ds,{t},subject\n" for r, t in [(5, "B"), (6, "B"), (7, "B")]),
        encoding="utf-8",
    )
    truth_path = tmp_path / "truth.csv"
    assert ambiguous_beside(truth_path) is None  # no file: no figures
    (tmp_path / "ambiguous.csv").write_text(
        "file,sheet,row,party,reason\n"
        'f.csv,Sheet1,4,subject,"shared core, name only"\n'
        'f.csv,Sheet1,7,subject,"shared core, name only"\n',
        encoding="utf-8",
    )
    ambiguous = ambiguous_beside(truth_path)
    assert ambiguous == {("f.csv", "Sheet1", 4, "subject"), ("f.csv", "Sheet1", 7, "subject")}
    links = [
        _link(2, "E-a", "credit_code"),
        _link(3, "E-a", "splink"),
        _link(4, "", "awaiting_steward"),  # ambiguous
        _link(5, "P-b", "provisional"),
        _link(6, "", "awaiting_steward"),
        _link(7, "", "awaiting_steward"),  # ambiguous
    ]
    plain = evaluate(read_truth(truth_path), links)
    assert plain.ambiguous is None and plain.resolvable_pairwise_recall is None
    assert not any("ambiguous" in line for line in plain.lines())

    result = evaluate(read_truth(truth_path), links, ambiguous=ambiguous)
    # all mentions: true pairs A {2,3,4} 3, B {5,6,7} 3; found only (2,3) -> 1/6
    assert result.pairwise_recall == pytest.approx(1 / 6)
    # without 4 and 7: A {2,3} 1 pair, found; B {5,6} 1 pair, missed -> 1/2
    assert result.resolvable_pairwise_recall == pytest.approx(1 / 2)
    # B-cubed over the code-less rest (3, 5, 6): 2/2, 1/2, 1/2
    assert result.resolvable_bcubed_recall == pytest.approx((1 + 1 / 2 + 1 / 2) / 3)
    assert result.bcubed_recall == pytest.approx((2 / 3 + 1 / 3 + 1 / 3 + 1 / 3 + 1 / 3) / 5)  # unchanged
    assert (result.pairwise_precision, result.bcubed_precision) == (plain.pairwise_precision, 1.0)
    assert (result.codeless, result.ambiguous) == (5, 2)
    assert result.steward_share == pytest.approx(3 / 5)
    assert result.ambiguous_steward_share == 1.0
    assert result.resolvable_steward_share == pytest.approx(1 / 3)
    figures = result.as_dict()
    assert figures["ambiguous"] == 2 and figures["resolvable_pairwise_recall"] == pytest.approx(0.5)
    text = "\n".join(result.lines())
    assert "genuinely ambiguous: 2 of 5 code-less mentions (40.00%)" in text
    assert "without them: pairwise recall 0.5000  B-cubed recall 0.6667" in text
    assert "sent to stewards: 100.00% of the ambiguous, 33.33% of the rest" in text


def test_ambiguous_file_needs_its_columns(tmp_path: Path) -> None:
    bad = tmp_path / "ambiguous.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(EntgraphError, match="not an ambiguous-rows file"):
        read_ambiguous(bad)
