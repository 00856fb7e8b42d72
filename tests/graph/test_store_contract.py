"""The GraphStore contract, run against every adapter: the embedded FalkorDB and a real Neo4j."""

from __future__ import annotations

import pytest

from entgraph.graph import (
    ConstraintViolation,
    FullTextIndex,
    GraphSchema,
    GraphStore,
    PropertyIndex,
    QueryError,
    UniqueKey,
)
from entgraph.graph.search_text import search_tokens

THING_SCHEMA = GraphSchema(
    unique=(UniqueKey("Thing", "key"),),
    indexes=(PropertyIndex("Thing", "group"),),
    fulltext=(FullTextIndex("Thing", ("name_tokens",)),),
)
MERGE_THINGS = "UNWIND $rows AS row MERGE (t:Thing {key: row.key}) SET t.name = row.name, t.n = row.n"


def count(store: GraphStore, label: str = "Thing") -> int:
    return store.read(f"MATCH (n:{label}) RETURN count(n) AS c")[0]["c"]


def test_unique_constraint_rejects_a_duplicate(store: GraphStore) -> None:
    store.ensure_schema(THING_SCHEMA)
    store.write("CREATE (:Thing {key: 'k1'})")
    with pytest.raises(ConstraintViolation):
        store.write("CREATE (:Thing {key: 'k1'})")
    assert count(store) == 1


def test_schema_bootstrap_is_idempotent(store: GraphStore) -> None:
    store.ensure_schema(THING_SCHEMA)
    store.ensure_schema(THING_SCHEMA)
    store.write("CREATE (:Thing {key: 'k1'})")
    with pytest.raises(ConstraintViolation):
        store.write("CREATE (:Thing {key: 'k1'})")


def test_constraint_on_duplicated_data_is_refused(store: GraphStore) -> None:
    store.write("CREATE (:Thing {key: 'dup'}), (:Thing {key: 'dup'})")
    with pytest.raises(ConstraintViolation):
        store.ensure_schema(GraphSchema(unique=(UniqueKey("Thing", "key"),)))


def test_batched_merge_is_idempotent_and_updates(store: GraphStore) -> None:
    store.ensure_schema(THING_SCHEMA)
    rows = [{"key": f"k{i}", "name": f"企业{i}", "n": i} for i in range(2500)]
    assert store.write_batches(MERGE_THINGS, rows, batch_size=1000) == 2500
    assert store.write_batches(MERGE_THINGS, iter(rows), batch_size=700) == 2500
    assert count(store) == 2500
    changed = [{"key": "k7", "name": "改名企业", "n": -7}]
    store.write_batches(MERGE_THINGS, changed)
    assert store.read("MATCH (t:Thing {key: 'k7'}) RETURN t.name AS name, t.n AS n") == [
        {"name": "改名企业", "n": -7}
    ]
    assert count(store) == 2500


def test_batched_write_streams_a_generator_in_batches(store: GraphStore) -> None:
    produced = []

    def rows():
        for i in range(25):
            produced.append(i)
            yield {"key": f"g{i}", "name": "x", "n": i}

    assert store.write_batches(MERGE_THINGS, rows(), batch_size=10) == 25
    assert produced == list(range(25))
    assert count(store) == 25


def test_batched_write_requires_rows_parameter(store: GraphStore) -> None:
    with pytest.raises(QueryError):
        store.write_batches("UNWIND $items AS row CREATE (:Thing)", [{"a": 1}])


TRICKY_TEXT = [
    "晋江市恒安纸业有限公司",
    "（晋江）恒安纸业有限公司",  # full-width brackets
    "ＡＢＣ１２３　全角",  # full-width letters, digits and space
    "引号 \"double\" and 'single'",
    "反斜杠 \\ 和 \\\\ 和 \\n",
    "换行\n制表\t回车\r",
    "表情 🏭 与扩展字 𠀀𪚥",
    "MATCH (n) DETACH DELETE n // 注入",
    "",
]


def test_chinese_and_tricky_text_round_trips(store: GraphStore) -> None:
    rows = [{"key": f"t{i}", "name": text, "n": i} for i, text in enumerate(TRICKY_TEXT)]
    store.write_batches(MERGE_THINGS, rows)
    got = store.read("MATCH (t:Thing) RETURN t.n AS n, t.name AS name ORDER BY t.n")
    assert [r["name"] for r in got] == TRICKY_TEXT
    for text in TRICKY_TEXT:
        found = store.read("MATCH (t:Thing) WHERE t.name = $name RETURN count(t) AS c", {"name": text})
        assert found == [{"c": 1}], text
    assert count(store) == len(TRICKY_TEXT)


