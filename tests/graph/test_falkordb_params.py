"""Parameters written into FalkorDB statements: the same text the client writes, encoded once per list."""

from __future__ import annotations

from falkordb.graph import Graph

from entgraph.graph import falkordb_params
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.port import FrozenParam


def _client_header(params: dict) -> str:
    return Graph._build_params_header(object.__new__(Graph), params)  # the client's, unconnected


def test_the_header_is_the_clients_own() -> None:
    quoted = [f'na"me\\{n}' for n in range(20)]
    params = {
        "id": "E-1", "n": 3, "x": 1.5, "flag": True, "none": None, "ids": quoted, "short": ["a", "b"],
        "rows": [{"id": "a", "props": {"k": [1, 2]}}], "frozen": FrozenParam([{"dataset": "d", "v": "x"}]),
    }  # fmt: skip
    assert falkordb_params.header(params) == _client_header({**params, "frozen": list(params["frozen"])})


def test_lists_are_encoded_once() -> None:
    values = [f"d{n}" for n in range(30)]
    falkordb_params._strings.cache_clear()
    falkordb_params.encoded(values)
    falkordb_params.encoded(list(values))
    assert falkordb_params._strings.cache_info().hits == 1
    frozen = FrozenParam([{"a": 1}])
    first = falkordb_params.encoded(frozen)
    assert falkordb_params.encoded(frozen) is first


def test_statements_with_parameters_run(falkordb_graph: FalkorDBStore) -> None:
    names = [f'公司"{n}' for n in range(12)]
    falkordb_graph.write("UNWIND $names AS n CREATE (:P {name: n})", {"names": names})
    rows = falkordb_graph.read(
        "MATCH (p:P) WHERE p.name IN $names RETURN p.name AS n ORDER BY n", {"names": names}
    )
    assert [r["n"] for r in rows] == sorted(names)
