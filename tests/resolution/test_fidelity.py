"""Per-dataset name fidelity: what an exact full name is worth against a same-core rival."""

from __future__ import annotations

from pathlib import Path

from entgraph.resolution.fidelity import MIN_OBSERVED, NameFidelity


def test_unknown_or_rarely_seen_datasets_earn_nothing() -> None:
    fidelity = NameFidelity()
    assert fidelity.full_name_bits("jj_key_enterprise_electricity") == 0.0
    fidelity.learn([("tax", True)] * (MIN_OBSERVED - 1))
    assert fidelity.rate("tax") is None and fidelity.full_name_bits("tax") == 0.0


def test_a_faithful_register_earns_more_than_a_careless_one() -> None:
    fidelity = NameFidelity()
    fidelity.learn([("tax", True)] * 190 + [("tax", False)] * 10)
    fidelity.learn([("power", True)] * 50 + [("power", False)] * 50)
    assert fidelity.rate("tax") > 0.9
    assert fidelity.full_name_bits("tax") > 5.5  # ~ log2(0.95 / (0.05 / 3))
    assert 0 < fidelity.full_name_bits("power") < 2  # a coin flip: barely better than a rewrite


def test_a_rerun_counts_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "name-fidelity.json"
    run = [("tax", True)] * 40 + [("tax", False)] * 10
    first = NameFidelity.load(path)
    first.learn(run)
    first.save(path)
    again = NameFidelity.load(path)
    again.learn(run)  # the same records, resolved again after a crash
    assert again.counts == first.counts == {"tax": (40, 50)}
