"""Evaluation metrics on hand-worked examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from entgraph.errors import EntgraphError
from entgraph.resolution.evaluate import evaluate, read_truth
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
