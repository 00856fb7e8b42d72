"""``entgraph resolve --engine spark`` against DuckDB on the same city: the same model and bands give the
same links (method and probability), the same steward tasks and the same enterprises."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import graph_env
from entgraph.cli import app
from entgraph.graph.port import GraphStore
from entgraph.loaders.engine import Loader
from entgraph.resolution.resolver import Resolver
from entgraph.synthetic import generate_city

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # register-only: no feed but the market regulator's carries codes, so most records go to Splink
    out = tmp_path_factory.mktemp("spark-city")
    generate_city(200, 17, out, formats="csv", profile="register-only")
    return out


def _loaded(store: GraphStore, city: Path, catalog: Catalog, reports: Path) -> GraphStore:
    loader = Loader(store, catalog, reports)
    for path in sorted(p for p in city.iterdir() if p.is_file() and p.suffix == ".csv"):
        loader.load(path)
    return store


@pytest.fixture
def two_graphs(new_graph: Callable[[str], GraphStore]) -> Iterator[tuple[GraphStore, GraphStore]]:
    graphs = (new_graph("on-duckdb"), new_graph("on-spark"))
    yield graphs
    for graph in graphs:
        graph.clear()
        graph.close()


def _outcome(store: GraphStore) -> dict[str, Any]:
    links = store.read(
        "MATCH (r:SourceRecord)-[a:ABOUT]->(e:Enterprise) "
        "RETURN r.id AS r, a.party AS p, e.id AS e, a.method AS m, a.probability AS pr"
    )
    tasks = store.read("MATCH (t:StewardTask) RETURN t.key AS key, t.status AS status, t.candidates AS c")
    enterprises = store.read("MATCH (e:Enterprise) RETURN e.id AS id, e.name AS name")
    return {
        "links": {
            (row["r"], row["p"]): (row["e"], row["m"], None if row["pr"] is None else round(row["pr"], 9))
            for row in links
        },
        "tasks": {row["key"]: (row["status"], row["c"]) for row in tasks},
        "enterprises": {row["id"]: row["name"] for row in enterprises},
    }


def test_spark_resolves_the_city_exactly_as_duckdb(
    two_graphs: tuple[GraphStore, GraphStore], city: Path, catalog: Catalog, tmp_path: Path
) -> None:
    on_duckdb, on_spark = two_graphs
    model = tmp_path / "duckdb" / "model.json"
    _loaded(on_duckdb, city, catalog, tmp_path / "reports-a")
    summary = Resolver(on_duckdb, catalog, model).run()
    assert summary.trained and summary.methods.get("splink", 0) > 20, summary.line()

    # the Spark run reuses the model DuckDB trained, as a province would score with the city's model
    home = tmp_path / "spark-home"
    (home / "resolution").mkdir(parents=True)
    shutil.copy(model, home / "resolution" / "model.json")
    _loaded(on_spark, city, catalog, tmp_path / "reports-b")
    env = {"ENTGRAPH_HOME": str(home), **graph_env(on_spark)}
    done = CliRunner().invoke(app, ["resolve", "--engine", "spark"], env=env)
    assert done.exit_code == 0, done.output
    assert "matcher reused" in done.output
    assert not (home / "spark").exists() or not any((home / "spark").iterdir()), "the Spark run cleans up"

    duck, spark = _outcome(on_duckdb), _outcome(on_spark)
    assert spark["enterprises"] == duck["enterprises"]
    assert spark["tasks"] == duck["tasks"]
    assert spark["links"] == duck["links"]
    assert sum(1 for _, method, _ in spark["links"].values() if method == "splink") > 20


def test_an_unknown_engine_is_refused(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["resolve", "--engine", "sparkle"], env={"ENTGRAPH_HOME": str(tmp_path)})
    assert done.exit_code == 2
    assert "choose duckdb or spark" in done.output
