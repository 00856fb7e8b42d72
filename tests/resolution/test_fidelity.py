"""Per-dataset name fidelity: what a written region or legal form is worth against a same-core rival."""

from __future__ import annotations

from pathlib import Path

from entgraph.resolution.fidelity import MIN_OBSERVED, PRIORS, NameFidelity


def _separation(fidelity: NameFidelity, dataset: str, part: str) -> float:
    """Bits by which agreeing on the part beats differing from it."""
    return fidelity.bits(dataset, part, True) - fidelity.bits(dataset, part, False)


def test_unseen_datasets_start_from_the_priors() -> None:
    fidelity = NameFidelity()
    assert fidelity.rate("power", "region") == PRIORS["region"][0]
    # a replaced region rarely lands on a rival's, a swapped legal form often does
    assert _separation(fidelity, "power", "region") > 6 > _separation(fidelity, "power", "legal_form") > 2


def test_a_department_that_swaps_legal_forms_tells_nothing_by_writing_one() -> None:
    fidelity = NameFidelity()
    fidelity.learn([("tax", "legal_form", True)] * 190 + [("tax", "legal_form", False)] * 10)
    fidelity.learn([("power", "legal_form", True)] * 50 + [("power", "legal_form", False)] * 50)
    assert fidelity.rate("tax", "legal_form") > 0.9
    assert _separation(fidelity, "tax", "legal_form") > 4
    assert _separation(fidelity, "power", "legal_form") < 1.5
    fidelity.learn([("power", "legal_form", True)] * (MIN_OBSERVED - 1))  # too few to replace what is known
    assert fidelity.counts["power"]["legal_form"] == (50, 100)


def test_a_rerun_counts_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "name-fidelity.json"
    run = [("tax", "region", True)] * 40 + [("tax", "region", False)] * 10
    first = NameFidelity.load(path)
    first.learn(run)
    first.save(path)
    again = NameFidelity.load(path)
    again.learn(run)  # the same records, resolved again after a crash
    assert again.counts == first.counts == {"tax": {"region": (40, 50)}}
