"""Per-dataset name fidelity: what a written (or unwritten) region or legal form is worth against a
same-core rival."""

from __future__ import annotations

from pathlib import Path

from entgraph.resolution.fidelity import KEEP_PRIORS, MIN_OBSERVED, NameFidelity, observations


def _separation(fidelity: NameFidelity, dataset: str, part: str) -> float:
    """Bits by which a part written as registered beats one written as a rival's."""
    return fidelity.bits(dataset, part, "A", "A") - fidelity.bits(dataset, part, "A", "B")


def _seen(dataset: str, part: str, **outcomes: int) -> list[tuple[str, str, str]]:
    return [(dataset, part, what) for what, n in outcomes.items() for _ in range(n)]


def test_unseen_datasets_start_from_the_priors() -> None:
    fidelity = NameFidelity()
    assert fidelity.rate("power", "region") == KEEP_PRIORS["region"][0]
    # a replaced region rarely lands on a rival's, a swapped legal form often does
    assert _separation(fidelity, "power", "region") > 6.64 > _separation(fidelity, "power", "legal_form") > 2


def test_a_department_that_swaps_legal_forms_tells_nothing_by_writing_one() -> None:
    fidelity = NameFidelity()
    fidelity.learn(_seen("tax", "legal_form", kept=190, replaced=10))
    fidelity.learn(_seen("power", "legal_form", kept=50, replaced=50))
    assert fidelity.rate("tax", "legal_form") > 0.9
    assert _separation(fidelity, "tax", "legal_form") > 4
    assert _separation(fidelity, "power", "legal_form") < 1.5
    fidelity.learn(_seen("power", "legal_form", kept=MIN_OBSERVED - 1))  # too few to replace what is known
    assert fidelity.counts["power"]["legal_form"]["replaced"] == 50


def test_a_department_that_never_adds_a_region_points_away_from_a_name_registered_without_one() -> None:
    """福建省远豪织造 written by a department that keeps regions and never invents one: the enterprise
    registered as 福建远豪织造有限公司, not the one registered as 远豪织造有限公司."""
    fidelity = NameFidelity()
    fidelity.learn(_seen("social", "region", kept=300, dropped=100, none=200))
    with_region = fidelity.bits("social", "region", "福建", "福建")
    without = fidelity.bits("social", "region", "福建", None)
    assert with_region - without > 6.64
    # a department known to add regions makes the same written name far weaker evidence
    fidelity.learn(_seen("power", "region", kept=300, dropped=100, none=100, added=100))
    power = fidelity.bits("power", "region", "福建", "福建") - fidelity.bits("power", "region", "福建", None)
    assert power < 3
    # writing none favours the enterprise registered without one as much as the department drops them
    assert fidelity.bits("social", "region", None, None) > fidelity.bits("social", "region", None, "福建")


def test_what_a_mention_did_with_each_part() -> None:
    assert observations("tax", ("晋江", None), ("晋江", "有限公司")) == [
        ("tax", "region", "kept"),
        ("tax", "legal_form", "dropped"),
    ]
    assert observations("tax", ("福建", "股份有限公司"), (None, "有限公司")) == [
        ("tax", "region", "added"),
        ("tax", "legal_form", "replaced"),
    ]


def test_a_rerun_counts_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "name-fidelity.json"
    run = _seen("tax", "region", kept=40, replaced=10)
    first = NameFidelity.load(path)
    first.learn(run)
    first.save(path)
    again = NameFidelity.load(path)
    again.learn(run)  # the same records, resolved again after a crash
    assert again.counts == first.counts
    assert again.counts["tax"]["region"] == {"dropped": 0, "kept": 40, "replaced": 10, "none": 0, "added": 0}


def test_a_file_of_the_older_shape_is_learned_afresh(tmp_path: Path) -> None:
    path = tmp_path / "name-fidelity.json"
    path.write_text('{"tax": {"region": [40, 50]}}', encoding="utf-8")
    assert NameFidelity.load(path).counts == {}
