"""schema.graphql is the contract clients read; it must be exactly what the code serves."""

from pathlib import Path

from entgraph.api.schema import schema_sdl

REPO = Path(__file__).resolve().parents[2]


def test_schema_graphql_matches_the_code() -> None:
    committed = (REPO / "schema.graphql").read_text(encoding="utf-8")
    assert committed == schema_sdl(), "schema.graphql drifted: run `entgraph export-schema`"


def test_the_demos_example_queries_are_valid_queries_of_the_schema() -> None:
    from graphql import build_schema, parse, validate

    from entgraph.demo import EXAMPLE_QUERIES, STEWARD_QUERY

    schema = build_schema(schema_sdl())
    for query in (*EXAMPLE_QUERIES, STEWARD_QUERY):
        assert validate(schema, parse(query)) == [], query