def test_scalar_list_and_map_parameters_round_trip(store: GraphStore) -> None:
    value = {"i": -42, "f": 3.25, "t": True, "no": False, "none": None, "list": [1, "二", 3.5], "s": "三"}
    assert store.read("RETURN $v AS v", {"v": value}) == [{"v": value}]
    # A stored list holds one type (Neo4j refuses a mixed one; the port's rule for both stores).
    stored = {**value, "words": ["一", "二"], "numbers": [1, 2, 3]}
    store.write(
        "CREATE (t:Thing {key: 'p', i: $v.i, f: $v.f, t: $v.t, words: $v.words, numbers: $v.numbers})",
        {"v": stored},
    )
    assert store.read(
        "MATCH (t:Thing {key: 'p'}) RETURN t.i AS i, t.f AS f, t.t AS t, t.words AS w, t.numbers AS n"
    ) == [{"i": -42, "f": 3.25, "t": True, "w": ["一", "二"], "n": [1, 2, 3]}]


def test_nodes_come_back_as_plain_property_maps(store: GraphStore) -> None:
    store.write("CREATE (:Thing {key: 'n1', name: '节点'})")
    [row] = store.read("MATCH (t:Thing) RETURN t")
    assert row == {"t": {"key": "n1", "name": "节点"}}


def test_fulltext_finds_abbreviated_chinese_names(store: GraphStore) -> None:
    store.ensure_schema(THING_SCHEMA)
    names = ["晋江市恒安纸业有限公司", "福建晋江安踏体育用品有限公司", "泉州市恒安卫生材料有限公司"]
    store.write_batches(
        "UNWIND $rows AS row MERGE (t:Thing {key: row.key}) "
        "SET t.name = row.name, t.name_tokens = row.tokens",
        [{"key": n, "name": n, "tokens": search_tokens(n)} for n in names],
    )
    hits = store.fulltext_search("Thing", "恒安纸业")
    assert hits[0].properties["name"] == "晋江市恒安纸业有限公司"
    assert {h.properties["name"] for h in hits} == {names[0], names[2]}
    assert [h.properties["name"] for h in store.fulltext_search("Thing", "安踏体育", limit=1)] == [names[1]]
    assert store.fulltext_search("Thing", "！？") == []


def test_bad_statement_is_a_query_error(store: GraphStore) -> None:
    with pytest.raises(QueryError):
        store.read("MATCH (n RETURN n")


def test_health_reports_the_node_count(store: GraphStore) -> None:
    store.write("CREATE (:Thing {key: 'h1'}), (:Thing {key: 'h2'})")
    health = store.health()
    assert health.ok
    assert health.facts["nodes"] >= 2


def test_a_write_is_visible_to_a_new_connection(store: GraphStore, reopen) -> None:
    store.write("MERGE (t:Thing {key: 'durable'}) SET t.name = '写入后重连'")
    other = reopen()
    try:
        assert other.read("MATCH (t:Thing {key: 'durable'}) RETURN t.name AS n") == [{"n": "写入后重连"}]
    finally:
        other.close()


def test_read_many_answers_each_statement_in_order(store: GraphStore) -> None:
    store.write("UNWIND range(1, 5) AS n CREATE (:Many {n: n, name: '名' + toString(n)})")
    answers = store.read_many(
        [
            ("MATCH (m:Many) WHERE m.n <= $top RETURN m.n AS n ORDER BY n", {"top": 2}),
            ("MATCH (m:Many) RETURN count(m) AS c", None),
            ("MATCH (m:Many) WHERE m.name IN $names RETURN m.n AS n", {"names": ["名4", "x"]}),
            ("MATCH (m:Many) WHERE m.n > 99 RETURN m.n AS n", None),
        ]
    )
    assert answers == [[{"n": 1}, {"n": 2}], [{"c": 5}], [{"n": 4}], []]
    # a statement the store refuses is raised as read() raises it
    with pytest.raises(QueryError):
        store.read_many([("MATCH (m:Many) RETURN m.n AS n", None), ("THIS IS NOT CYPHER", None)])
