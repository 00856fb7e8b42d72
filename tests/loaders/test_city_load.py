"""Issue 3's finish line, at small scale: a generated city loads whole, every planted bad row is
reported to the clerk, and loading it all again changes nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest

from entgraph.catalog.registry import Catalog
from entgraph.graph.port import GraphStore
from entgraph.loaders.engine import Loader
from entgraph.synthetic import generate_city

pytestmark = pytest.mark.stores


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(300, seed=7, out_dir=out)
    return out


@pytest.fixture
def store(fresh_graph: GraphStore) -> GraphStore:
    return fresh_graph


def reported_rows(report: Path) -> set[tuple[str, int]]:
    book = openpyxl.load_workbook(report, read_only=True)
    return {(row[0], row[1]) for row in book["问题 Issues"].iter_rows(min_row=2, values_only=True) if row[1]}


@pytest.mark.slow
def test_a_generated_city_loads_whole_reports_bad_rows_and_reloads_unchanged(
    city: Path, store: GraphStore, tmp_path: Path
) -> None:
    loader = Loader(store, Catalog.load(), tmp_path / "reports")
    files = sorted(p for p in city.iterdir() if p.is_file())
    assert len(files) == 85  # the seeds' 84 feeds and the town boundaries (catalog/platform)

    first = {path.name: loader.load(path) for path in files}  # no file is refused: no exception
    assert all(r.rows_read > 0 for r in first.values())
    assert {r.dataset for r in first.values()} == {s.key for s in Catalog.load().specs}

    with (city / "truth" / "bad_rows.csv").open(encoding="utf-8") as f:
        planted = list(csv.DictReader(f))
    assert planted
    reports = {name: reported_rows(r.report_path) for name, r in first.items()}
    missed = [b for b in planted if (b["sheet"], int(b["row"])) not in reports[b["file"]]]
    assert missed == []

    second = {path.name: loader.load(path) for path in files}
    for name, result in second.items():
        before = first[name]
        assert (result.new, result.updated, result.retired) == (0, 0, 0), name
        assert result.unchanged == before.new + before.updated, name
        assert result.rejected == before.rejected, name
