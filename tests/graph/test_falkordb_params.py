"""Query parameters reach FalkorDB exactly as given: the client writes them into the query text (a
``CYPHER name=value`` header), so quoting and escaping are the adapter's contract to keep."""

from __future__ import annotations

from typing import Any

import pytest

from entgraph.graph.falkordb_store import FalkorDBStore

TRICKY: list[Any] = [
    "晋江市安踏（中国）有限公司",
    'a "quoted" name',
    'back\\slash \\" and \\n literally',
    "line\nbreak\ttab",
    "",
    "`backtick`",
    "$param {brace} 'single'",
    0,
    -7,
    2**53 + 1,
    1.5,
    -0.25,
    1e-7,
    1e22,
    True,
    False,
    None,
    [1, "two", None, [3.0, {"k": "v"}]],
    {"nested": {"list": ["x", 1], "flag": False}, "name": "甲"},
    [],
    {},
]


@pytest.mark.parametrize("value", TRICKY, ids=range(len(TRICKY)))
def test_a_parameter_reaches_the_server_unchanged(falkordb_graph: FalkorDBStore, value: Any) -> None:
    assert falkordb_graph.read("RETURN $v AS v", {"v": value}) == [{"v": value}]


def test_written_values_read_back_unchanged(falkordb_graph: FalkorDBStore) -> None:
    rows = [{"id": f"r{i}", "props": {"text": v}} for i, v in enumerate(TRICKY) if isinstance(v, str)]
    falkordb_graph.write("UNWIND $rows AS row CREATE (n:T {id: row.id}) SET n += row.props", {"rows": rows})
    back = falkordb_graph.read("MATCH (n:T) RETURN n.id AS id, n.text AS text ORDER BY id")
    assert {r["id"]: r["text"] for r in back} == {r["id"]: r["props"]["text"] for r in rows}
